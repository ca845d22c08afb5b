"""Raw RFC 5322 bytes to ParsedMail values, and the screening of those values (pure)."""

from parsers.limits import Limits, ParseLimitExceeded
from parsers.mail import Address, Attachment, ForwardedMessage, ParsedMail
from parsers.parse import parse
from parsers.reply_split import REPLY_MARKER, split_reply

__all__ = [
    "REPLY_MARKER",
    "Address",
    "Attachment",
    "ForwardedMessage",
    "Limits",
    "ParseLimitExceeded",
    "ParsedMail",
    "parse",
    "split_reply",
]
