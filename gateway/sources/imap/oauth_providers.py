"""Where IMAP access tokens come from: Microsoft Entra ID (msal), Google (google-auth), any OAuth2 endpoint.

Each provider returns a new access token and its lifetime; the caching and the timing are
TokenSource's (gateway/imap_oauth.py), by the gateway's clock. Errors say what the endpoint
answered (``error``, ``error_description``), never what was sent to it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from gateway.clock import Clock
from gateway.config.imap_oauth import OAuth2Settings
from gateway.sources.imap.oauth import Provider, TokenError, TokenSource

# These libraries log requests and responses at DEBUG; `helpdesk -v` must not show tokens.
for _name in ("msal", "google.auth", "google.oauth2", "urllib3", "requests"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def _endpoint_error(body: bytes, status: int | str) -> str:
    """``error: description`` from an OAuth2 error response (RFC 6749 5.2), or the HTTP status."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("error"):
        description = str(data.get("error_description") or "").strip().splitlines()
        return f"{data['error']}: {description[0][:200]}" if description else str(data["error"])
    return f"HTTP {status}"


class Generic:
    """A plain OAuth2 token endpoint (RFC 6749): the refresh_token grant when a refresh token is
    configured, else client_credentials. A rotated refresh token is kept for the next request."""

    name = "the token endpoint"

    def __init__(self, settings: OAuth2Settings, timeout: float) -> None:
        self.settings, self.timeout = settings, timeout
        self._refresh_token = settings.refresh_token

    def fetch(self) -> tuple[str, float | None]:
        s = self.settings
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token} if self._refresh_token \
            else {"grant_type": "client_credentials"}
        form["client_id"] = s.client_id
        if s.client_secret:
            form["client_secret"] = s.client_secret  # RFC 6749 2.3.1: in the body, for any server
        if s.scope:
            form["scope"] = s.scope
        request = urllib.request.Request(s.token_url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded",
                                                  "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise TokenError(f"{s.token_url} refused: {_endpoint_error(exc.read(), exc.code)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise TokenError(f"{s.token_url} unreachable: {reason}") from None
        try:
            data = json.loads(body)
            token = str(data["access_token"])
        except (ValueError, KeyError, TypeError):
            raise TokenError(f"{s.token_url} answered without an access token") from None
        if data.get("refresh_token"):
            self._refresh_token = str(data["refresh_token"])
        return token, _seconds(data.get("expires_in"))

    def forget(self) -> None:
        pass


class Microsoft:
    """Exchange Online by the client-credentials flow: msal's ConfidentialClientApplication with a
    client secret or a certificate, scope https://outlook.office365.com/.default."""

    name = "Microsoft Entra ID"

    def __init__(self, settings: OAuth2Settings, timeout: float) -> None:
        import msal

        self.settings, self.timeout = settings, timeout
        self._cache = msal.TokenCache()
        self._app: Any = None

    def _credential(self) -> str | dict[str, str]:
        if not self.settings.certificate_pem:
            return self.settings.client_secret
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        pem = self.settings.certificate_pem
        certificate = x509.load_pem_x509_certificate(pem[pem.index("-----BEGIN CERTIFICATE-----"):].encode())
        # Entra ID names the certificate by its SHA-1 thumbprint (msal's "thumbprint").
        return {"private_key": pem, "thumbprint": certificate.fingerprint(hashes.SHA1()).hex()}

    def fetch(self) -> tuple[str, float | None]:
        import msal
        import requests

        try:
            if self._app is None:
                # instance_discovery=False: the authority's own metadata is read, no other host asked.
                self._app = msal.ConfidentialClientApplication(
                    self.settings.client_id, client_credential=self._credential(),
                    authority=self.settings.authority, token_cache=self._cache, timeout=self.timeout,
                    instance_discovery=False)
            # TokenSource decides when a token is due: msal's own cache (by the wall clock, keeping
            # a token until 5 minutes before it expires) would hand back the one being replaced.
            self.forget()
            result = self._app.acquire_token_for_client(scopes=[self.settings.scope])
        except (requests.RequestException, ValueError) as exc:
            raise TokenError(f"{self.settings.authority}: {_first_line(exc)}") from None
        if not isinstance(result, dict) or "access_token" not in result:
            error = result.get("error", "no token") if isinstance(result, dict) else "no token"
            description = _first_line(result.get("error_description", "")) if isinstance(result, dict) else ""
            raise TokenError(f"{self.settings.authority} refused: {error}: {description}")
        return str(result["access_token"]), _seconds(result.get("expires_in"))

    def forget(self) -> None:
        import msal

        for item in list(self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            self._cache.remove_at(item)


class Google:
    """Gmail: a service account's key with domain-wide delegation (``subject`` = the mailbox), or
    an OAuth client's refresh token for one mailbox; both through google-auth."""

    name = "Google"

    def __init__(self, settings: OAuth2Settings, timeout: float) -> None:
        self.settings, self.timeout = settings, timeout
        self._credentials: Any = None

    def _make(self) -> Any:
        s = self.settings
        if s.service_account is not None:
            from google.oauth2 import service_account

            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                s.service_account, scopes=[s.scope], subject=s.subject)
        from google.oauth2.credentials import Credentials

        # No scopes: a refresh returns what the refresh token was granted (https://mail.google.com/).
        return Credentials(None, refresh_token=s.refresh_token, token_uri=s.token_url, client_id=s.client_id,
                           client_secret=s.client_secret)  # type: ignore[no-untyped-call]

    def fetch(self) -> tuple[str, float | None]:
        import google.auth.exceptions

        try:
            if self._credentials is None:
                self._credentials = self._make()
            transport = _Transport(self.timeout)
            self._credentials.refresh(transport)
        except (google.auth.exceptions.GoogleAuthError, ValueError) as exc:
            raise TokenError(f"Google: {_first_line(exc)}") from None
        return str(self._credentials.token or ""), transport.expires_in

    def forget(self) -> None:
        pass  # every fetch is a refresh: google-auth's own cache is never consulted


class _Transport:
    """google-auth's requests transport, with our timeout, noting the token response's
    ``expires_in``: the lifetime is then measured by the gateway's clock, not google-auth's."""

    def __init__(self, timeout: float) -> None:
        from google.auth.transport.requests import Request

        self._inner = Request()
        self.timeout = timeout
        self.expires_in: float | None = None

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = None, **kwargs: Any) -> Any:
        response = self._inner(url, method=method, body=body, headers=headers, timeout=self.timeout, **kwargs)
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            self.expires_in = _seconds(json.loads(response.data).get("expires_in"))
        return response


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _first_line(value: Any) -> str:
    lines = str(value).strip().splitlines()
    return lines[0][:300] if lines else ""


def token_source(account: str, settings: OAuth2Settings, clock: Clock, timeout: float) -> TokenSource:
    """The token source for an account's settings, with the provider they name."""

    makers: dict[str, Callable[[OAuth2Settings, float], Provider]] = {
        "microsoft": Microsoft, "google": Google,
        "generic": Generic}
    return TokenSource(account, makers[settings.provider](settings, timeout), clock)
