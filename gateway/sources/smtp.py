"""The SMTP/LMTP listener: 250 only after the inbound row is committed, 451 on any trouble."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from gateway.app import App
from gateway.config.tls import server_context
from gateway.errors import TemporaryError
from gateway.outbound.reply_token import is_support_recipient
from gateway.sources.arrival import mta_arrival
from gateway.store.inbound import Envelope, store_inbound

log = logging.getLogger("gateway.intake")

TEMPFAIL = "451 4.3.0 Temporary failure storing the message; please try again later"
NO_SUCH_RECIPIENT = "550 5.1.1 No such support address here"
BAD_SENDER = "553 5.1.7 The sender address is not a valid address"


class IntakeHandler:
    """aiosmtpd handler: accepts mail for the support addresses and stores it durably."""

    def __init__(self, app: App, executor: Executor, on_stored: Callable[[], None], *, lmtp: bool) -> None:
        self.app = app
        self.executor = executor
        self.on_stored = on_stored
        self.lmtp = lmtp

    async def handle_MAIL(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope,
                          address: str, mail_options: list[str]) -> str:
        # aiosmtpd takes any bytes in the path: a NUL, or 8-bit bytes without SMTPUTF8 (kept as
        # surrogates), would make the store fail and the client hear 451 for ever.
        if not address.isprintable():
            return BAD_SENDER
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope,
                          address: str, rcpt_options: list[str]) -> str:
        if not is_support_recipient(address, self.app.support_addresses):
            return NO_SUCH_RECIPIENT
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        env = Envelope(mail_from=envelope.mail_from or "", rcpt_to=tuple(envelope.rcpt_tos))
        loop = asyncio.get_running_loop()
        now = self.app.clock.now()
        try:
            stored = await loop.run_in_executor(
                self.executor, lambda: store_inbound(
                    self.app.db, bytes(raw), source="lmtp" if self.lmtp else "smtp",
                    envelope=env, received_at=now,
                    arrived_at=mta_arrival(bytes(raw), self.app.config.smtp.mta_hosts, now)))
        except TemporaryError:
            return self._each(TEMPFAIL, len(envelope.rcpt_tos))
        except Exception:
            log.exception("unexpected failure storing a message")
            return self._each(TEMPFAIL, len(envelope.rcpt_tos))
        self.on_stored()
        note = "already have it" if stored.duplicate else f"queued as {stored.inbound_id}"
        return self._each(f"250 2.0.0 OK: {note}", len(envelope.rcpt_tos))

    def _each(self, status: str, recipients: int) -> str:
        # LMTP (RFC 2033 4.2) answers DATA once per accepted recipient; one row serves them all.
        if self.lmtp:
            return "\r\n".join([status] * max(recipients, 1))
        return status

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default is 500, which makes the sender bounce a mail we could take later.
        log.error("SMTP session error: %s: %s", error.__class__.__name__, error)
        return TEMPFAIL


# RFC 5321 4.5.3.1.6 lets a server refuse a line over 1,000 octets, and the refusal is a 500
# the sender bounces. Mail clients do write longer ones (an unfolded References header of a
# long thread): they are taken, up to this much, and the parser bounds what follows.
DATA_LINE_LIMIT = 64 * 1024
# aiosmtpd's own refusals at the end of DATA, before the handler sees the mail.
_DATA_REFUSALS = ("552 Error: Too much mail data", "500 Line too long")
# aiosmtpd's refusals of a mail too large (at the end of DATA, or at MAIL for its SIZE=) carry
# no enhanced status code: the sender's bounce would read "Error: Too much mail data".
_TOO_BIG = ("552 Error: Too much mail data", "552 Error: message size exceeds fixed maximum message size")


def _with_status_code(status: Any, limit: int | None) -> Any:
    """A refusal for size as RFC 3463 says it (5.3.4: message too big for system), with the limit."""
    text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
    if text.startswith(_TOO_BIG):
        return f"552 5.3.4 Message too big for this system (the limit is {limit} bytes)"
    return status


class _Smtp(SMTP):
    line_length_limit = DATA_LINE_LIMIT

    async def push(self, status: Any) -> None:
        await super().push(_with_status_code(status, self.data_size_limit))


class _Lmtp(LMTP):
    """LMTP whose every answer to DATA comes once per accepted recipient (RFC 2033 4.2), its
    refusal of a mail too large or with a line too long included: a client waiting for the
    second answer would otherwise time out and try again for days."""

    line_length_limit = DATA_LINE_LIMIT

    async def push(self, status: Any) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        recipients = len(self.envelope.rcpt_tos) if self.envelope is not None else 0
        status = _with_status_code(status, self.data_size_limit)
        if text.startswith(_DATA_REFUSALS):
            for _ in range(recipients - 1):
                await super().push(status)
        await super().push(status)


def protocol_factory(app: App, handler: IntakeHandler) -> Callable[[], Any]:
    settings = app.config.smtp
    cls = _Lmtp if settings.lmtp else _Smtp
    hostname = app.config.gateway.message_id_domain
    # STARTTLS (RFC 3207) when a certificate is configured; required before MAIL with require_tls.
    tls = (server_context(settings.tls_cert, settings.tls_key)
           if settings.tls_cert is not None and settings.tls_key is not None else None)

    def factory() -> Any:
        return cls(handler, data_size_limit=settings.max_message_size, enable_SMTPUTF8=True,
                   decode_data=False, hostname=hostname, ident="helpdesk-gateway",
                   tls_context=tls, require_starttls=settings.require_tls)
    return factory
