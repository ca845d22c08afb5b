"""Bounce, delivery and complaint notices that a sending service posts as JSON by mail.

Amazon SES publishes them through SNS to an e-mail endpoint: the body is one JSON object,
often wrapped at 998 characters by the relay, so it is read with bounded patterns rather
than a JSON parser that one inserted line break defeats.
"""

from __future__ import annotations

import re

# The notice may itself be a string inside SNS's JSON envelope: its quotes are then escaped.
_Q = r'\\{0,3}"'
_TYPE = re.compile(_Q + r"notificationType" + _Q + r"\s*:\s*" + _Q + r"(Bounce|Delivery|Complaint)")
_LIST = {
    "Bounce": re.compile(_Q + r"bouncedRecipients" + _Q + r"\s*:\s*\["),
    "Complaint": re.compile(_Q + r"complainedRecipients" + _Q + r"\s*:\s*\["),
}
_EMAIL = re.compile(_Q + r"emailAddress" + _Q + r"\s*:\s*" + _Q + r"([^\"\\\s<>]{1,254}@[^\"\\\s<>]{1,254})")
_TRANSIENT = re.compile(_Q + r"bounceType" + _Q + r"\s*:\s*" + _Q + r"(?:Transient|Undetermined)")
_HEAD = 4000
_MAX_TEXT = 20_000


def notice_type(text: str) -> str | None:
    """"Bounce", "Delivery" or "Complaint" for a JSON notice, else None."""
    head = text[:_HEAD]
    found = _TYPE.search(head) if "notificationType" in head else None
    return found.group(1) if found else None


def notice_recipients(text: str, kind: str) -> tuple[str, ...]:
    """The bounced or complaining addresses a notice lists, lower-case."""
    pattern = _LIST.get(kind)
    start = pattern.search(text[:_MAX_TEXT]) if pattern else None
    if start is None:
        return ()
    end = text.find("]", start.end(), _MAX_TEXT)
    listed = text[start.end() : end if end >= 0 else _MAX_TEXT].replace("!\n ", "")
    return tuple(dict.fromkeys(m.group(1).lower() for m in _EMAIL.finditer(listed)))


def json_notice(text: str) -> tuple[tuple[str, ...], bool, bool] | None:
    """(failed recipients, permanent, failed) of a bounce or delivery notice, else None."""
    kind = notice_type(text)
    if kind == "Delivery":
        return (), False, False
    if kind != "Bounce":
        return None
    return notice_recipients(text, kind), not _TRANSIENT.search(text[:_MAX_TEXT]), True
