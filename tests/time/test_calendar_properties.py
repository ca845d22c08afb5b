"""Properties of business-time arithmetic over a small family of awkward calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.time import TWENTY_FOUR_SEVEN, BusinessCalendar, PublicHolidays, WeeklyHours

LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
TINY = timedelta(microseconds=1)

FAMILY = [
    BusinessCalendar(
        "uk", LONDON, WeeklyHours.uniform("mon-fri", "09:00-18:00"), PublicHolidays("GB", "ENG")
    ),
    BusinessCalendar(
        "munich",
        ZoneInfo("Europe/Berlin"),
        WeeklyHours.uniform("mon-fri", ["08:00-12:00", "13:00-17:00", "02:00-03:00"]),
        PublicHolidays("DE", "BY"),
        closed=frozenset({date(2026, 12, 24)}),
        half_days=((date(2026, 12, 31), WeeklyHours.uniform("thu", "08:00-11:00").days[3]),),
    ),
    BusinessCalendar("syd7", SYDNEY, WeeklyHours.uniform("daily", "08:00-18:00")),
    BusinessCalendar(
        "syd-night",
        SYDNEY,
        WeeklyHours.uniform("sat-sun", ["00:00-02:30", "02:30-03:00", "09:00-10:00"]),
        PublicHolidays("AU", "NSW"),
    ),
    BusinessCalendar(
        "ny-evening",
        ZoneInfo("America/New_York"),
        WeeklyHours.uniform("mon-fri", "16:00-24:00"),
        PublicHolidays("US", "NY"),
    ),
    BusinessCalendar("london-night", LONDON, WeeklyHours.uniform("daily", ["00:00-01:30", "01:30-03:00"])),
    BusinessCalendar("london-all", LONDON, WeeklyHours.uniform("daily", "00:00-24:00"), PublicHolidays("GB")),
    TWENTY_FOUR_SEVEN,
]

calendars = st.sampled_from(FAMILY)
# Whole seconds from 2025 to 2028: four years of DST changes and holidays in every zone.
instants = st.integers(
    int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()),
    int(datetime(2028, 12, 31, tzinfo=UTC).timestamp()),
).map(lambda ts: datetime.fromtimestamp(ts, UTC))
spans = st.integers(0, 200 * 3600).map(lambda s: timedelta(seconds=s))
PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(calendars, instants, spans)
def test_elapsed_undoes_add(cal: BusinessCalendar, start: datetime, span: timedelta) -> None:
    due = cal.add(start, span)
    assert due >= start
    assert cal.elapsed(start, due) == span
    if span:  # and it is the first such instant
        assert cal.elapsed(start, due - TINY) < span


@PROPERTY
@given(calendars, instants, spans, spans)
def test_add_is_monotonic(cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta) -> None:
    small, large = sorted((a, b))
    assert cal.add(start, small) <= cal.add(start, large)


@PROPERTY
@given(calendars, instants, instants, instants)
def test_elapsed_adds_up(cal: BusinessCalendar, a: datetime, b: datetime, c: datetime) -> None:
    first, middle, last = sorted((a, b, c))
    if last - first > timedelta(days=120):
        last = first + timedelta(days=120)
        middle = min(middle, last)
    whole = cal.elapsed(first, last)
    assert whole == cal.elapsed(first, middle) + cal.elapsed(middle, last)
    assert timedelta(0) <= whole <= last - first


@PROPERTY
@given(calendars, instants)
def test_next_open_is_open_with_nothing_before(cal: BusinessCalendar, at: datetime) -> None:
    opens = cal.next_open(at)
    assert opens >= at
    assert cal.is_open(opens)
    assert cal.elapsed(at, opens) == timedelta(0)
    assert cal.is_open(at) == (opens == at)


@PROPERTY
@given(calendars, instants, st.integers(1, 25))
def test_business_days_land_on_a_close(cal: BusinessCalendar, start: datetime, n: int) -> None:
    close = cal.add_business_days(start, n)
    assert cal.is_open(close - TINY)
    assert close.astimezone(cal.timezone).date() > start.astimezone(cal.timezone).date()
    same_time = cal.same_time_business_days(start, n)
    assert cal.next_open(start) < same_time <= cal.add_business_days(cal.next_open(start), n)
