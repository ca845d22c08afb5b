"""OAuth2 access tokens for IMAP: caching and renewal by the gateway's clock, and each
provider's requests to a local token endpoint (HTTPS where msal insists on it)."""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.clock import FakeClock
from gateway.config.imap_oauth import DEFAULT_SCOPES, OAuth2Settings
from gateway.sources.imap.oauth import REFRESH_MARGIN, TokenError, TokenSource
from gateway.sources.imap.oauth_providers import token_source
from tests.oauth_server import OAuthServer, running_oauth
from tests.support import free_port


class Counting:
    name = "counting"

    def __init__(self, lifetime: float | None = 3600.0) -> None:
        self.lifetime, self.calls, self.forgotten = lifetime, 0, 0
        self.lock = threading.Lock()

    def fetch(self) -> tuple[str, float | None]:
        with self.lock:
            self.calls += 1
            return f"token-{self.calls}", self.lifetime

    def forget(self) -> None:
        self.forgotten += 1


def test_a_token_is_kept_and_renewed_a_margin_before_it_expires(clock: FakeClock) -> None:
    provider = Counting()
    tokens = TokenSource("support", provider, clock)
    first = tokens.token()
    assert first.value == "token-1" and first.expires_at == clock.now() + timedelta(hours=1)
    assert first.renew_at == first.expires_at - REFRESH_MARGIN and "token-1" not in repr(first)
    clock.advance(timedelta(hours=1) - REFRESH_MARGIN - timedelta(seconds=1))
    assert tokens.token() is first and provider.calls == 1
    clock.advance(timedelta(seconds=1))
    assert tokens.token().value == "token-2" and tokens.fetched == 2


def test_a_short_token_is_renewed_at_half_its_life_and_a_refused_one_at_once(clock: FakeClock) -> None:
    provider = Counting(lifetime=600)
    tokens = TokenSource("support", provider, clock)
    first = tokens.token()
    assert first.renew_at - clock.now() == timedelta(minutes=5)
    tokens.refused(first)
    assert provider.forgotten == 1 and tokens.token().value == "token-2"
    tokens.refused(first)  # a stale report about a token already replaced changes nothing
    assert tokens.token().value == "token-2" and provider.forgotten == 1
    no_lifetime = TokenSource("support", Counting(lifetime=None), clock)
    assert no_lifetime.token().expires_at == clock.now() + timedelta(hours=1)


def test_threads_asking_at_once_share_one_fetch(clock: FakeClock) -> None:
    provider = Counting()
    tokens = TokenSource("support", provider, clock)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(tokens.token().value)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["token-1"] * 20 and provider.calls == 1


@pytest.fixture
def endpoint(clock: FakeClock) -> Iterator[tuple[OAuthServer, str]]:
    server = OAuthServer(clock, clients={"gw": ("client-secret-1", "support")},
                         refresh_tokens={"refresh-1": "support"}, lifetime=timedelta(minutes=40))
    with running_oauth(server) as url:
        yield server, url


def _generic(url: str, **values: str) -> OAuth2Settings:
    return OAuth2Settings("generic", token_url=f"{url}/token", client_id="gw", **values)


def test_generic_client_credentials_and_refresh_token_grants(endpoint: tuple[OAuthServer, str],
                                                            clock: FakeClock) -> None:
    server, url = endpoint
    token = token_source("support", _generic(url, client_secret="client-secret-1", scope="imap"), clock, 5).token()
    assert server.tokens_for("support") == [token.value]
    assert token.expires_at == clock.now() + timedelta(minutes=40)
    assert server.token_requests[-1] == {"grant_type": "client_credentials", "client_id": "gw",
                                         "client_secret": "client-secret-1", "scope": "imap"}
    token_source("support", _generic(url, refresh_token="refresh-1"), clock, 5).token()
    assert server.token_requests[-1] == {"grant_type": "refresh_token", "refresh_token": "refresh-1",
                                         "client_id": "gw"}


def test_token_endpoint_failures_say_what_it_answered_never_the_secret(endpoint: tuple[OAuthServer, str],
                                                                       clock: FakeClock) -> None:
    _server, url = endpoint
    wrong = token_source("support", _generic(url, client_secret="wrong-secret-xyz"), clock, 5)
    with pytest.raises(TokenError) as refused:
        wrong.token()
    assert "invalid_client: unknown client or grant" in str(refused.value)
    assert "wrong-secret-xyz" not in str(refused.value)
    gone = token_source("support", _generic(f"http://127.0.0.1:{free_port()}", client_secret="s"), clock, 2)
    with pytest.raises(TokenError, match="unreachable"):
        gone.token()


def test_google_refresh_token_through_google_auth(endpoint: tuple[OAuthServer, str], clock: FakeClock) -> None:
    server, url = endpoint
    settings = OAuth2Settings("google", scope=DEFAULT_SCOPES["google"], token_url=f"{url}/token",
                              client_id="id.apps.googleusercontent.com", client_secret="g-secret",
                              refresh_token="refresh-1")
    token = token_source("support", settings, clock, 5).token()
    assert token.value == server.tokens_for("support")[-1]
    # The lifetime the endpoint gave, measured by the gateway's clock (not google-auth's).
    assert token.expires_at == clock.now() + timedelta(minutes=40)
    form = server.token_requests[-1]
    assert (form["grant_type"], form["refresh_token"], form["client_id"]) == (
        "refresh_token", "refresh-1", "id.apps.googleusercontent.com")


def test_google_service_account_with_domain_wide_delegation(endpoint: tuple[OAuthServer, str],
                                                           clock: FakeClock) -> None:
    server, url = endpoint
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "client_email": "helpdesk@project.iam.gserviceaccount.com",
            "private_key": pem, "private_key_id": "k1", "token_uri": f"{url}/token"}
    settings = OAuth2Settings("google", scope=DEFAULT_SCOPES["google"], service_account=info,
                              subject="support@example.com")
    token = token_source("support", settings, clock, 5).token()
    assert server.tokens_for("support@example.com") == [token.value]
    form = server.token_requests[-1]
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(form["assertion"], key.public_key(), algorithms=["RS256"],
                        audience="https://oauth2.googleapis.com/token")  # what Google checks
    assert (claims["iss"], claims["sub"], claims["scope"]) == (
        "helpdesk@project.iam.gserviceaccount.com", "support@example.com", "https://mail.google.com/")


@pytest.fixture
def entra(tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[OAuthServer, str]]:
    """A local stand-in for an Entra ID tenant over HTTPS (msal accepts no other scheme)."""
    server = OAuthServer(clock, clients={"app-id": ("m365-secret", "support@contoso.example")})
    with running_oauth(server, tls_dir=tmp_path) as url:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
        yield server, url


def test_microsoft_client_credentials_by_secret_through_msal(entra: tuple[OAuthServer, str],
                                                             clock: FakeClock) -> None:
    server, url = entra
    settings = OAuth2Settings("microsoft", scope=DEFAULT_SCOPES["microsoft"], authority=f"{url}/tenant-1",
                              client_id="app-id", client_secret="m365-secret")
    tokens = token_source("support", settings, clock, 5)
    first = tokens.token()
    assert server.tokens_for("support@contoso.example") == [first.value]
    form = server.token_requests[-1]
    assert (form["grant_type"], form["client_id"], form["client_secret"]) == (
        "client_credentials", "app-id", "m365-secret")
    assert form["scope"] == "https://outlook.office365.com/.default"
    # Refused by the server: msal's own cache is dropped, so a new token is really asked for.
    tokens.refused(first)
    assert tokens.token().value != first.value and len(server.token_requests) == 2


def test_microsoft_client_credentials_by_certificate(entra: tuple[OAuthServer, str], clock: FakeClock,
                                                     tmp_path: Path) -> None:
    server, url = entra
    key, cert = tmp_path / "app-key.pem", tmp_path / "app-cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=helpdesk",
                    "-keyout", str(key), "-out", str(cert), "-days", "1"], check=True, capture_output=True)
    settings = OAuth2Settings("microsoft", scope=DEFAULT_SCOPES["microsoft"], authority=f"{url}/tenant-1",
                              client_id="app-id", certificate_pem=key.read_text() + cert.read_text())
    token = token_source("support", settings, clock, 5).token()
    assert server.tokens_for("support@contoso.example") == [token.value]
    form = server.token_requests[-1]
    assert "client_secret" not in form
    header = jwt.get_unverified_header(form["client_assertion"])
    fingerprint = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha1"],
                                 check=True, capture_output=True, text=True).stdout
    expected = fingerprint.split("=", 1)[1].strip().replace(":", "").lower()
    assert jwt.utils.base64url_decode(header["x5t"]).hex() == expected


def test_microsoft_refusal_says_what_entra_answered(entra: tuple[OAuthServer, str], clock: FakeClock,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    _server, url = entra
    settings = OAuth2Settings("microsoft", scope=DEFAULT_SCOPES["microsoft"], authority=f"{url}/tenant-1",
                              client_id="app-id", client_secret="not-the-secret-123")
    with caplog.at_level(logging.DEBUG), pytest.raises(TokenError, match="invalid_client") as refused:
        token_source("support", settings, clock, 5).token()
    assert "not-the-secret-123" not in str(refused.value) + caplog.text
    assert "not-the-secret" not in repr(settings)
