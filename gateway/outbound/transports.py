"""Where outbound mail goes: an SMTP relay, or a directory of .eml files (the embedded default)."""

from __future__ import annotations

import hashlib
import os
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from gateway.config import OutboundSettings
from gateway.config.tls import client_context
from gateway.errors import PermanentError, TemporaryError
from gateway.outbound.dkim import DkimSigner, SignedTransport


@dataclass(frozen=True, slots=True)
class Delivered:
    """A mail the relay took, and the recipients it refused while taking it for the others:
    for now (4xx: they are tried again) and for good (5xx), each with the relay's answer."""

    later: dict[str, str] = field(default_factory=dict)
    never: dict[str, str] = field(default_factory=dict)

    @property
    def note(self) -> str | None:
        parts = [f"{what}: {', '.join(f'{a} ({why})' for a, why in refused.items())}"
                 for what, refused in (("refused for now, tried again", self.later),
                                       ("refused for good", self.never)) if refused]
        return "; ".join(parts) or None


class Withdrawn(Exception):
    """The mail was not sent: ``before_data`` said it is no longer ours to send."""


def _go_ahead(_will_be: Delivered) -> bool:
    return True


# Asked once the relay has taken the envelope, just before the mail itself goes, with what a
# 250 to DATA will mean: it commits that the mail is on the wire and says whether it is still
# ours to send.
BeforeData = Callable[[Delivered], bool]


class Transport(Protocol):
    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes, message_id: str,
             before_data: BeforeData = _go_ahead) -> Delivered:
        """Deliver, saying which recipients the relay refused while taking the rest, or raise
        TemporaryError (retry later) / PermanentError (give up) / Withdrawn (``before_data``
        said no; nothing went)."""

    def close(self) -> None:
        """Let go of any connection kept between sends (the end of a batch)."""


class DirectoryTransport:
    """Writes each mail as ``<message-id-hash>.eml``: a retry rewrites the same file, never a second."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes, message_id: str,
             before_data: BeforeData = _go_ahead) -> Delivered:
        if not before_data(Delivered()):
            raise Withdrawn(message_id)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:32] + ".eml"
            tmp = self.directory / (name + ".tmp")
            envelope = f"X-Envelope-From: <{mail_from}>\r\nX-Envelope-To: {', '.join(rcpt_to)}\r\n"
            with open(tmp, "wb") as fh:
                fh.write(envelope.encode("utf-8") + raw)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.directory / name)
        except OSError as exc:
            raise TemporaryError(f"cannot write to {self.directory}: {exc.strerror}") from exc
        return Delivered()

    def close(self) -> None:
        pass


# RFC 4954: authentication required (530), too weak (534), credentials invalid (535), encryption
# required (538); RFC 3207: 530 also for "must issue STARTTLS first". The relay is set up wrong
# for us, not refusing the mail: a 5xx that must not throw the mail away.
_LOGIN_WANTED = frozenset({530, 534, 535, 538})


class SmtpTransport:
    """Hands mail to a relay; 4xx and network trouble are temporary, 5xx permanent.

    One session serves a batch of mails (RSET between them, RFC 5321 section 4.1.1.5) and
    is let go by close(): a burst of acknowledgements costs one connection, TLS handshake
    and login per batch instead of one per mail. A session that has gone stale is replaced
    before the next mail, never during one. Each mail is its own SMTP transaction (MAIL, RCPT,
    then DATA once ``before_data`` agrees), and EHLO names us as ``helo_name``.
    """

    def __init__(self, settings: OutboundSettings) -> None:
        self.settings = settings
        self.password = os.environ.get(settings.password_env) if settings.password_env else None
        self._client: smtplib.SMTP | None = None

    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes, message_id: str,
             before_data: BeforeData = _go_ahead) -> Delivered:
        s = self.settings
        try:
            try:
                return _transaction(self._session(), mail_from, rcpt_to, raw, message_id, before_data)
            except BaseException:
                self._drop()  # whatever state the session is in, the next mail gets a new one
                raise
        except smtplib.SMTPAuthenticationError as exc:
            # Our login is wrong, not the mail: it waits (within retry_lifetime) for the fix.
            raise TemporaryError(f"the relay refused our login ({exc.smtp_code}): check outbound.username "
                                 "and the password in outbound.password_env") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            if any(code in _LOGIN_WANTED for code in codes):
                raise TemporaryError(f"relay wants a login or TLS before recipients: {exc.recipients}") from exc
            if all(500 <= code < 600 for code in codes):
                raise PermanentError(f"relay refused every recipient: {exc.recipients}") from exc
            raise TemporaryError(f"relay refused recipients for now: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
            if exc.smtp_code in _LOGIN_WANTED:
                raise TemporaryError(f"relay answered {exc.smtp_code} {text}: it wants a login or TLS; "
                                     "see outbound.username, password_env and security") from exc
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(f"relay answered {exc.smtp_code} {text}") from exc
            raise TemporaryError(f"relay answered {exc.smtp_code} {text}") from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            raise TemporaryError(f"relay {s.host}:{s.port} unreachable: {exc}") from exc

    def probe(self) -> str:
        """Open a session as a send would (TLS, login), say what the relay offers, and QUIT.
        Raises TemporaryError saying what failed: for ``check-config --connect``."""
        s = self.settings
        try:
            client = self._session()
            client.ehlo_or_helo_if_needed()
            features = sorted(name.upper() for name in client.esmtp_features)
        except smtplib.SMTPAuthenticationError as exc:
            raise TemporaryError(f"the relay refused our login ({exc.smtp_code}): check outbound.username "
                                 "and the password in outbound.password_env") from exc
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            raise TemporaryError(f"relay {s.host}:{s.port}: {exc.__class__.__name__}: {exc}") from exc
        finally:
            self.close()
        tls = {"tls": "implicit TLS", "starttls": "STARTTLS"}.get(s.security, "no TLS")
        login = f"logged in as {s.username}" if s.username and self.password is not None else "no login"
        advice = ""
        if s.security == "none" and "STARTTLS" in features:
            advice = "; it offers STARTTLS: set outbound.security = \"starttls\""
        elif not (s.username and self.password is not None) and "AUTH" in features:
            advice = "; it offers AUTH: if it wants a login, set outbound.username and password_env"
        return f"relay {s.host}:{s.port} as {s.helo_name}: {tls}, {login}; offers {' '.join(features)}{advice}"

    def _session(self) -> smtplib.SMTP:
        if self._client is not None:
            try:
                self._client.rset()
                return self._client
            except (OSError, smtplib.SMTPException):  # the relay hung up between mails
                self._drop()
        s = self.settings
        timeout = s.timeout.total_seconds()
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(s.host, s.port, local_hostname=s.helo_name, timeout=timeout,
                                      context=client_context(s.ca_file))
        else:
            client = smtplib.SMTP(s.host, s.port, local_hostname=s.helo_name, timeout=timeout)
        try:
            if s.security == "starttls":
                client.starttls(context=client_context(s.ca_file))
            if s.username and self.password is not None:
                client.login(s.username, self.password)
        except BaseException:
            client.close()
            raise
        self._client = client
        return client

    def close(self) -> None:
        """QUIT the session kept for the batch."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()

    def _drop(self) -> None:
        """Close the socket without a QUIT: after an error the relay may not answer one."""
        client, self._client = self._client, None
        if client is not None:
            client.close()


def _transaction(client: smtplib.SMTP, mail_from: str, rcpt_to: list[str], raw: bytes, message_id: str,
                 before_data: BeforeData) -> Delivered:
    """What ``SMTP.sendmail`` does, with ``before_data`` asked between the last RCPT and DATA.

    Raises as sendmail does; the caller drops the session after any error."""
    client.ehlo_or_helo_if_needed()
    options = [f"SIZE={len(raw)}"] if client.does_esmtp and client.has_extn("size") else []
    code, answer = client.mail(mail_from, options)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, answer, mail_from)
    refused: dict[str, tuple[int, bytes]] = {}
    for rcpt in rcpt_to:
        code, answer = client.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, answer)
        if code == 421:
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(rcpt_to):
        raise smtplib.SMTPRecipientsRefused(refused)
    # The others take it: the mail is sent and must not go again to them; those refused for
    # now are tried again on their own.
    delivered = Delivered(later={a: _answer(code, msg) for a, (code, msg) in refused.items() if code < 500},
                          never={a: _answer(code, msg) for a, (code, msg) in refused.items() if code >= 500})
    if not before_data(delivered):
        raise Withdrawn(message_id)
    code, answer = client.data(raw)
    if code != 250:
        raise smtplib.SMTPDataError(code, answer)
    return delivered


def _answer(code: int, message: bytes | str) -> str:
    return f"{code} {message.decode('utf-8', 'replace') if isinstance(message, bytes) else message}"[:300]


def make_transport(settings: OutboundSettings) -> Transport:
    transport: Transport = (SmtpTransport(settings) if settings.transport == "smtp"
                            else DirectoryTransport(settings.directory))
    if settings.dkim_selector and settings.dkim_key_file:
        transport = SignedTransport(transport, DkimSigner(settings.dkim_domain, settings.dkim_selector,
                                                          settings.dkim_key_file))
    return transport
