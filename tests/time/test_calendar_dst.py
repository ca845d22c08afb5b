"""BusinessCalendar across both DST changes in both hemispheres, and in a customer's zone.

2026 changes, worked out by hand (local wall clock):
- Europe/London:    Sun 29 Mar 01:00 GMT -> 02:00 BST; Sun 25 Oct 02:00 BST -> 01:00 GMT.
- Europe/Berlin:    Sun 29 Mar 02:00 CET -> 03:00 CEST; Sun 25 Oct 03:00 CEST -> 02:00 CET.
- America/New_York: Sun 8 Mar 02:00 EST -> 03:00 EDT; Sun 1 Nov 02:00 EDT -> 01:00 EST.
- Australia/Sydney: Sun 5 Apr 03:00 AEDT -> 02:00 AEST; Sun 4 Oct 02:00 AEST -> 03:00 AEDT.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.time import BusinessCalendar, CalendarError, PublicHolidays, WeeklyHours

LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
H = timedelta(hours=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def weekdays(
    name: str, zone: ZoneInfo, hours: str, holidays: PublicHolidays | None = None
) -> BusinessCalendar:
    return BusinessCalendar(name, zone, WeeklyHours.uniform("mon-fri", hours), holidays)


def daily(name: str, zone: ZoneInfo, hours: str) -> BusinessCalendar:
    # A holiday list keeps "00:00-24:00" calendars off the always-open shortcut.
    return BusinessCalendar(name, zone, WeeklyHours.uniform("daily", hours), PublicHolidays("GB", "ENG"))


class TestLondon:
    UK = weekdays("uk", LONDON, "09:00-18:00", PublicHolidays("GB", "ENG"))
    LITE = BusinessCalendar("lite", LONDON, WeeklyHours.uniform("daily", "08:00-18:00"))

    def test_spring_weekend(self) -> None:
        # Fri 27 Mar 17:00 GMT: 1 h. Mon 30 Mar is BST: 09:00 BST = 08:00 UTC, + 1 h.
        assert self.UK.add(utc(2026, 3, 27, 17, 0), 2 * H) == utc(2026, 3, 30, 9, 0)
        assert self.UK.elapsed(utc(2026, 3, 27, 0, 0), utc(2026, 3, 30, 23, 0)) == 18 * H

    def test_autumn_weekend(self) -> None:
        # Fri 23 Oct 17:00 BST (16:00 UTC): 1 h. Mon 26 Oct 09:00 GMT = 09:00 UTC, + 1 h.
        assert self.UK.add(utc(2026, 10, 23, 16, 0), 2 * H) == utc(2026, 10, 26, 10, 0)
        # Fri 12:00 BST -> Mon 12:00 GMT: 6 h + 3 h of business time in 73 real hours.
        assert self.UK.elapsed(utc(2026, 10, 23, 11, 0), utc(2026, 10, 26, 12, 0)) == 9 * H

    def test_seven_day_desk_on_the_change_days(self) -> None:
        # Sat 28 Mar 17:00 GMT: 1 h; Sun 29 Mar 08:00 BST = 07:00 UTC, + 1 h.
        assert self.LITE.add(utc(2026, 3, 28, 17, 0), 2 * H) == utc(2026, 3, 29, 8, 0)
        # Sat 24 Oct 17:00 BST (16:00 UTC): 1 h; Sun 25 Oct 08:00 GMT = 08:00 UTC, + 1 h.
        assert self.LITE.add(utc(2026, 10, 24, 16, 0), 2 * H) == utc(2026, 10, 25, 9, 0)
        # Both change days still have 10 open hours: the change happens at night.
        assert self.LITE.elapsed(utc(2026, 3, 29, 0, 0), utc(2026, 3, 30, 0, 0)) == 10 * H
        assert self.LITE.elapsed(utc(2026, 10, 25, 0, 0), utc(2026, 10, 26, 0, 0)) == 10 * H

    def test_whole_day_desk_has_23_and_25_hour_days(self) -> None:
        cal = daily("all-day", LONDON, "00:00-24:00")
        assert cal.open_intervals(date(2026, 3, 29)) == ((utc(2026, 3, 29, 0), utc(2026, 3, 29, 23)),)
        assert cal.open_intervals(date(2026, 10, 25)) == ((utc(2026, 10, 24, 23), utc(2026, 10, 26, 0)),)
        # Sat 28 Mar 12:00 GMT + 24 business hours = 24 real hours = Sun 13:00 BST.
        assert cal.add(utc(2026, 3, 28, 12, 0), 24 * H) == utc(2026, 3, 29, 12, 0)

    def test_hours_inside_the_skipped_hour(self) -> None:
        # "01:30-03:00": the wall clock shows it from 02:00 BST (01:00 UTC, the jump) to
        # 03:00 BST (02:00 UTC): one hour, where an ordinary day has an hour and a half.
        cal = daily("night", LONDON, "01:30-03:00")
        assert cal.open_intervals(date(2026, 3, 28)) == ((utc(2026, 3, 28, 1, 30), utc(2026, 3, 28, 3)),)
        assert cal.open_intervals(date(2026, 3, 29)) == ((utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),)
        assert cal.is_open(utc(2026, 3, 29, 1, 0))
        assert not cal.is_open(utc(2026, 3, 29, 0, 59))

    def test_hours_inside_the_repeated_hour(self) -> None:
        # "01:30-03:00" on 25 Oct: from the first 01:30 (BST, 00:30 UTC) to 03:00 GMT (03:00
        # UTC): two and a half hours, as the clock passes 01:30-02:00 twice.
        cal = daily("night", LONDON, "01:30-03:00")
        assert cal.open_intervals(date(2026, 10, 25)) == ((utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3)),)

    def test_split_shift_meeting_in_the_repeated_hour_does_not_double_count(self) -> None:
        # "00:00-01:30" ends at the second 01:30 (GMT, 01:30 UTC); "01:30-03:00" starts at the
        # first one (BST, 00:30 UTC). Together they are one stretch from 00:00 BST (23:00 UTC
        # on the 24th) to 03:00 GMT: 4 hours, not 5.
        cal = BusinessCalendar(
            "split-night", LONDON, WeeklyHours.uniform("sun", ["00:00-01:30", "01:30-03:00"])
        )
        assert cal.open_intervals(date(2026, 10, 25)) == ((utc(2026, 10, 24, 23), utc(2026, 10, 25, 3)),)
        assert cal.elapsed(utc(2026, 10, 24, 0), utc(2026, 10, 26, 0)) == 4 * H


class TestBerlin:
    MUNICH = BusinessCalendar(
        "munich", BERLIN, WeeklyHours.uniform("mon-fri", ["08:00-12:00", "13:00-17:00"])
    )

    def test_spring_split_shift(self) -> None:
        # Fri 27 Mar 16:00 CET (15:00 UTC): 1 h. Mon 30 Mar 08:00 CEST = 06:00 UTC, + 1 h.
        assert self.MUNICH.add(utc(2026, 3, 27, 15, 0), 2 * H) == utc(2026, 3, 30, 7, 0)

    def test_autumn_split_shift(self) -> None:
        # Fri 23 Oct 16:00 CEST (14:00 UTC): 1 h. Mon 26 Oct 08:00 CET = 07:00 UTC, + 4 h to
        # 12:00 CET, lunch, + 1 h from 13:00 CET -> 14:00 CET = 13:00 UTC.
        assert self.MUNICH.add(utc(2026, 10, 23, 14, 0), 6 * H) == utc(2026, 10, 26, 13, 0)

    def test_opening_hours_02_to_03_on_the_change_days(self) -> None:
        cal = daily("night", BERLIN, "02:00-03:00")
        # 29 Mar: 02:00-03:00 does not exist in Berlin; the desk never opens that day.
        assert cal.open_intervals(date(2026, 3, 29)) == ()
        assert not cal.is_business_day(date(2026, 3, 29))
        # Sat 28 Mar 02:30 CET (01:30 UTC): 30 min; Sunday gives nothing; Mon 30 Mar 02:00
        # CEST = 00:00 UTC, + 30 min.
        assert cal.add(utc(2026, 3, 28, 1, 30), H) == utc(2026, 3, 30, 0, 30)
        # 25 Oct: 02:00-03:00 happens twice: 02:00 CEST (00:00 UTC) to 03:00 CET (02:00 UTC).
        assert cal.open_intervals(date(2026, 10, 25)) == ((utc(2026, 10, 25, 0), utc(2026, 10, 25, 2)),)


class TestNewYork:
    NY = weekdays("ny", NEW_YORK, "09:00-17:00", PublicHolidays("US", "NY"))

    def test_spring(self) -> None:
        # Fri 6 Mar 16:00 EST (21:00 UTC): 1 h. Mon 9 Mar 09:00 EDT = 13:00 UTC, + 1 h.
        assert self.NY.add(utc(2026, 3, 6, 21, 0), 2 * H) == utc(2026, 3, 9, 14, 0)

    def test_autumn_and_election_day(self) -> None:
        # Fri 30 Oct 16:00 EDT (20:00 UTC): 1 h. Mon 2 Nov 09:00 EST = 14:00 UTC, + 1 h.
        assert self.NY.add(utc(2026, 10, 30, 20, 0), 2 * H) == utc(2026, 11, 2, 15, 0)
        # Mon 2 Nov 16:00 EST: 1 h; Tue 3 Nov is Election Day in New York; Wed 09:00 + 1 h.
        assert self.NY.add(utc(2026, 11, 2, 21, 0), 2 * H) == utc(2026, 11, 4, 15, 0)


class TestSydney:
    SYD = weekdays("syd", SYDNEY, "09:00-17:00", PublicHolidays("AU", "NSW"))
    SEVEN = BusinessCalendar("syd7", SYDNEY, WeeklyHours.uniform("daily", "08:00-18:00"))

    def test_dst_ends_over_easter(self) -> None:
        # Thu 2 Apr 16:00 AEDT (05:00 UTC): 1 h. Good Friday 3 Apr, Easter Monday 6 Apr
        # closed. Tue 7 Apr 09:00 AEST = Mon 6 Apr 23:00 UTC, + 1 h.
        assert self.SYD.add(utc(2026, 4, 2, 5, 0), 2 * H) == utc(2026, 4, 7, 0, 0)

    def test_dst_starts_before_labour_day(self) -> None:
        # Fri 2 Oct 16:00 AEST (06:00 UTC): 1 h. Mon 5 Oct is Labour Day. Tue 6 Oct 09:00 AEDT
        # = Mon 5 Oct 22:00 UTC, + 1 h.
        assert self.SYD.add(utc(2026, 10, 2, 6, 0), 2 * H) == utc(2026, 10, 5, 23, 0)

    def test_seven_day_desk_on_the_change_days(self) -> None:
        # Sat 4 Apr 17:00 AEDT (06:00 UTC): 1 h. Sun 5 Apr 08:00 AEST = Sat 22:00 UTC, + 1 h.
        assert self.SEVEN.add(utc(2026, 4, 4, 6, 0), 2 * H) == utc(2026, 4, 4, 23, 0)
        # Sat 3 Oct 17:00 AEST (07:00 UTC): 1 h. Sun 4 Oct 08:00 AEDT = Sat 21:00 UTC, + 1 h.
        assert self.SEVEN.add(utc(2026, 10, 3, 7, 0), 2 * H) == utc(2026, 10, 3, 22, 0)

    def test_night_hours_on_the_change_days(self) -> None:
        cal = daily("syd-night", SYDNEY, "02:00-03:00")
        # 4 Oct: 02:00 AEST jumps to 03:00 AEDT, so the range is never on the clock.
        assert cal.open_intervals(date(2026, 10, 4)) == ()
        # 5 Apr: 02:00 AEDT (Sat 15:00 UTC) to 03:00 AEST (Sat 17:00 UTC): two hours.
        assert cal.open_intervals(date(2026, 4, 5)) == ((utc(2026, 4, 4, 15), utc(2026, 4, 4, 17)),)

    def test_whole_day_desk(self) -> None:
        cal = daily("syd-all", SYDNEY, "00:00-24:00")
        # 5 Apr 00:00 AEDT = 4 Apr 13:00 UTC; 6 Apr 00:00 AEST = 5 Apr 14:00 UTC: 25 hours.
        assert cal.open_intervals(date(2026, 4, 5)) == ((utc(2026, 4, 4, 13), utc(2026, 4, 5, 14)),)
        # 4 Oct 00:00 AEST = 3 Oct 14:00 UTC; 5 Oct 00:00 AEDT = 4 Oct 13:00 UTC: 23 hours.
        assert cal.open_intervals(date(2026, 10, 4)) == ((utc(2026, 10, 3, 14), utc(2026, 10, 4, 13)),)


class TestCustomerTimeZone:
    """Seed 3: "business hours Monday through Friday, 8:00am to 5:00pm customer local time"."""

    TEAM = weekdays("team", LONDON, "08:00-17:00", PublicHolidays("GB", "ENG"))
    CUSTOMER = TEAM.with_timezone("Australia/Sydney")

    def test_same_hours_in_the_customers_zone(self) -> None:
        assert self.CUSTOMER.name == "team@Australia/Sydney"
        assert self.CUSTOMER.timezone == SYDNEY
        assert self.CUSTOMER.weekly == self.TEAM.weekly
        # Mon 1 Jun 00:00 UTC is 10:00 AEST in Sydney (open) but 01:00 BST in London.
        start = utc(2026, 6, 1, 0, 0)
        assert self.CUSTOMER.add(start, 2 * H) == utc(2026, 6, 1, 2, 0)  # 12:00 AEST
        assert self.TEAM.add(start, 2 * H) == utc(2026, 6, 1, 9, 0)  # 10:00 BST

    def test_team_holidays_stay_unless_replaced(self) -> None:
        # Fri 5 Jun 16:00 AEST (06:00 UTC): 1 h. Mon 8 Jun (King's Birthday in NSW, not a GB
        # holiday) opens 08:00 AEST = Sun 22:00 UTC, + 1 h.
        assert self.CUSTOMER.add(utc(2026, 6, 5, 6, 0), 2 * H) == utc(2026, 6, 7, 23, 0)
        # With the customer's holidays Monday is closed: Tue 9 Jun 09:00 AEST = Mon 23:00 UTC.
        nsw = self.CUSTOMER.with_holidays(PublicHolidays("AU", "NSW"))
        assert nsw.add(utc(2026, 6, 5, 6, 0), 2 * H) == utc(2026, 6, 8, 23, 0)

    def test_team_holiday_closes_that_local_date_for_the_customer(self) -> None:
        # Fri 22 May 16:00 AEST: 1 h. Mon 25 May (Spring bank holiday in England) is closed;
        # Tue 26 May 08:00 AEST = Mon 22:00 UTC, + 1 h.
        assert self.CUSTOMER.add(utc(2026, 5, 22, 6, 0), 2 * H) == utc(2026, 5, 25, 23, 0)

    def test_customers_dst_change(self) -> None:
        # Fri 2 Oct 16:00 AEST (06:00 UTC): 1 h. Mon 5 Oct 08:00 AEDT = Sun 21:00 UTC, + 1 h.
        assert self.CUSTOMER.add(utc(2026, 10, 2, 6, 0), 2 * H) == utc(2026, 10, 4, 22, 0)

    def test_one_business_day_in_the_customers_zone(self) -> None:
        # Tue 2 Jun 11:30 AEST (01:30 UTC) -> Wed 3 Jun 11:30 AEST.
        assert self.CUSTOMER.same_time_business_days(utc(2026, 6, 2, 1, 30), 1) == utc(2026, 6, 3, 1, 30)

    def test_rezoning_twice_keeps_one_suffix(self) -> None:
        assert self.CUSTOMER.with_timezone(NEW_YORK).name == "team@America/New_York"


def test_half_hour_dst_shift_on_lord_howe_island() -> None:
    # Lord Howe moves between +10:30 and +11:00. On Sun 4 Oct 02:00 the clock jumps to 02:30
    # (15:30 UTC on the 3rd), so "02:00-03:00" is on the clock for 30 minutes, to 16:00 UTC.
    cal = BusinessCalendar(
        "lhi", ZoneInfo("Australia/Lord_Howe"), WeeklyHours.uniform("daily", "02:00-03:00")
    )
    assert cal.open_intervals(date(2026, 10, 4)) == ((utc(2026, 10, 3, 15, 30), utc(2026, 10, 3, 16)),)


def test_with_timezone_rejects_unknown_zones_and_is_memoised() -> None:
    team = weekdays("team", LONDON, "08:00-17:00")
    with pytest.raises(CalendarError, match="unknown time zone 'Mars/Olympus'"):
        team.with_timezone("Mars/Olympus")
    assert team.with_timezone("Australia/Sydney") is team.with_timezone(SYDNEY)
