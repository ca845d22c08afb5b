"""Screening: is this mail a customer's, or something that must never be answered (RFC 3834)?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from parsers.auto_replies import auto_reply_reason, list_reason
from parsers.bounce_signs import bounce_reason, dsn_like, report_type
from parsers.dsn import BounceInfo, bounce_info
from parsers.feedback_report import FeedbackInfo, feedback_info, feedback_reason
from parsers.mail import ParsedMail

VerdictKind = Literal["clean", "auto-reply", "bounce", "list", "loop", "feedback-report"]
# RFC 5321 section 6.3: a count of Received fields is how MTAs detect loops; 100 is the
# suggested hard limit, and no honest mail to a help desk comes near 50.
MAX_RECEIVED = 50


@dataclass(frozen=True, slots=True)
class OwnIdentity:
    """Who we are: our addresses (lower-case), our Message-ID domain, our X-Loop token."""

    addresses: frozenset[str]
    message_id_domain: str
    loop_token: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The screening outcome and a human-readable reason for it."""

    kind: VerdictKind
    reason: str
    bounce: BounceInfo | None = None
    feedback: FeedbackInfo | None = None

    @property
    def answerable(self) -> bool:
        """Whether an automatic acknowledgement may be sent (RFC 3834 section 2)."""
        return self.kind == "clean"


def _loop_reason(mail: ParsedMail, own: OwnIdentity) -> str | None:
    token = own.loop_token.strip().lower()
    for value in mail.header_all("X-Loop"):
        if token and token in value.lower():
            return f"X-Loop: {value}"
    if mail.sender is not None and mail.sender.key in own.addresses:
        return f"From our own address {mail.sender.addr}"
    received = len(mail.header_all("Received"))
    if received > MAX_RECEIVED:
        return f"{received} Received headers (> {MAX_RECEIVED})"
    # Our Message-ID domain in In-Reply-To, References or even Message-ID is not a loop by
    # itself: customers reply to our ids, and colleagues on our own domain write to us.
    return None


def _null_sender(mail: ParsedMail, envelope_from: str | None) -> bool:
    """RFC 5321 section 4.5.5: a null reverse-path marks a notification, never answered.

    The envelope says so when we have one; a ``Return-Path: <>`` that an earlier final
    delivery wrote into the message (mail fetched or forwarded from another mailbox) says so too.
    """
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return True
    return any(value.strip() == "<>" for value in mail.header_all("Return-Path"))


def screen(mail: ParsedMail, own: OwnIdentity, envelope_from: str | None = None) -> Verdict:
    """The verdict for ``mail``. Checks run in precedence order, most specific first.

    A feedback report and a bounce are recognised before anything else (a bounce of a list
    mail still carries the list's headers); a loop before an auto-reply (an auto-responder
    that copied our X-Loop is the loop we must break); lists after auto-replies.
    ``envelope_from`` is the SMTP MAIL FROM when known; otherwise Return-Path stands in.
    """
    kind_of_report = report_type(mail)
    reason = feedback_reason(mail)
    if reason is not None:
        info = feedback_info(mail)
        return Verdict("feedback-report", f"{reason}: {info.feedback_type}", feedback=info)
    reason = bounce_reason(mail)
    if reason is not None:
        return Verdict("bounce", reason, bounce_info(mail))
    null_sender = _null_sender(mail, envelope_from)
    if null_sender and dsn_like(mail):
        return Verdict("bounce", "null return path and delivery-report content", bounce_info(mail))
    reason = _loop_reason(mail, own)
    if reason is not None:
        return Verdict("loop", reason)
    reason = auto_reply_reason(mail, kind_of_report)
    if reason is not None:
        return Verdict("auto-reply", reason)
    reason = list_reason(mail)
    if reason is not None:
        return Verdict("list", reason)
    if null_sender:
        return Verdict("auto-reply", "null return path")
    return Verdict("clean", "no automatic-mail signs")
