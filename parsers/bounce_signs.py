"""Is this mail a bounce? The signs a delivery report shows, structured or not."""

from __future__ import annotations

import re

from parsers.bounce_json import notice_type
from parsers.mail import ParsedMail

REPORT_PARTS = {"message/delivery-status", "message/global-delivery-status"}


def report_type(mail: ParsedMail) -> str:
    """The report-type parameter of a multipart/report (RFC 6522), lower-case."""
    if mail.content_type != "multipart/report":
        return ""
    match = re.search(r'(?i)report-type\s*=\s*"?([\w.-]+)', mail.header("Content-Type") or "")
    return match.group(1).lower() if match else ""


def has_delivery_report(mail: ParsedMail) -> bool:
    return any(a.content_type in REPORT_PARTS for a in mail.attachments)


# Senders of bounces: the MTA's daemon (a name, not a mailbox anyone reads) and, with
# bounce-like content, the RFC 5321 section 4.5.1 postmaster.
_MAILER_DAEMON = re.compile(
    r"(?i)(?:^|[\s<\"])(?:mailer[- ]daemon|mail-daemon|mailerdaemon|mdaemon@)\b"
    r"|mail delivery (?:sub)?system"
)
_POSTMASTER = re.compile(r"(?i)(?:^|[\s<\"])post_?master\b")
_BOUNCE_SUBJECT = re.compile(
    r"(?i)^\s*(?:\[[^\]]{0,40}\]\s*)?(?:e-?mail\s+)?(?:undeliverable|undelivered mail"
    r"|delivery status notification|mail delivery (?:failed|failure|warning|problem)"
    r"|delivery (?:failure|failed|problem|warning)|failure notice|returned mail|mail error"
    r"|mail system error|non[- ]?deliver|delivery notification|nondelivery"
    r"|message delivery failure|permanent delivery failure|delivery has failed"
    r"|could not send message|warning: could not send|delayed mail|delivery delayed"
    r"|message not delivered|mail could not be delivered|unable to deliver"
    r"|(?:e-?mail )?bounce notification|unzustellbar|nicht zustellbar|non remis"
    r"|impossible de remettre|no se puede entregar|no entregado|mensaje no entregado"
    r"|notificaci[óo]n de estado de entrega|loop alert)"
    # ... as a mail server writes it: then a colon, a bracket, a dash or nothing ("Undeliverable:
    # Re: ...", "Delivery Status Notification (Failure)"), not "Delivery failure to Gmail for ...".
    r"\w*(?:\s*(?:$|[:(\-–—\[。]|\d)|\s+(?:returning|see|for|report|mail|message|notification|notice|status"
    r"|returned|e-?mail|nachricht|benachrichtigung)\b)"
)
# Japanese carriers and filters ("mail error notice", "the message could not be delivered"),
# whole: Japanese has no spaces to end a phrase, so "配信エラーについて" (about delivery errors)
# is a customer's subject, not a server's.
_JAPANESE_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?(?:メールエラー通知|エラーメール|配信エラー(?:通知)?|送信エラー(?:通知)?"
    r"|不達通知|配信不能通知|メッセージを配信できません(?:でした)?)[。.]?\s*(?:$|[:：(（\[【])"
)
_BOUNCE_BODY = re.compile(
    r"(?i)this is the qmail-send program|this is the mail system at host"
    r"|message was created automatically by mail delivery software"
    r"|(?:could not|cannot|can't|couldn't) be delivered"
    r"|could not deliver (?:the )?message|delivery to the following recipients? "
    r"(?:failed|has been (?:delayed|postponed))|has been postponed"
    r"|your message (?:did not reach|wasn't delivered|was not delivered)"
    r"|did not reach the following recipient|the following addresses had permanent fatal errors"
    r"|i'm (?:sorry|afraid) (?:to have to inform you that your message could not|i wasn't able)"
    r"|delivery has failed to these recipients|unable to deliver (?:your )?message"
    r"|permanent (?:fatal )?errors?|undeliverable message|non-delivery report"
    r"|(?:e-?mail|message) you sent (?:was|has been) (?:rejected|returned)"
    r"|invalid user address|requested action not taken|user unknown|no such user"
    r"|duplicated message-id|送信できませんでした|配信できませんでした|届きませんでした"
)
# From: "Jetmail System" <>: a null author is a machine speaking (RFC 5321 4.5.5).
_NULL_FROM = re.compile(r"<\s*>")
_HEAD = 4000


def bounce_subject(subject: str) -> bool:
    """A subject as a mail server writes it on a bounce."""
    return bool(_BOUNCE_SUBJECT.match(subject) or _JAPANESE_SUBJECT.match(subject))


def bounce_reason(mail: ParsedMail) -> str | None:
    if report_type(mail) == "delivery-status":
        return "multipart/report; report-type=delivery-status"
    if has_delivery_report(mail):
        return "message/delivery-status part"
    if mail.header("X-Failed-Recipients") is not None:
        return f"X-Failed-Recipients: {mail.header('X-Failed-Recipients')}"
    head = mail.text[:_HEAD]
    if "this is the qmail-send program" in head.lower():
        return "qmail-send bounce"
    from_value = mail.header("From") or ""
    for where, value in (("From", from_value), ("Return-Path", mail.header("Return-Path") or "")):
        if _MAILER_DAEMON.search(value):
            return f"{where}: {value[:120]}"
    if (_POSTMASTER.search(from_value) or _NULL_FROM.search(from_value)) and dsn_like(mail):
        return f"From: {from_value[:120]} with delivery-report text"
    if bounce_subject(mail.subject) and _BOUNCE_BODY.search(head):
        return f"bounce subject and text: {mail.subject[:80]}"
    notice = notice_type(head)
    if notice in ("Bounce", "Delivery"):
        return f"{notice} notification (JSON)"
    return None


def dsn_like(mail: ParsedMail) -> bool:
    """Looks like a delivery report even without the RFC 3464 structure."""
    return bool(
        bounce_subject(mail.subject)
        or _BOUNCE_BODY.search(mail.text[:_HEAD])
        or has_delivery_report(mail)
    )
