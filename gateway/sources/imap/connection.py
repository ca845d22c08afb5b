"""An IMAP connection to one account: connect with a timeout, log in, wait in IDLE, close; and its failures.

The login is by password or by an OAuth2 access token. IMAP_ERRORS are the failures after which
the poller drops the connection and opens another; describe() tells one in a line for the log."""

from __future__ import annotations

import contextlib
import imaplib
import logging
import socket
import ssl
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self

from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.imapclient import SocketTimeout

from gateway.config.imap import ImapAccount
from gateway.config.tls import client_context
from gateway.errors import TemporaryError
from gateway.sources.imap.oauth import TokenError, TokenSource, oauth2_login

log = logging.getLogger("gateway.imap")


class ConnectionDead(TemporaryError):
    """The server stopped answering (EOF, BYE, or an IDLE that reports nothing on a readable socket)."""


# Everything the poller calls an IMAP failure: the session is dropped and opened again later.
IMAP_ERRORS: tuple[type[BaseException], ...] = (OSError, imaplib.IMAP4.error, ConnectionDead)


def describe(exc: BaseException, account: ImapAccount) -> str:
    """A one-line reason for the log and the heartbeat; never the password."""
    if isinstance(exc, TokenError):
        return f"no OAuth2 access token for user {account.username!r}: {server_text(exc)}"
    if isinstance(exc, LoginError):
        return f"login refused for user {account.username!r}: {server_text(exc)}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {account.host}:{account.port}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {account.timeout.total_seconds():g}s"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    if isinstance(exc, imaplib.IMAP4.abort):
        return f"connection lost: {server_text(exc)}"
    if isinstance(exc, OSError):
        return f"{exc.__class__.__name__}: {exc.strerror or exc}"
    return f"{exc.__class__.__name__}: {server_text(exc)}"


def server_text(exc: BaseException) -> str:
    """What the server (or the library) said, cut short for a log line."""
    return str(exc)[:300]


class ImapConnection:
    """A logged-in connection to one account; every call may raise one of IMAP_ERRORS."""

    def __init__(self, client: Any, account: ImapAccount) -> None:
        self.client = client
        self.account = account
        if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
            # imapclient sets imaplib's debug level to 5 so as to log its protocol trace, and
            # imaplib then formats the repr of every line and every literal whether the log
            # wants it or not: 40% of a bulk fetch's time spent on messages thrown away.
            # The trace is kept for whoever turns that logger to DEBUG.
            client._imap.debug = 0
        self.capabilities = frozenset(bytes(c).upper() for c in client.capabilities())
        self._empty_reads = 0
        self.renew_at: datetime | None = None  # by the gateway's clock: when its OAuth2 token is due

    @classmethod
    def open(cls, account: ImapAccount, tokens: TokenSource | None = None) -> Self:
        """Connect and log in: by password, or with ``tokens`` by an OAuth2 access token."""
        seconds = account.timeout.total_seconds()
        client = IMAPClient(account.host, account.port, ssl=account.security == "tls",
                            ssl_context=client_context(account.ca_file) if account.security == "tls" else None,
                            timeout=SocketTimeout(connect=seconds, read=seconds))
        try:
            if account.security == "starttls":
                client.starttls(client_context(account.ca_file))
            if account.oauth2 is None:
                client.login(account.username, account.password)
                return cls(client, account)
            if tokens is None:
                raise ValueError(f"imap[{account.name}]: an OAuth2 account is opened with its TokenSource")
            token = oauth2_login(client, account.username, account.oauth2.mechanism, tokens)
            session = cls(client, account)
            session.renew_at = token.renew_at
            return session
        except BaseException:
            with contextlib.suppress(Exception):  # the socket may already be gone (failed STARTTLS)
                client.shutdown()
            raise

    def can(self, capability: bytes) -> bool:
        return capability in self.capabilities

    # IDLE (RFC 2177) -------------------------------------------------------------------------

    def idle_start(self) -> bool:
        """Enter IDLE; return True when the server already reported new mail while entering it."""
        imap = self.client._imap
        # imapclient's idle() fails on an untagged response that arrives before "+ idling"; this
        # reads up to the continuation the same way and keeps what came first.
        tag = imap._command("IDLE")
        self.client._idle_tag = tag
        news = False
        while True:
            line = imap._get_response()
            if imap.tagged_commands.get(tag):
                raise imaplib.IMAP4.error(f"IDLE refused: {imap.tagged_commands.pop(tag)}")
            if line is None:
                self._empty_reads = 0
                return self.buffered_news() or news
            news = news or _is_news([line])

    def buffered_news(self) -> bool:
        """Read the complete lines already in imaplib's buffer; True if one announces new mail.

        An EXISTS sent in the same segment as "+ idling" is read into the buffer along with it,
        where select() on the socket cannot see it: without this it would wait for the next poll.
        """
        news = False
        while b"\n" in self._peek():
            line = self.client._imap._get_line()
            if line.startswith(b"* BYE"):
                raise ConnectionDead(f"the server said goodbye: {line!r}"[:200])
            news = news or _is_news([line])
        return news

    def _peek(self) -> bytes:
        sock = self.socket()
        timeout = sock.gettimeout()
        sock.setblocking(False)  # peek() reads the socket when its buffer is empty: never wait
        try:
            data: bytes = self.client._imap.file.peek(1)
            return data
        except OSError:  # nothing there (TLS says "want read")
            return b""
        finally:
            sock.settimeout(timeout)

    def idle_check(self) -> bool:
        """Read what the socket has during IDLE; True on new mail. Raise ConnectionDead on EOF/BYE."""
        responses = self.client.idle_check(timeout=0)
        if not responses:
            # The socket was readable yet nothing came: imapclient swallows EOF this way.
            self._empty_reads += 1
            if self._empty_reads >= 3:
                raise ConnectionDead("IDLE: the socket is readable but the server sends nothing (EOF)")
            return False
        self._empty_reads = 0
        if any(r and r[0] == b"BYE" for r in responses if isinstance(r, tuple)):
            raise ConnectionDead(f"the server said goodbye: {responses[-1]!r}"[:200])
        return _is_news(responses)

    def idle_done(self) -> None:
        self.client.idle_done()

    def socket(self) -> socket.socket:
        sock: socket.socket = self.client.socket()
        return sock

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:
            try:
                self.client.shutdown()
            except Exception as exc:
                log.debug("imap[%s]: closing: %s", self.account.name, exc.__class__.__name__)


def _is_news(responses: Iterable[Any]) -> bool:
    for response in responses:
        if isinstance(response, bytes):
            if response.upper().endswith((b" EXISTS", b" RECENT")):
                return True
        elif isinstance(response, tuple) and len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT"):
            return True
    return False
