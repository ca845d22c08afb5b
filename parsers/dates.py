"""The Date header as aware UTC, with the receive time standing in when it is absent or absurd."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# Mail dated before 1980 predates Internet mail as we know it; a date more than two days
# past the time we received it is a broken clock or a lie (RFC 5322 section 3.6.1 says
# the origination date is when the message was ready to send, so it cannot be later).
EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=2)
# Some mailers append a comment or a second zone ("+0000 (UTC)", "+0100 CET"); the
# stdlib parser copes with most, these leftovers it does not.
_TRAILING_NOISE = re.compile(r"\s*\([^)]*\)\s*$")


def as_utc(moment: datetime) -> datetime:
    """``moment`` as aware UTC; a naive value is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_date(value: str) -> datetime | None:
    """An RFC 5322 date, tolerating the trailing comments and zones mailers add; None if unreadable."""
    for candidate in (value, _TRAILING_NOISE.sub("", value)):
        try:
            return parsedate_to_datetime(candidate)
        except (TypeError, ValueError, IndexError, OverflowError):
            continue
    return None


def mail_date(value: str | None, received_at: datetime) -> tuple[datetime, bool, str | None]:
    """(date, fell_back, defect) for a Date header value and the time we received the mail."""
    received = as_utc(received_at)
    if not value or not value.strip():
        return received, True, "date fallback: no Date header"
    parsed = parse_date(value.strip())
    if parsed is None:
        return received, True, f"date fallback: unparseable Date {value[:80]!r}"
    try:
        parsed = as_utc(parsed)
    except (ValueError, OverflowError):
        return received, True, f"date fallback: out-of-range Date {value[:80]!r}"
    if parsed < EARLIEST or parsed > received + MAX_AHEAD:
        return received, True, f"date fallback: absurd Date {value[:80]!r}"
    return parsed, False, None
