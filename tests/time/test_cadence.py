"""Digest cadences: when each mail goes in the reader's zone, which period it covers, closed days skipped,
and when the person on call changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from gateway.time.cadence import latest_occurrence, next_occurrence, occurrence_at, parse_cadence
from gateway.time.handovers import next_handover
from gateway.time.rotation import OnCall, Override

SYDNEY, PERTH, LONDON = ZoneInfo("Australia/Sydney"), ZoneInfo("Australia/Perth"), ZoneInfo("Europe/London")
TORONTO = ZoneInfo("America/Toronto")
# Christmas Day and Boxing Day 2026 fall on a Friday and a Saturday; New Year's Day on a Friday.
HOLIDAYS = {date(2026, 12, 25), date(2026, 12, 28), date(2027, 1, 1)}


def weekdays(day: date) -> bool:
    return day.weekday() < 5 and day not in HOLIDAYS


def test_cadences_as_people_write_them() -> None:
    assert parse_cadence("mon 08:00").every == "week" and parse_cadence("Monday 08:00").weekday == 0
    assert parse_cadence("fri 17:30").weekday == 4
    assert (parse_cadence("1st 09:00").every, parse_cadence("1st 09:00").day) == ("month", 1)
    assert parse_cadence("15 09:00").day == 15
    assert parse_cadence("08:00").every == "day" and parse_cadence("daily 07:45").at == time(7, 45)
    for bad, says in (("moon 08:00", "neither a weekday"), ("31st 08:00", "day 1 to 28"), ("mon 8h", "not a time"),
                      ("", "write a time"), ("mon tue 08:00", "write")):
        with pytest.raises(ValueError, match=says):
            parse_cadence(bad)


def test_weekly_in_each_reader_s_zone_and_the_week_before() -> None:
    weekly = parse_cadence("mon 08:00")
    after = datetime(2026, 11, 20, tzinfo=UTC)  # a Friday
    sydney, perth = next_occurrence(weekly, after, SYDNEY), next_occurrence(weekly, after, PERTH)
    # Monday 23 November 08:00 in Sydney (AEDT, UTC+11) is Sunday 21:00 UTC; in Perth (UTC+8), Monday 00:00.
    assert sydney.at == datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
    assert perth.at == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert weekly.period(sydney.due) == (date(2026, 11, 16), date(2026, 11, 23))
    assert weekly.period_key(sydney.due) == "2026-11-23"
    following = next_occurrence(weekly, sydney.at, SYDNEY)
    assert following.at == datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    assert occurrence_at(weekly, following.at, SYDNEY) == following


def test_a_closed_day_moves_the_mail_to_the_next_open_day_and_keeps_its_period() -> None:
    weekly, monthly, daily = parse_cadence("mon 09:00"), parse_cadence("1st 09:00"), parse_cadence("08:00")
    # Monday 28 December is a holiday (Boxing Day observed): the weekly mail goes on Tuesday 29th.
    moved = next_occurrence(weekly, datetime(2026, 12, 22, tzinfo=UTC), TORONTO, weekdays)
    assert moved.at == datetime(2026, 12, 29, 14, 0, tzinfo=UTC) and moved.due == date(2026, 12, 28)
    assert weekly.period(moved.due) == (date(2026, 12, 21), date(2026, 12, 28))
    assert occurrence_at(weekly, moved.at, TORONTO, weekdays) == moved
    # New Year's Day: December's report goes on Monday 4 January (2nd and 3rd are a weekend).
    january = next_occurrence(monthly, datetime(2026, 12, 15, tzinfo=UTC), TORONTO, weekdays)
    assert january.at == datetime(2027, 1, 4, 14, 0, tzinfo=UTC)
    assert monthly.period(january.due) == (date(2026, 12, 1), date(2027, 1, 1))
    assert monthly.period_key(january.due) == "2026-12"
    # Daily on open days: Friday, then Monday, each about its own day.
    friday = next_occurrence(daily, datetime(2026, 11, 26, 14, tzinfo=UTC), TORONTO, weekdays)
    monday = next_occurrence(daily, friday.at, TORONTO, weekdays)
    assert (friday.due, monday.due) == (date(2026, 11, 27), date(2026, 11, 30))
    assert daily.period(monday.due) == (date(2026, 11, 30), date(2026, 12, 1))


def test_after_a_long_stop_only_the_latest_period_goes() -> None:
    weekly = parse_cadence("mon 08:00")
    first = next_occurrence(weekly, datetime(2026, 11, 1, tzinfo=UTC), LONDON)
    latest = latest_occurrence(weekly, first, datetime(2026, 11, 25, tzinfo=UTC), LONDON)
    assert (first.due, latest.due) == (date(2026, 11, 2), date(2026, 11, 23))


def test_the_on_call_changes_at_handovers_and_overrides_only_when_the_person_does() -> None:
    rotation = OnCall(TORONTO, 0, time(9, 0), date(2026, 11, 2), ("alice", "bob"), overrides=(
        Override(datetime(2026, 12, 24, 22, tzinfo=UTC), datetime(2026, 12, 28, 14, tzinfo=UTC), "carol"),
        Override(datetime(2026, 11, 10, 14, tzinfo=UTC), datetime(2026, 11, 11, 14, tzinfo=UTC), "bob")))
    seen = []
    at = datetime(2026, 11, 8, tzinfo=UTC)
    while (change := next_handover(rotation, at)) is not None and change.at < datetime(2027, 1, 5, tzinfo=UTC):
        seen.append((change.at.astimezone(TORONTO).strftime("%m-%d %H:%M"),
                     change.outgoing.contact if change.outgoing else None,
                     change.incoming.contact if change.incoming else None))
        at = change.at
    # Bob's own override within his week changes nothing; the Christmas override ends at the Monday handover.
    assert seen == [("11-09 09:00", "alice", "bob"), ("11-16 09:00", "bob", "alice"), ("11-23 09:00", "alice", "bob"),
                    ("11-30 09:00", "bob", "alice"), ("12-07 09:00", "alice", "bob"), ("12-14 09:00", "bob", "alice"),
                    ("12-21 09:00", "alice", "bob"), ("12-24 17:00", "bob", "carol"),
                    ("12-28 09:00", "carol", "alice"), ("01-04 09:00", "alice", "bob")]
    assert next_handover(OnCall(TORONTO, fallback="dan"), at) is None
