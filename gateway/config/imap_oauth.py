"""The OAuth2 keys of an ``[[imap]]`` account: provider settings, secrets from env or files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.config import Reader, as_str, env_name, one_of

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_SCOPES = {"microsoft": "https://outlook.office365.com/.default", "google": "https://mail.google.com/",
                  "generic": ""}
OAUTH2_KEYS = {"oauth2_provider", "oauth2_mechanism", "oauth2_scope", "oauth2_token_url", "oauth2_authority",
               "oauth2_tenant_id", "oauth2_client_id", "oauth2_client_secret_env", "oauth2_client_secret_file",
               "oauth2_refresh_token_env", "oauth2_refresh_token_file", "oauth2_certificate_file",
               "oauth2_service_account_file", "oauth2_subject"}
# Which keys each provider reads; any other oauth2_* key is a mistake worth naming.
_ALLOWED = {
    "microsoft": {"oauth2_authority", "oauth2_tenant_id", "oauth2_client_id", "oauth2_client_secret_env",
                  "oauth2_client_secret_file", "oauth2_certificate_file"},
    "google": {"oauth2_token_url", "oauth2_client_id", "oauth2_client_secret_env", "oauth2_client_secret_file",
               "oauth2_refresh_token_env", "oauth2_refresh_token_file", "oauth2_service_account_file",
               "oauth2_subject"},
    "generic": {"oauth2_token_url", "oauth2_client_id", "oauth2_client_secret_env", "oauth2_client_secret_file",
                "oauth2_refresh_token_env", "oauth2_refresh_token_file"},
}
_COMMON = {"oauth2_provider", "oauth2_mechanism", "oauth2_scope"}
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class OAuth2Settings:
    """How one account gets its access tokens. Secrets are read once, at start, and never shown."""

    provider: str  # "microsoft", "google" or "generic"
    mechanism: str = "XOAUTH2"  # or "OAUTHBEARER" (RFC 7628)
    scope: str = ""
    token_url: str = ""  # generic; google (its token_uri)
    authority: str = ""  # microsoft: https://login.microsoftonline.com/<tenant>
    client_id: str = ""
    client_secret: str = field(default="", repr=False, compare=False)
    refresh_token: str = field(default="", repr=False, compare=False)
    certificate_pem: str = field(default="", repr=False, compare=False)  # microsoft: key and certificate
    service_account: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # google
    subject: str = ""  # google service account: the mailbox it acts for


def _https_url(value: Any) -> str:
    text = as_str(value).rstrip("/")
    parts = urlsplit(text)
    if parts.scheme == "https" and parts.hostname:
        return text
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return text  # a token service on this machine; anything else would send secrets in clear
    raise ValueError("must be an https:// URL (http:// only for 127.0.0.1 or localhost)")


class _Keys:
    """Reads one account's oauth2_* keys, recording each problem with its full key name."""

    def __init__(self, r: Reader, table: dict[str, Any], key: str, base: Path, need_secrets: bool) -> None:
        self.r, self.table, self.key, self.base, self.need = r, table, key, base, need_secrets

    def problem(self, name: str, text: str) -> None:
        self.r.problems.append(f"{self.key}.{name}: {text}")

    def text(self, name: str, default: str = "") -> str:
        return self.r.get(self.table, f"{self.key}.{name}", default, as_str).strip()

    def required(self, name: str, example: str, why: str) -> str:
        self.r.require(self.table, f"{self.key}.{name}", f"{why}, like {name} = {example}")
        return self.text(name)

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        if not value:
            return None
        path = self.base / value
        if not path.is_file() or not os.access(path, os.R_OK):
            self.problem(name, f"{path} is not a readable file")
            return None
        return path

    def secret(self, stem: str, what: str) -> str | None:
        """The secret in the variable ``<stem>_env`` or the file ``<stem>_file``; None when neither is set."""
        env_key, file_key = f"{stem}_env", f"{stem}_file"
        if env_key in self.table and file_key in self.table:
            self.problem(file_key, f"give {what} either by {env_key} or by {file_key}, not both")
            return ""
        if env_key in self.table:
            name = self.r.get(self.table, f"{self.key}.{env_key}", "", env_name)
            if self.need and name and name not in os.environ:
                self.problem(env_key, f"the environment variable {name} is not set; export it with {what}")
            return os.environ.get(name, "").strip() if name else ""
        if file_key in self.table:
            path = self.path(file_key)
            return path.read_text(encoding="utf-8").strip() if path is not None and self.need else ""
        return None


def read_oauth2(r: Reader, table: dict[str, Any], key: str, base: Path, username: str,
                need_secrets: bool) -> OAuth2Settings | None:
    """The account's OAuth2 settings (``auth = "oauth2"``); problems go to ``r``."""
    k = _Keys(r, table, key, base, need_secrets)
    provider = r.get(table, f"{key}.oauth2_provider", "", one_of("microsoft", "google", "generic"))
    r.require(table, f"{key}.oauth2_provider", 'with auth = "oauth2" say who issues the tokens: '
              '"microsoft" (Exchange Online), "google" (Gmail) or "generic" (any OAuth2 token endpoint)')
    if not provider:
        return None
    r.unused(table, key, OAUTH2_KEYS - _ALLOWED[provider] - _COMMON,
             f'not used with oauth2_provider = "{provider}"; remove it')
    mechanism = r.get(table, f"{key}.oauth2_mechanism", "xoauth2", one_of("xoauth2", "oauthbearer")).upper()
    scope = k.text("oauth2_scope", DEFAULT_SCOPES[provider])
    if provider == "microsoft":
        return _microsoft(k, mechanism, scope)
    if provider == "google":
        return _google(k, mechanism, scope, username)
    return _generic(k, mechanism, scope)


def _microsoft(k: _Keys, mechanism: str, scope: str) -> OAuth2Settings:
    tenant = k.required("oauth2_tenant_id", '"contoso.onmicrosoft.com"', "give the directory (tenant) ID")
    client_id = k.required("oauth2_client_id", '"00000000-0000-0000-0000-000000000000"',
                           "give the application (client) ID of the app registration")
    authority = k.r.get(k.table, f"{k.key}.oauth2_authority", MICROSOFT_AUTHORITY, _https_url)
    secret = k.secret("oauth2_client_secret", "the app registration's client secret")
    certificate = k.path("oauth2_certificate_file")
    pem = certificate.read_text(encoding="utf-8") if certificate is not None else ""
    if certificate is not None and not ("PRIVATE KEY-----" in pem and "BEGIN CERTIFICATE-----" in pem):
        k.problem("oauth2_certificate_file", f"{certificate} must hold the PEM private key and its certificate")
    has_certificate = "oauth2_certificate_file" in k.table
    if secret is None and not has_certificate:
        k.problem("oauth2_client_secret_env", "missing; give the client secret (oauth2_client_secret_env or "
                  "oauth2_client_secret_file) or a certificate (oauth2_certificate_file)")
    elif secret is not None and has_certificate:
        k.problem("oauth2_certificate_file", "give a client secret or a certificate, not both")
    return OAuth2Settings("microsoft", mechanism, scope, authority=f"{authority}/{tenant}", client_id=client_id,
                          client_secret=secret or "", certificate_pem=pem)


def _google(k: _Keys, mechanism: str, scope: str, username: str) -> OAuth2Settings:
    token_url = k.r.get(k.table, f"{k.key}.oauth2_token_url", "", _https_url)
    key_file = k.path("oauth2_service_account_file")
    if key_file is not None or "oauth2_service_account_file" in k.table:
        k.r.unused(k.table, k.key, {"oauth2_client_id", "oauth2_client_secret_env", "oauth2_client_secret_file",
                                    "oauth2_refresh_token_env", "oauth2_refresh_token_file"},
                   "not used with oauth2_service_account_file (the key file names the client)")
        info: dict[str, Any] | None = None
        if key_file is not None:
            try:
                info = json.loads(key_file.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                info = None
            if not isinstance(info, dict) or info.get("type") != "service_account" or "private_key" not in info:
                k.problem("oauth2_service_account_file", f"{key_file} is not a service account's JSON key "
                          "(Google Cloud console: IAM > Service accounts > Keys > Add key > JSON)")
                info = None
            elif token_url:
                info = {**info, "token_uri": token_url}
        subject = k.text("oauth2_subject", username)
        return OAuth2Settings("google", mechanism, scope, token_url=token_url, service_account=info, subject=subject)
    client_id = k.required("oauth2_client_id", '"1234-abc.apps.googleusercontent.com"',
                           "give the OAuth client ID (or use oauth2_service_account_file)")
    secret = k.secret("oauth2_client_secret", "the OAuth client's secret")
    refresh = k.secret("oauth2_refresh_token", "the mailbox's refresh token")
    if secret is None:
        k.problem("oauth2_client_secret_env", "missing; give the OAuth client's secret by "
                  "oauth2_client_secret_env or oauth2_client_secret_file")
    if refresh is None:
        k.problem("oauth2_refresh_token_env", "missing; give the mailbox's refresh token by "
                  "oauth2_refresh_token_env or oauth2_refresh_token_file (or use oauth2_service_account_file)")
    return OAuth2Settings("google", mechanism, scope, token_url=token_url or GOOGLE_TOKEN_URL, client_id=client_id,
                          client_secret=secret or "", refresh_token=refresh or "")


def _generic(k: _Keys, mechanism: str, scope: str) -> OAuth2Settings:
    k.r.require(k.table, f"{k.key}.oauth2_token_url", 'give the token endpoint, like '
                'oauth2_token_url = "https://login.example.com/oauth2/token"')
    token_url = k.r.get(k.table, f"{k.key}.oauth2_token_url", "", _https_url)
    client_id = k.required("oauth2_client_id", '"helpdesk"', "give the client ID the token endpoint knows")
    secret = k.secret("oauth2_client_secret", "the client secret")
    refresh = k.secret("oauth2_refresh_token", "the refresh token")
    return OAuth2Settings("generic", mechanism, scope, token_url=token_url, client_id=client_id,
                          client_secret=secret or "", refresh_token=refresh or "")
