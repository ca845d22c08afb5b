"""INTERNALDATE as servers write it: the arrival time a waiting mail is received at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from gateway.imap_session import internal_date


def test_internal_date_with_zone_and_a_space_padded_day() -> None:
    assert internal_date(b"22-Nov-2026 09:15:02 +0000") == datetime(2026, 11, 22, 9, 15, 2, tzinfo=UTC)
    assert internal_date(b" 7-Jul-2026 02:44:25 -0700") == datetime(
        2026, 7, 7, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7)))


def test_an_unreadable_internal_date_is_none_not_an_error() -> None:
    for junk in (b"", b"yesterday", b"31-Feb-2026 00:00:00 +0000", b"\xff\xfe"):
        assert internal_date(junk) is None
