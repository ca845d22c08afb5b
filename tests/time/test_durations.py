"""SLA targets as written in the seeds, their deadlines on a calendar, and how they print."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.time import (
    NO_TARGET,
    TWENTY_FOUR_SEVEN,
    BusinessCalendar,
    CalendarError,
    DurationError,
    PublicHolidays,
    Target,
    WeeklyHours,
    deadline,
    format_duration,
    format_target,
    parse_target,
)

LONDON = ZoneInfo("Europe/London")
UK = BusinessCalendar("uk", LONDON, WeeklyHours.uniform("mon-fri", "09:00-18:00"), PublicHolidays("GB", "ENG"))
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("15m", Target("clock", 15 * MIN)),
        ("15 minutes", Target("clock", 15 * MIN)),
        ("2h", Target("clock", 2 * HOUR)),
        ("2 hours", Target("clock", 2 * HOUR)),
        ("1h30m", Target("clock", 90 * MIN)),
        ("1 hour and 30 minutes", Target("clock", 90 * MIN)),
        ("90 min", Target("clock", 90 * MIN)),
        ("1.5 hours", Target("clock", 90 * MIN)),
        ("2 days", Target("clock", 48 * HOUR)),
        ("an hour", Target("clock", HOUR)),
        ("0 minutes", Target("clock", timedelta(0))),
        ("4 business hours", Target("business", 4 * HOUR)),
        ("1 business hour", Target("business", HOUR)),
        ("30 business minutes", Target("business", 30 * MIN)),
        ("48 business hours", Target("business", 48 * HOUR)),
        ("1 business hour 30 minutes", Target("business", 90 * MIN)),
        ("4 working hours", Target("business", 4 * HOUR)),
        ("1 business day", Target("business_days", 1)),
        ("3 business days", Target("business_days", 3)),
        ("20 business days", Target("business_days", 20)),
        ("end of the third business day", Target("business_days_end", 3)),
        ("end of 3rd business day", Target("business_days_end", 3)),
        ("end of next business day", Target("business_days_end", 1)),
        ("next release", NO_TARGET),
        ("Next Release", NO_TARGET),
        ("none", NO_TARGET),
        ("case by case", NO_TARGET),
        ("N/A", NO_TARGET),
        # Straight from the seeds:
        ("Less than 2 hours", Target("clock", 2 * HOUR)),
        ("within 15 minutes", Target("clock", 15 * MIN)),
        ("10 min. (phone)", Target("clock", 10 * MIN)),
        ("2 business hours (web)", Target("business", 2 * HOUR)),
        ("ten (10) working days", Target("business_days", 10)),
        ("five business days", Target("business_days", 5)),
        ("Immediate", None),
    ],
)
def test_parse(text: str, target: Target | None) -> None:
    if target is None:
        with pytest.raises(DurationError):
            parse_target(text)
    else:
        assert parse_target(text) == target
        assert Target.parse(text) == target


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("soon", "unexpected 'soon'"),
        ("", "empty"),
        ("10 or more business days", "unexpected"),
        ("2.5 business days", "whole number"),
        ("1 business day 4 hours", "stand alone"),
        ("2 business weeks", "no business weeks"),
        ("2 clock hours 5 business minutes", "mixes business and clock"),
        ("end of the twentieth business day", "not an ordinal"),
    ],
)
def test_errors_quote_the_text_and_list_the_forms(text: str, problem: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_target(text)
    message = str(info.value)
    assert repr(text) in message
    assert problem in message
    assert '"4 business hours"' in message and '"next release"' in message
    assert info.value.text == text


class TestDeadline:
    def test_none_has_no_deadline(self) -> None:
        assert deadline(parse_target("Next Release"), utc(2026, 3, 6, 16, 0), UK) is None

    def test_clock_hours_ignore_the_calendar(self) -> None:
        # Seed 1: "Less than 2 hours" are clock hours: Fri 17:30 -> Fri 19:30, desk closed or not.
        assert deadline(parse_target("Less than 2 hours"), utc(2026, 3, 6, 17, 30), UK) == utc(2026, 3, 6, 19, 30)

    def test_clock_days_are_elapsed_hours_across_dst(self) -> None:
        # Sat 28 Mar 12:00 GMT given in London time: 24 h later is Sun 12:00 UTC = 13:00 BST,
        # not "the same wall time tomorrow".
        start = datetime(2026, 3, 28, 12, 0, tzinfo=LONDON)
        assert deadline(Target("clock", 24 * HOUR), start, UK) == utc(2026, 3, 29, 12, 0)
        assert deadline(parse_target("2 days"), start, UK) == utc(2026, 3, 30, 12, 0)

    def test_business_hours(self) -> None:
        # Fri 6 Mar 16:00 GMT + 4 business hours -> Mon 11:00.
        assert deadline(parse_target("4 business hours"), utc(2026, 3, 6, 16), UK) == utc(2026, 3, 9, 11)

    def test_one_business_day_is_same_time_next_business_day(self) -> None:
        # Fri 22 May 14:00 BST (13:00 UTC); Mon 25 May is a bank holiday -> Tue 26 May 14:00.
        assert deadline(parse_target("1 business day"), utc(2026, 5, 22, 13), UK) == utc(2026, 5, 26, 13)

    def test_end_of_third_business_day(self) -> None:
        # Seed 3's stale policy, from Fri 6 Mar 17:50: Mon, Tue, Wed -> Wed 18:00 GMT.
        target = parse_target("end of the third business day")
        assert deadline(target, utc(2026, 3, 6, 17, 50), UK) == utc(2026, 3, 11, 18)

    def test_p1_on_twenty_four_seven(self) -> None:
        # Seed 0: P1 "First response within 15 minutes", 24/7: Christmas Day counts.
        assert deadline(parse_target("15 minutes"), utc(2026, 12, 25, 3), TWENTY_FOUR_SEVEN) == (
            utc(2026, 12, 25, 3, 15)
        )

    @pytest.mark.parametrize("text", ["0 minutes", "0 business hours", "0 business days"])
    def test_zero_targets_are_due_at_start(self, text: str) -> None:
        start = utc(2026, 3, 7, 12)  # a Saturday: closed
        assert deadline(parse_target(text), start, UK) == start

    def test_naive_start_is_refused(self) -> None:
        with pytest.raises(CalendarError, match="naive"):
            deadline(parse_target("2h"), datetime(2026, 3, 6, 16), UK)


class TestTargetValues:
    def test_wrong_amount_types(self) -> None:
        with pytest.raises(TypeError):
            Target("clock", 3)
        with pytest.raises(TypeError):
            Target("business_days", HOUR)
        with pytest.raises(TypeError):
            Target("business_days", True)
        with pytest.raises(ValueError, match="negative"):
            Target("business", -HOUR)
        with pytest.raises(ValueError, match="negative"):
            Target("business_days_end", -1)
        with pytest.raises(ValueError, match="unknown target kind"):
            Target("weekly", 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="0th"):
            Target("business_days_end", 0)
        with pytest.raises(ValueError, match="no amount"):
            Target("none", 2)

    def test_frozen_and_hashable(self) -> None:
        assert len({parse_target("2h"), parse_target("120 minutes")}) == 1


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (15 * MIN, "15 minutes"),
        (HOUR, "1 hour"),
        (4 * HOUR, "4 hours"),
        (90 * MIN, "1 hour 30 minutes"),
        (48 * HOUR, "2 days"),
        (timedelta(days=1, minutes=1), "1 day 1 minute"),
        (timedelta(seconds=45), "45 seconds"),
        (timedelta(0), "0 minutes"),
        (-15 * MIN, "-15 minutes"),
    ],
)
def test_format_duration(span: timedelta, text: str) -> None:
    assert format_duration(span) == text


def test_format_duration_without_days() -> None:
    assert format_duration(72 * HOUR, days=False) == "72 hours"


@pytest.mark.parametrize(
    ("target", "text"),
    [
        (Target("business", 4 * HOUR), "4 business hours"),
        (Target("business", 90 * MIN), "1 business hour 30 minutes"),
        (Target("business", 48 * HOUR), "48 business hours"),
        (Target("clock", 48 * HOUR), "2 days"),
        (Target("business_days", 1), "1 business day"),
        (Target("business_days", 3), "3 business days"),
        (Target("business_days_end", 1), "end of next business day"),
        (Target("business_days_end", 3), "end of 3rd business day"),
        (Target("business_days_end", 11), "end of 11th business day"),
        (Target("business_days_end", 22), "end of 22nd business day"),
        (NO_TARGET, "no target"),
    ],
)
def test_format_target(target: Target, text: str) -> None:
    assert format_target(target) == text
    assert str(target) == text


_spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)).map(
    lambda d: timedelta(seconds=int(d.total_seconds()))
)
_targets = st.one_of(
    st.just(NO_TARGET),
    st.builds(Target, st.sampled_from(["clock", "business"]), _spans),
    st.builds(Target, st.just("business_days"), st.integers(0, 99)),
    st.builds(Target, st.just("business_days_end"), st.integers(1, 99)),
)


@given(_targets)
def test_formatted_targets_read_back(target: Target) -> None:
    assert parse_target(format_target(target)) == target


@pytest.mark.parametrize(("text", "minutes"), [
    ("mean 15 minutes", 15), ("Mean time to restore is 15 minutes", 15), ("mean time to restore 72 hours", 72 * 60),
    ("an average of 2 hours", 120),
])
def test_a_mean_is_timed_but_never_due(text: str, minutes: int) -> None:
    target = parse_target(text)
    assert (target.kind, target.amount) == ("mean", timedelta(minutes=minutes))
    assert deadline(target, datetime(2026, 11, 14, 3, 0, tzinfo=UTC), TWENTY_FOUR_SEVEN) is None
    assert parse_target(format_target(target)) == target


def test_a_mean_in_business_time_is_refused_with_the_form_to_use() -> None:
    with pytest.raises(DurationError, match='a mean is written in clock time, like "mean 15 minutes"'):
        parse_target("mean 4 business hours")
