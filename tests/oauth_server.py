"""A local OAuth2 authorisation server for the IMAP OAuth2 tests: token and introspection endpoints.

It issues opaque access tokens by the client_credentials, refresh_token and JWT-bearer (a
Google service account's) grants, and answers Dovecot's introspection (RFC 7662) with
``active`` and ``username``. Its notion of time is a Clock the test controls, the same one
the gateway reads, so that a token expires for both at once without anybody waiting.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gateway.clock import Clock
from tests.support import self_signed_cert


@dataclass
class Issued:
    token: str
    username: str
    expires_at: datetime


@dataclass
class OAuthServer:
    """``clients`` maps a client ID to (secret, username); ``refresh_tokens`` a refresh token to a
    username; a service account's assertion is for the mailbox in its ``sub`` claim."""

    clock: Clock
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    lifetime: timedelta = timedelta(hours=1)
    revoked: set[str] = field(default_factory=set)  # usernames whose every token is inactive
    issued: list[Issued] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    introspections: list[tuple[str, bool]] = field(default_factory=list)  # (username or "?", active)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def tokens_for(self, username: str) -> list[str]:
        with self.lock:
            return [i.token for i in self.issued if i.username == username]

    def introspected(self, username: str, active: bool | None = None) -> int:
        with self.lock:
            return sum(1 for u, a in self.introspections if u == username and active in (None, a))

    def grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.token_requests.append(form)
        grant = form.get("grant_type", "")
        username: str | None = None
        if grant == "client_credentials":
            client = self.clients.get(form.get("client_id", ""))
            if client is not None and (form.get("client_secret") == client[0] or _assertion_sub(form)):
                username = client[1]
        elif grant == "refresh_token":
            username = self.refresh_tokens.get(form.get("refresh_token", ""))
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            username = _claims(form.get("assertion", "")).get("sub")
        if username is None:
            return 400, {"error": "invalid_grant" if grant != "client_credentials" else "invalid_client",
                         "error_description": "unknown client or grant"}
        issued = Issued(secrets.token_urlsafe(24), username, self.clock.now() + self.lifetime)
        with self.lock:
            self.issued.append(issued)
        return 200, {"access_token": issued.token, "token_type": "Bearer",
                     "expires_in": int(self.lifetime.total_seconds())}

    def introspect(self, token: str) -> dict[str, Any]:
        with self.lock:
            found = next((i for i in self.issued if i.token == token), None)
            active = (found is not None and found.username not in self.revoked
                      and self.clock.now() < found.expires_at)
            self.introspections.append((found.username if found else "?", active))
        if not active or found is None:
            return {"active": False}
        return {"active": True, "username": found.username, "exp": int(found.expires_at.timestamp())}


def _claims(jwt: str) -> dict[str, Any]:
    try:
        payload = jwt.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _assertion_sub(form: dict[str, str]) -> bool:
    """A certificate-signed client assertion (msal with a certificate) naming this client."""
    return (form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            and _claims(form.get("client_assertion", "")).get("sub") == form.get("client_id"))


def _handler(server: OAuthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, data: dict[str, Any]) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            # An Entra ID tenant's OpenID metadata, as msal reads it before its first request.
            if self.path.endswith("/v2.0/.well-known/openid-configuration"):
                tenant = self.path.split("/")[1]
                base = f"{server.base_url}/{tenant}"
                self._answer(200, {"token_endpoint": f"{base}/oauth2/v2.0/token",
                                   "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                                   "issuer": f"{base}/v2.0"})
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            if self.path == "/introspect":
                self._answer(200, server.introspect(form.get("token", "")))
            elif self.path.endswith("/token"):
                self._answer(*server.grant(form))
            else:
                self._answer(404, {"error": "not_found"})

    return Handler


@contextlib.contextmanager
def running_oauth(server: OAuthServer, tls_dir: Path | None = None) -> Iterator[str]:
    """Serve ``server`` on 127.0.0.1 in a thread and yield its base URL (HTTPS with a self-signed
    certificate made in ``tls_dir``, whose cert.pem is then the CA to trust). It may be served
    twice, over HTTP and HTTPS; the metadata it gives names the last one started."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    scheme = "http"
    if tls_dir is not None:
        cert, key = self_signed_cert(tls_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    url = server.base_url = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name="oauth-server", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


_OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/dovecot-oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
"""

# Dovecot's oauth2 passdb: each XOAUTH2/OAUTHBEARER login's token is POSTed (token=...) to the
# introspection endpoint (RFC 7662), which must answer active and name the same user.
_OAUTH2_EXT = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
timeout_msecs = 5000
"""


def with_oauth2_passdb(conf: str, directory: Path, url: str) -> str:
    """The configuration with an oauth2 passdb first (password logins still work for test clients)."""
    (directory / "dovecot-oauth2.conf.ext").write_text(_OAUTH2_EXT.format(url=url))
    conf = conf.replace("auth_mechanisms = plain login", "auth_mechanisms = plain login xoauth2 oauthbearer")
    return conf.replace("passdb {\n", _OAUTH2_PASSDB.format(dir=directory), 1)
