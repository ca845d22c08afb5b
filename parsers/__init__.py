"""Raw RFC 5322 bytes to ParsedMail values, and the screening of those values (pure)."""

import logging

from parsers.dsn import BounceInfo
from parsers.feedback_report import FeedbackInfo
from parsers.limits import Limits, ParseLimitExceeded
from parsers.mail import Address, Attachment, ForwardedMessage, ParsedMail
from parsers.parse import parse
from parsers.reply_split import REPLY_MARKER, split_reply
from parsers.screening import OwnIdentity, Verdict, screen

# mail-parser logs a line for every content type it does not handle; should anything in
# the process import it, keep that noise out of the gateway's log (it is not used here:
# see parsers/parse.py for why the standard library does the parsing).
for _name in ("mailparser", "mailparser.core", "mailparser.utils"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)
    logging.getLogger(_name).propagate = False

__all__ = [
    "REPLY_MARKER",
    "Address",
    "Attachment",
    "BounceInfo",
    "FeedbackInfo",
    "ForwardedMessage",
    "Limits",
    "OwnIdentity",
    "ParseLimitExceeded",
    "ParsedMail",
    "Verdict",
    "parse",
    "screen",
    "split_reply",
]
