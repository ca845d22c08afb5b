"""Calendars from TOML tables, opening-hours notation, and errors that name the key."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.config.calendars import CalendarConfigError, calendar_from_table, calendars_from_table
from gateway.time import TWENTY_FOUR_SEVEN, BusinessCalendar, ClockRange, OpeningHoursError, PublicHolidays, WeeklyHours

# The five seeds' hours, as an operator would write them.
SEEDS = """
[calendars.ipscape]            # seed 0: "Monday to Friday, 9am-6pm" (P1 uses the built-in 24x7)
timezone = "Australia/Sydney"
days = "mon-fri"
open = "9am-6pm"
holidays = { country = "AU", subdiv = "NSW" }

[calendars.lite]               # seed 2: "08.00 - 18.00 (UK) 7 day"
timezone = "Europe/London"
days = "daily"
open = "08.00 - 18.00"

[calendars.purecloud]          # seed 3: "Monday through Friday, 8:00am to 5:00pm customer local time"
timezone = "America/New_York"  # the team's; the gateway re-zones it per customer
days = "monday-friday"
open = "8:00am-5:00pm"
holidays = "US"

[calendars.opscom]             # seed 4: "Mon-Fri 9-5 EST"
timezone = "America/New_York"
hours = { "mon-fri" = "09:00-17:00" }

[calendars.uk]
timezone = "Europe/London"
holidays = { country = "GB", subdiv = "ENG" }
closed = ["2026-12-24", 2026-12-29, "2027-12-29..2027-12-31"]
half_days = { "2026-12-31" = ["09:00-13:00"] }

[calendars.uk.hours]
mon = ["09:00-18:00"]
tue = "09:00-18:00"
wed = ["09:00-12:00", "13:00-18:00"]
"thu-fri" = "09:00-18:00"
"""


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def calendars() -> dict[str, BusinessCalendar]:
    return calendars_from_table(tomllib.loads(SEEDS)["calendars"])


def error_for(table: dict[str, Any]) -> CalendarConfigError:
    with pytest.raises(CalendarConfigError) as info:
        calendar_from_table("uk", table)
    return info.value


BASE: dict[str, Any] = {"timezone": "Europe/London", "days": "mon-fri", "open": "09:00-18:00"}


class TestTables:
    def test_seeds_load_with_the_builtin_24x7(self) -> None:
        cals = calendars()
        assert set(cals) == {"24x7", "ipscape", "lite", "purecloud", "opscom", "uk"}
        assert cals["24x7"] is TWENTY_FOUR_SEVEN

    def test_compact_and_per_day_forms(self) -> None:
        cals = calendars()
        assert cals["ipscape"].weekly == WeeklyHours.uniform("mon-fri", "09:00-18:00")
        assert cals["lite"].weekly == WeeklyHours.uniform("daily", "08:00-18:00")
        assert cals["purecloud"].weekly == WeeklyHours.uniform("mon-fri", "08:00-17:00")
        assert cals["opscom"].weekly == WeeklyHours.uniform("mon-fri", "09:00-17:00")
        assert str(cals["uk"].weekly) == (
            "mon 09:00-18:00; tue 09:00-18:00; wed 09:00-12:00, 13:00-18:00; thu 09:00-18:00; fri 09:00-18:00"
        )

    def test_full_table(self) -> None:
        uk = calendars()["uk"]
        assert uk.timezone == ZoneInfo("Europe/London")
        assert uk.holidays == PublicHolidays("GB", "ENG")
        assert uk.closed == frozenset(
            {date(2026, 12, 24), date(2026, 12, 29), date(2027, 12, 29), date(2027, 12, 30),
             date(2027, 12, 31)}
        )  # fmt: skip
        assert uk.half_days == ((date(2026, 12, 31), (ClockRange(540, 780),)),)
        # Wed 23 Dec 17:00: 1 h; 24 closed, 25 and 28 holidays, 29 closed; Wed 30 09:00 + 1 h.
        assert uk.add(utc(2026, 12, 23, 17, 0), 2 * timedelta(hours=1)) == utc(2026, 12, 30, 10)

    def test_hours_override_the_compact_form_per_day(self) -> None:
        cal = calendar_from_table("x", {**BASE, "hours": {"fri": "09:00-16:00", "sat": "10-12"}})
        assert cal.weekly.days[3] == (ClockRange(540, 1080),)
        assert cal.weekly.days[4] == (ClockRange(540, 960),)
        assert cal.weekly.days[5] == (ClockRange(600, 720),)

    def test_holidays_can_be_switched_off(self) -> None:
        assert calendar_from_table("x", {**BASE, "holidays": False}).holidays is None


class TestErrorsNameTheKey:
    def test_bad_range(self) -> None:
        err = error_for({**BASE, "hours": {"mon": "9-6pm-ish"}})
        assert err.key == "calendars.uk.hours.mon"
        assert "HH:MM-HH:MM" in str(err)

    def test_range_across_midnight(self) -> None:
        err = error_for({**BASE, "open": "22:00-06:00"})
        assert err.key == "calendars.uk.open"
        assert "cannot cross midnight" in err.message

    def test_overlapping_ranges(self) -> None:
        err = error_for({**BASE, "hours": {"wed": ["09:00-13:00", "12:00-18:00"]}})
        assert err.key == "calendars.uk.hours.wed"
        assert "overlap" in err.message

    def test_unknown_day(self) -> None:
        assert error_for({**BASE, "days": "mon-fry"}).key == "calendars.uk.days"
        assert error_for({**BASE, "hours": {"mun": "09:00-17:00"}}).key == "calendars.uk.hours.mun"

    def test_day_set_twice(self) -> None:
        err = error_for({**BASE, "hours": {"mon-wed": "09:00-17:00", "wed": "10:00-12:00"}})
        assert err.key == "calendars.uk.hours.wed"

    def test_timezone(self) -> None:
        assert error_for({"days": "mon-fri", "open": "09:00-17:00"}).key == "calendars.uk.timezone"
        err = error_for({**BASE, "timezone": "Europe/Londn"})
        assert err.key == "calendars.uk.timezone"
        assert "IANA" in err.message

    def test_unknown_key(self) -> None:
        err = error_for({**BASE, "timezon": "Europe/London"})
        assert err.key == "calendars.uk.timezon"
        assert "unknown key" in err.message

    def test_days_without_open_and_no_hours(self) -> None:
        assert error_for({"timezone": "UTC", "days": "mon-fri"}).key == "calendars.uk.open"
        assert "no opening hours" in error_for({"timezone": "UTC"}).message
        assert error_for({"timezone": "UTC", "hours": {"mon": "closed"}}).key == "calendars.uk"

    def test_holidays(self) -> None:
        err = error_for({**BASE, "holidays": {"country": "XX"}})
        assert err.key == "calendars.uk.holidays"
        assert "ISO 3166" in err.message
        assert error_for({**BASE, "holidays": {"country": "GB", "region": "ENG"}}).key == (
            "calendars.uk.holidays.region"
        )
        assert error_for({**BASE, "holidays": {"country": "GB", "subdiv": "XXX"}}).key == (
            "calendars.uk.holidays"
        )

    def test_closed_dates(self) -> None:
        err = error_for({**BASE, "closed": ["2026-12-24", "24/12/2026"]})
        assert err.key == "calendars.uk.closed[1]"
        assert "YYYY-MM-DD" in err.message
        assert error_for({**BASE, "closed": ["2026-12-31..2026-12-24"]}).key == ("calendars.uk.closed[0]")

    def test_half_day_also_closed(self) -> None:
        err = error_for({**BASE, "closed": ["2026-12-31"], "half_days": {"2026-12-31": "09-13"}})
        assert err.key == "calendars.uk.half_days.2026-12-31"

    def test_builtin_name_is_reserved(self) -> None:
        with pytest.raises(CalendarConfigError) as info:
            calendars_from_table({"24x7": BASE})
        assert info.value.key == "calendars.24x7"

    def test_message_starts_with_the_key(self) -> None:
        assert str(error_for({**BASE, "days": "weekdays"})).startswith("calendars.uk.days: ")


class TestOpeningHoursNotation:
    @pytest.mark.parametrize(
        ("text", "start", "end"),
        [
            ("09:00-18:00", 540, 1080),
            ("9:00 - 18:00", 540, 1080),
            ("08.00 - 18.00", 480, 1080),
            ("9am-6pm", 540, 1080),
            ("8:00am to 5:00pm", 480, 1020),
            ("12pm-12:30pm", 720, 750),
            ("00:00-24:00", 0, 1440),
            ("22:00-00:00", 1320, 1440),
        ],
    )
    def test_ranges(self, text: str, start: int, end: int) -> None:
        assert ClockRange.parse(text) == ClockRange(start, end)

    @pytest.mark.parametrize("text", ["25:00-26:00", "09:60-10:00", "13pm-2pm", "9", "18-9"])
    def test_bad_ranges(self, text: str) -> None:
        with pytest.raises(OpeningHoursError, match=r"HH:MM|not a|ends before"):
            ClockRange.parse(text)

    def test_day_lists(self) -> None:
        assert WeeklyHours.uniform("fri-mon", "09:00-17:00") == WeeklyHours.uniform(
            "mon, fri, sat, sun", "09:00-17:00"
        )
        assert WeeklyHours.uniform("mon-fri", "closed").is_empty()

    def test_touching_ranges_merge(self) -> None:
        hours = WeeklyHours.uniform("mon", ["12:00-18:00", "09:00-12:00"])
        assert hours.days[0] == (ClockRange(540, 1080),)
