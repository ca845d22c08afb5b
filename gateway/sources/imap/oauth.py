"""OAuth2 logins to IMAP: a cached access token per account, renewed before it expires.

The token is sent by SASL XOAUTH2 (what Exchange Online and Gmail ask for) or OAUTHBEARER
(RFC 7628). It is never logged: not here, not in an error, not in imaplib's trace (which
shows only the size of an AUTHENTICATE response).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from imapclient.exceptions import LoginError

from gateway.clock import Clock
from gateway.errors import TemporaryError

log = logging.getLogger("gateway.imap")

# A token is replaced this long before it expires (or at half its life, if that is sooner). It
# exceeds the 10 minutes an IDLE may last, so a session is renewed between passes in good time.
REFRESH_MARGIN = timedelta(minutes=15)
# When a token endpoint does not say how long its token lasts (RFC 6749 5.1 makes it optional).
DEFAULT_LIFETIME = timedelta(hours=1)


class TokenError(TemporaryError):
    """No access token could be had: the token endpoint is unreachable or refused the credentials."""


class TokenRefused(LoginError):  # type: ignore[misc]  # imapclient is untyped
    """The IMAP server refused the access token: expired, revoked, or without IMAP access."""


@dataclass(frozen=True)
class Token:
    """An access token and the instants (by the gateway's clock) to renew it and when it expires."""

    value: str = field(repr=False)
    renew_at: datetime
    expires_at: datetime


class Provider(Protocol):
    """Asks one identity provider for a new access token."""

    name: str

    def fetch(self) -> tuple[str, float | None]:
        """A new access token and its lifetime in seconds (None when unknown); raise TokenError."""

    def forget(self) -> None:
        """Drop any token the library keeps, so that the next fetch asks the provider again."""


class TokenSource:
    """One account's access token: fetched when first needed, kept, and renewed a margin before
    it expires or at once after the server refused it. Safe to share between threads."""

    def __init__(self, account: str, provider: Provider, clock: Clock, margin: timedelta = REFRESH_MARGIN) -> None:
        self.account, self.provider, self.clock, self.margin = account, provider, clock, margin
        self._token: Token | None = None
        self._lock = threading.Lock()
        self._refused = False
        self.fetched = 0  # tokens fetched since start: for tests

    def token(self) -> Token:
        with self._lock:
            now = self.clock.now()
            if self._token is None or now >= self._token.renew_at:
                value, seconds = self.provider.fetch()
                if not value:
                    raise TokenError(f"{self.provider.name}: the token endpoint answered without an access token")
                life = timedelta(seconds=seconds) if seconds and seconds > 0 else DEFAULT_LIFETIME
                self._token = Token(value, now + life - min(self.margin, life / 2), now + life)
                self.fetched += 1
                # After a refusal every retry fetches one: the refusal itself is what gets reported.
                log.log(logging.DEBUG if self._refused else logging.INFO,
                        "imap[%s]: new OAuth2 access token from %s, valid until %s", self.account,
                        self.provider.name, self._token.expires_at.isoformat(timespec="seconds"))
                self._refused = False
            return self._token

    def refused(self, token: Token) -> None:
        """The server refused ``token``: the next login asks the provider for a new one."""
        with self._lock:
            if self._token is token:
                self._token, self._refused = None, True
                self.provider.forget()


def oauth2_login(client: Any, username: str, mechanism: str, tokens: TokenSource) -> Token:
    """Authenticate ``client`` (an IMAPClient) with the account's token; raise TokenRefused if refused."""
    offered = {bytes(c).upper()[5:].decode() for c in client.capabilities() if bytes(c).upper().startswith(b"AUTH=")}
    if mechanism not in offered:
        # Not the token's fault: keep it, and say what the server would take instead.
        raise LoginError(f"the server does not offer AUTH={mechanism} (it offers "
                         f"{', '.join(sorted(offered)) or 'no SASL mechanism'}); see oauth2_mechanism")
    token = tokens.token()
    exchange = _Sasl(mechanism, username, token.value)
    try:
        client.sasl_login(mechanism, exchange)
    except LoginError as exc:
        tokens.refused(token)
        said = f" ({exchange.error})" if exchange.error else ""
        raise TokenRefused(f"{mechanism} access token refused: {str(exc)[:200]}{said}") from None
    return token


class _Sasl:
    """The client side of XOAUTH2 or OAUTHBEARER: the initial response, then, if the server sends
    an error challenge, the dummy response the mechanism expects (RFC 7628 3.2.3)."""

    def __init__(self, mechanism: str, username: str, token: str) -> None:
        if mechanism == "OAUTHBEARER":
            user = username.replace("=", "=3D").replace(",", "=2C")
            self._first = f"n,a={user},\x01auth=Bearer {token}\x01\x01"
            self._dummy = b"\x01"
        else:
            self._first = f"user={username}\x01auth=Bearer {token}\x01\x01"
            self._dummy = b""
        self._sent = False
        self.error = ""

    def __call__(self, challenge: bytes) -> bytes:
        if not self._sent:
            self._sent = True
            return self._first.encode()
        self.error = _error_text(challenge)
        return self._dummy


def _error_text(challenge: bytes) -> str:
    """The server's error challenge (JSON with status, schemes, scope), shortened for the log."""
    try:
        data = json.loads(challenge)
    except ValueError:
        return challenge.decode("utf-8", "replace")[:100]
    if isinstance(data, dict):
        return ", ".join(f"{k} {v}" for k, v in data.items() if k in ("status", "schemes", "scope"))[:200]
    return ""
