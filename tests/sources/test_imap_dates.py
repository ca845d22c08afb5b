"""INTERNALDATE as servers write it: the arrival time a waiting mail is received at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from gateway.sources.imap.session import internal_date


def test_internal_date_with_zone_and_a_space_padded_day() -> None:
    assert internal_date(b"22-Nov-2026 09:15:02 +0000") == datetime(2026, 11, 22, 9, 15, 2, tzinfo=UTC)
    assert internal_date(b" 7-Jul-2026 02:44:25 -0700") == datetime(
        2026, 7, 7, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7)))


def test_an_unreadable_internal_date_is_none_not_an_error() -> None:
    for junk in (b"", b"yesterday", b"31-Feb-2026 00:00:00 +0000", b"\xff\xfe"):
        assert internal_date(junk) is None


def test_month_names_in_any_case_and_zones_east_and_west() -> None:
    assert internal_date(b"01-jan-2027 00:00:00 +0530") == datetime(
        2027, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert internal_date(b"01-JAN-2027 00:00:00 -0930") == datetime(
        2027, 1, 1, tzinfo=timezone(-timedelta(hours=9, minutes=30)))


def test_out_of_range_fields_are_none() -> None:
    for junk in (b"22-Nov-2026 24:00:00 +0000", b"22-Nov-2026 09:60:00 +0000", b"22-Nox-2026 09:00:00 +0000",
                 b"22-Nov-2026 09:00:00 +2400", b"22-Nov-2026 09:00:00", b"22-Nov-2026 09:00:00 +000"):
        assert internal_date(junk) is None
