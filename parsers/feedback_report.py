"""Feedback reports: a mailbox provider telling us a recipient complained about our mail.

ARF (RFC 5965: multipart/report with a message/feedback-report part), the same report sent as
multipart/mixed, Microsoft's JMRP ("complaint about message from <ip>" with the mail
attached) and a sending service's JSON complaint notice. DMARC failure reports (RFC 6591,
Feedback-Type: auth-failure) share the format but are about authentication, not a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.bounce_json import notice_recipients, notice_type
from parsers.bounce_signs import report_type
from parsers.charsets import decode_text
from parsers.dsn import original_ids
from parsers.mail import ParsedMail

FEEDBACK_PARTS = {"message/feedback-report"}
# RFC 5965 section 7.3 and RFC 6650: the types by which a recipient asks not to get our mail.
COMPLAINTS = {"abuse", "fraud", "opt-out", "complaint"}
_FIELD = re.compile(
    r"(?im)^[ \t]*(feedback-type|original-rcpt-to|removal-recipient|user-agent|reporting-mta)"
    r"[ \t]*:[ \t]*(.{0,300})$"
)
_ADDRESS = re.compile(r"[^\s<>;\"(),:@]{1,64}@[A-Za-z0-9][A-Za-z0-9.-]{0,253}\.[A-Za-z]{2,24}")
# Microsoft's JMRP names the sending IP address, nothing else: "complaint about message from
# our engineer" with a mail attached is a customer's.
_JMRP_SUBJECT = re.compile(
    r"(?i)^\s*complaint about message from\s+(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7})\s*$"
)
_INLINE_ARF = re.compile(r"(?im)^feedback-type[ \t]*:[ \t]*[\w-]+[ \t]*$")
_MAX_TEXT = 20_000
_MAX_COMPLAINANTS = 50


@dataclass(frozen=True, slots=True)
class FeedbackInfo:
    """What a feedback report says: its type, whom the mail went to, which mail it was."""

    feedback_type: str
    complainants: tuple[str, ...]
    original_message_ids: tuple[str, ...]
    reporter: str = ""

    @property
    def complaint(self) -> bool:
        """A recipient asked not to get this mail (not an authentication-failure report)."""
        return self.feedback_type in COMPLAINTS


def _report_text(mail: ParsedMail) -> str:
    for attachment in mail.attachments:
        if attachment.content_type in FEEDBACK_PARTS:
            return decode_text(attachment.data[:_MAX_TEXT], "utf-8")[0]
    return ""


def feedback_reason(mail: ParsedMail) -> str | None:
    """Why ``mail`` is a feedback report, or None."""
    if report_type(mail) == "feedback-report":
        return "multipart/report; report-type=feedback-report (RFC 5965)"
    if any(a.content_type in FEEDBACK_PARTS for a in mail.attachments):
        return "message/feedback-report part (RFC 5965)"
    if mail.forwarded and _JMRP_SUBJECT.match(mail.subject):
        return f"complaint report with the mail attached: {mail.subject[:80]}"
    if notice_type(mail.text) == "Complaint":
        return "Complaint notification (JSON)"
    if mail.forwarded and _INLINE_ARF.search(mail.text[:4000]):
        return "feedback report fields in the text (RFC 5965)"
    return None


def feedback_info(mail: ParsedMail) -> FeedbackInfo:
    """The type, complainants and original Message-IDs of a feedback report."""
    ids = original_ids(mail)
    if notice_type(mail.text) == "Complaint":
        return FeedbackInfo("abuse", notice_recipients(mail.text, "Complaint"), ids)
    text = _report_text(mail) or mail.text[:_MAX_TEXT]
    fields: dict[str, list[str]] = {}
    for match in _FIELD.finditer(text):
        fields.setdefault(match.group(1).lower(), []).append(match.group(2).strip())
    kind = ((fields.get("feedback-type") or ["abuse"])[0].split() or ["abuse"])[0].lower()
    complainants: list[str] = []
    for name in ("original-rcpt-to", "removal-recipient"):
        for value in fields.get(name, ()):
            complainants += [m.group(0).lower() for m in _ADDRESS.finditer(value)]
    reporter = (fields.get("reporting-mta") or fields.get("user-agent") or [""])[0]
    return FeedbackInfo(kind, tuple(dict.fromkeys(complainants))[:_MAX_COMPLAINANTS], ids, reporter[:120])
