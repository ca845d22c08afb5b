"""BusinessCalendar on weekends, holidays, split shifts, 7-day desks, half days and closures.

Every expected instant below was worked out by hand from the calendar, not from the code:
the comment beside it gives the reasoning in local time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.time import TWENTY_FOUR_SEVEN, BusinessCalendar, CalendarError, PublicHolidays, WeeklyHours

LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


# seed 0: "Monday to Friday, 9am-6pm", here in the UK with English bank holidays.
UK = BusinessCalendar(
    "uk", LONDON, WeeklyHours.uniform("mon-fri", "09:00-18:00"), PublicHolidays("GB", "ENG")
)
# A split shift with a lunch break, Bavarian holidays.
MUNICH = BusinessCalendar(
    "munich",
    BERLIN,
    WeeklyHours.uniform("mon-fri", ["08:00-12:00", "13:00-17:00"]),
    PublicHolidays("DE", "BY"),
)
# seed 2: "08.00 - 18.00 (UK) 7 day".
LITE = BusinessCalendar("lite", LONDON, WeeklyHours.uniform("daily", "08.00 - 18.00"))
# An evening desk whose shift ends at midnight.
EVENING = BusinessCalendar("evening", NEW_YORK, WeeklyHours.uniform("mon-fri", "16:00-24:00"))
# seed 3: "Monday through Friday, 8:00am to 5:00pm" (the "1 business day" response).
EIGHT_FIVE = BusinessCalendar(
    "eight-five",
    LONDON,
    WeeklyHours.uniform("mon-fri", "8:00am-5:00pm"),
    PublicHolidays("GB", "ENG"),
    half_days=((date(2026, 12, 31), WeeklyHours.uniform("thu", "08:00-12:00").days[3]),),
)


class TestOpenAndNextOpen:
    def test_open_inside_hours_closed_at_the_closing_minute(self) -> None:
        # Mon 2 March 2026 is GMT, so local time equals UTC.
        assert UK.is_open(utc(2026, 3, 2, 9, 0))
        assert UK.is_open(utc(2026, 3, 2, 17, 59, 59))
        assert not UK.is_open(utc(2026, 3, 2, 18, 0))
        assert not UK.is_open(utc(2026, 3, 2, 8, 59, 59))

    def test_next_open_is_the_instant_itself_when_open(self) -> None:
        assert UK.next_open(utc(2026, 3, 2, 10, 30)) == utc(2026, 3, 2, 10, 30)

    def test_next_open_after_friday_close_is_monday_morning(self) -> None:
        # Fri 6 March 18:30 -> Mon 9 March 09:00 GMT.
        assert UK.next_open(utc(2026, 3, 6, 18, 30)) == utc(2026, 3, 9, 9, 0)
        assert not UK.is_open(utc(2026, 3, 7, 12, 0))

    def test_next_open_skips_christmas_and_boxing_day_observed(self) -> None:
        # Thu 24 Dec 2026 19:00 -> Fri 25 Christmas, Sat 26, Sun 27, Mon 28 Boxing Day
        # (observed, the 26th is a Saturday) -> Tue 29 Dec 09:00 GMT.
        assert UK.next_open(utc(2026, 12, 24, 19, 0)) == utc(2026, 12, 29, 9, 0)

    def test_next_open_in_the_lunch_break_is_the_afternoon_shift(self) -> None:
        # Mon 2 March 12:30 CET (11:30 UTC) -> 13:00 CET = 12:00 UTC.
        assert not MUNICH.is_open(utc(2026, 3, 2, 11, 30))
        assert MUNICH.next_open(utc(2026, 3, 2, 11, 30)) == utc(2026, 3, 2, 12, 0)

    def test_returns_utc_for_an_instant_given_in_another_zone(self) -> None:
        at = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)  # 09:00 UTC, open in London
        result = UK.next_open(at)
        assert result == utc(2026, 3, 2, 9, 0)
        assert result.tzinfo is UTC


class TestAdd:
    def test_across_a_weekend(self) -> None:
        # Fri 6 March 16:00 GMT: 2 h left on Friday, 2 h more from Mon 09:00 -> Mon 11:00.
        assert UK.add(utc(2026, 3, 6, 16, 0), 4 * H) == utc(2026, 3, 9, 11, 0)

    def test_start_outside_hours_counts_from_next_open(self) -> None:
        # Sat 7 March 12:00 -> counting starts Mon 09:00 -> 13:00.
        assert UK.add(utc(2026, 3, 7, 12, 0), 4 * H) == utc(2026, 3, 9, 13, 0)

    def test_ending_exactly_at_close_returns_the_close(self) -> None:
        # Fri 17:00 + 1 h is Fri 18:00, not Mon 09:00: the earliest instant it has elapsed.
        assert UK.add(utc(2026, 3, 6, 17, 0), H) == utc(2026, 3, 6, 18, 0)

    def test_zero_is_due_at_start_even_when_closed(self) -> None:
        assert UK.add(utc(2026, 3, 7, 12, 0), timedelta(0)) == utc(2026, 3, 7, 12, 0)

    def test_christmas_2026(self) -> None:
        # Thu 24 Dec 17:00: 1 h on Thursday; 25 and 28 are holidays; 3 h from Tue 29 09:00.
        assert UK.add(utc(2026, 12, 24, 17, 0), 4 * H) == utc(2026, 12, 29, 12, 0)

    def test_easter_2026(self) -> None:
        # Thu 2 April 17:00 BST (16:00 UTC): 1 h on Thursday; Good Friday 3 April and Easter
        # Monday 6 April closed; 1 h from Tue 7 April 09:00 BST -> 10:00 BST = 09:00 UTC.
        assert UK.add(utc(2026, 4, 2, 16, 0), 2 * H) == utc(2026, 4, 7, 9, 0)

    def test_friday_1750_before_a_bank_holiday_monday(self) -> None:
        # Fri 22 May 17:50 BST (16:50 UTC): 10 min on Friday; Mon 25 May is the Spring bank
        # holiday; 3 h 50 from Tue 26 May 09:00 BST -> 12:50 BST = 11:50 UTC.
        assert UK.add(utc(2026, 5, 22, 16, 50), 4 * H) == utc(2026, 5, 26, 11, 50)

    def test_split_shift_skips_lunch(self) -> None:
        # Mon 2 March 11:00 CET: 1 h to 12:00, lunch, 1 h from 13:00 -> 14:00 CET = 13:00 UTC.
        assert MUNICH.add(utc(2026, 3, 2, 10, 0), 2 * H) == utc(2026, 3, 2, 13, 0)

    def test_split_shift_ending_at_noon_returns_noon(self) -> None:
        # Mon 08:00 CET + 4 h = 12:00 CET (11:00 UTC), the end of the morning shift.
        assert MUNICH.add(utc(2026, 3, 2, 7, 0), 4 * H) == utc(2026, 3, 2, 11, 0)

    def test_bavarian_epiphany(self) -> None:
        # Mon 5 Jan 16:00 CET: 1 h; Tue 6 Jan is Epiphany in Bavaria; Wed 08:00 + 1 h = 09:00
        # CET = 08:00 UTC.
        assert MUNICH.add(utc(2026, 1, 5, 15, 0), 2 * H) == utc(2026, 1, 7, 8, 0)

    def test_seven_day_desk_works_the_weekend(self) -> None:
        # Sat 7 March 17:00 GMT: 1 h on Saturday, 7 h from Sun 08:00 -> Sun 15:00.
        assert LITE.add(utc(2026, 3, 7, 17, 0), 8 * H) == utc(2026, 3, 8, 15, 0)

    def test_shift_ending_at_midnight(self) -> None:
        # Fri 6 March 23:00 EST (Sat 04:00 UTC): 1 h until 24:00 EST (05:00 UTC). US clocks
        # go forward on Sun 8 March, so Mon 9 March 16:00 is EDT = 20:00 UTC; + 1 h -> 21:00.
        assert EVENING.add(utc(2026, 3, 7, 4, 0), 2 * H) == utc(2026, 3, 9, 21, 0)
        assert EVENING.add(utc(2026, 3, 7, 4, 0), H) == utc(2026, 3, 7, 5, 0)

    def test_twenty_four_seven_is_plain_elapsed_time(self) -> None:
        assert TWENTY_FOUR_SEVEN.add(utc(2026, 3, 7, 4, 0), 15 * M) == utc(2026, 3, 7, 4, 15)
        assert TWENTY_FOUR_SEVEN.add(utc(2026, 12, 25, 0, 0), 2 * H) == utc(2026, 12, 25, 2, 0)
        assert TWENTY_FOUR_SEVEN.name == "24x7"

    def test_negative_is_refused(self) -> None:
        with pytest.raises(CalendarError, match="negative"):
            UK.add(utc(2026, 3, 2, 9, 0), -H)


class TestElapsed:
    def test_across_a_weekend(self) -> None:
        # Fri 16:00-18:00 and Mon 09:00-11:00.
        assert UK.elapsed(utc(2026, 3, 6, 16, 0), utc(2026, 3, 9, 11, 0)) == 4 * H

    def test_zero_when_end_is_not_after_start(self) -> None:
        assert UK.elapsed(utc(2026, 3, 9, 11, 0), utc(2026, 3, 6, 16, 0)) == timedelta(0)
        assert UK.elapsed(utc(2026, 3, 9, 11, 0), utc(2026, 3, 9, 11, 0)) == timedelta(0)

    def test_a_plain_week_is_45_hours(self) -> None:
        assert UK.elapsed(utc(2026, 3, 2, 0, 0), utc(2026, 3, 9, 0, 0)) == 45 * H

    def test_easter_week_loses_good_friday(self) -> None:
        # Mon 30 March - Thu 2 April open (4 x 9 h), Good Friday closed.
        assert UK.elapsed(utc(2026, 3, 29, 23, 0), utc(2026, 4, 5, 23, 0)) == 36 * H

    def test_split_shift_day_is_eight_hours(self) -> None:
        assert MUNICH.elapsed(utc(2026, 3, 2, 6, 0), utc(2026, 3, 2, 17, 0)) == 8 * H

    def test_inside_lunch_counts_nothing(self) -> None:
        assert MUNICH.elapsed(utc(2026, 3, 2, 11, 5), utc(2026, 3, 2, 11, 55)) == timedelta(0)


class TestBusinessDays:
    def test_friday_1750_plus_three_is_wednesday_close(self) -> None:
        # Fri 6 March 17:50: Mon 9, Tue 10, Wed 11 -> Wed 18:00 GMT.
        assert UK.add_business_days(utc(2026, 3, 6, 17, 50), 3) == utc(2026, 3, 11, 18, 0)

    def test_saturday_plus_three_is_also_wednesday_close(self) -> None:
        assert UK.add_business_days(utc(2026, 3, 7, 10, 0), 3) == utc(2026, 3, 11, 18, 0)

    def test_the_start_date_never_counts_even_before_opening(self) -> None:
        # Mon 9 March 07:00 is before opening; day 1 is still Tuesday -> Thu 12 March 18:00.
        assert UK.add_business_days(utc(2026, 3, 9, 7, 0), 3) == utc(2026, 3, 12, 18, 0)

    def test_skips_a_bank_holiday_monday(self) -> None:
        # Fri 22 May 17:50 BST: Mon 25 holiday; Tue 26, Wed 27, Thu 28 -> 18:00 BST = 17:00 UTC.
        assert UK.add_business_days(utc(2026, 5, 22, 16, 50), 3) == utc(2026, 5, 28, 17, 0)

    def test_twenty_business_days_over_christmas(self) -> None:
        # From Mon 7 Dec 2026. Business days: Dec 8-11 (4), 14-18 (9), 21-24 (13; 25 and 28
        # are holidays), 29-31 (16; Jan 1 is a holiday), Jan 4-7 2027 (20) -> Thu 7 Jan 18:00.
        assert UK.add_business_days(utc(2026, 12, 7, 10, 0), 20) == utc(2027, 1, 7, 18, 0)

    def test_seven_day_desk_counts_weekends(self) -> None:
        # Fri 6 March: Sat 7, Sun 8, Mon 9 -> Mon 18:00 GMT.
        assert LITE.add_business_days(utc(2026, 3, 6, 17, 50), 3) == utc(2026, 3, 9, 18, 0)

    def test_zero_is_start_and_negative_is_refused(self) -> None:
        assert UK.add_business_days(utc(2026, 3, 7, 10, 0), 0) == utc(2026, 3, 7, 10, 0)
        with pytest.raises(CalendarError, match="negative"):
            UK.add_business_days(utc(2026, 3, 7, 10, 0), -1)

    def test_is_business_day(self) -> None:
        assert UK.is_business_day(date(2026, 12, 24))
        assert not UK.is_business_day(date(2026, 12, 25))
        assert not UK.is_business_day(date(2026, 12, 26))
        assert not UK.is_business_day(date(2026, 12, 28))


class TestSameTimeBusinessDays:
    """Seed 3's "1 business day" response: by the same time on the next business day."""

    def test_monday_morning_is_due_tuesday_same_time(self) -> None:
        assert EIGHT_FIVE.same_time_business_days(utc(2026, 3, 2, 10, 0), 1) == utc(2026, 3, 3, 10, 0)

    def test_friday_afternoon_is_due_monday_same_time(self) -> None:
        # Fri 6 March 16:59 GMT -> Mon 9 March 16:59.
        assert EIGHT_FIVE.same_time_business_days(utc(2026, 3, 6, 16, 59), 1) == utc(2026, 3, 9, 16, 59)

    def test_weekend_mail_is_due_at_mondays_close(self) -> None:
        # Saturday: the clock starts Mon 08:00, so one whole business day is done at Mon 17:00.
        assert EIGHT_FIVE.same_time_business_days(utc(2026, 3, 7, 10, 0), 1) == utc(2026, 3, 9, 17, 0)

    def test_mail_before_opening_is_due_at_that_days_close(self) -> None:
        assert EIGHT_FIVE.same_time_business_days(utc(2026, 3, 9, 6, 0), 1) == utc(2026, 3, 9, 17, 0)
        assert EIGHT_FIVE.same_time_business_days(utc(2026, 3, 9, 8, 0), 1) == utc(2026, 3, 9, 17, 0)

    def test_three_days(self) -> None:
        # Mon 2 March 10:00 -> Thu 5 March 10:00.
        assert EIGHT_FIVE.same_time_business_days(utc(2026, 3, 2, 10, 0), 3) == utc(2026, 3, 5, 10, 0)

    def test_skips_christmas(self) -> None:
        # Thu 24 Dec 10:00 -> next business day Tue 29 Dec 10:00.
        assert EIGHT_FIVE.same_time_business_days(utc(2026, 12, 24, 10, 0), 1) == utc(2026, 12, 29, 10, 0)

    def test_due_on_a_half_day_is_capped_at_its_close(self) -> None:
        # Wed 30 Dec 15:00 is 7 h into the day; Thu 31 Dec only opens 08:00-12:00 -> 12:00.
        assert EIGHT_FIVE.same_time_business_days(utc(2026, 12, 30, 15, 0), 1) == utc(2026, 12, 31, 12, 0)

    def test_split_shift_keeps_the_business_position(self) -> None:
        # Mon 14:00 CET is 5 h in (4 h morning + 1 h); Tue: 4 h morning + 1 h -> 14:00 CET.
        assert MUNICH.same_time_business_days(utc(2026, 3, 2, 13, 0), 1) == utc(2026, 3, 3, 13, 0)


class TestClosedAndHalfDays:
    CAL = BusinessCalendar(
        "uk-xmas",
        LONDON,
        WeeklyHours.uniform("mon-fri", "09:00-18:00"),
        PublicHolidays("GB", "ENG"),
        closed=frozenset({date(2026, 12, 24)}),
        half_days=(
            (date(2026, 12, 28), WeeklyHours.uniform("mon", "10:00-12:00").days[0]),
            (date(2026, 12, 31), WeeklyHours.uniform("thu", "09:00-13:00").days[3]),
        ),
    )

    def test_closed_date(self) -> None:
        # Wed 23 Dec 17:00: 1 h; Thu 24 closed; Fri 25 holiday; Mon 28 opens 10:00-12:00
        # (a half day beats the Boxing Day holiday) -> 11:00.
        assert self.CAL.add(utc(2026, 12, 23, 17, 0), 2 * H) == utc(2026, 12, 28, 11, 0)
        assert not self.CAL.is_open(utc(2026, 12, 24, 10, 0))

    def test_half_day_then_new_year(self) -> None:
        # Thu 31 Dec 12:00: 1 h until 13:00; Fri 1 Jan 2027 holiday; Mon 4 Jan 09:00 + 1 h.
        assert self.CAL.add(utc(2026, 12, 31, 12, 0), 2 * H) == utc(2027, 1, 4, 10, 0)
        assert not self.CAL.is_open(utc(2026, 12, 31, 13, 0))

    def test_closed_and_half_day_on_one_date_is_an_error(self) -> None:
        with pytest.raises(CalendarError, match="both closed and a half day"):
            BusinessCalendar(
                "bad",
                LONDON,
                WeeklyHours.uniform("mon-fri", "09:00-18:00"),
                closed=frozenset({date(2026, 12, 31)}),
                half_days=((date(2026, 12, 31), ()),),
            )


class TestErrors:
    def test_naive_datetimes_are_refused(self) -> None:
        naive = datetime(2026, 3, 2, 9, 0)
        for call in (
            lambda: UK.is_open(naive),
            lambda: UK.next_open(naive),
            lambda: UK.add(naive, H),
            lambda: UK.elapsed(naive, utc(2026, 3, 3, 9, 0)),
            lambda: UK.elapsed(utc(2026, 3, 1, 9, 0), naive),
            lambda: UK.add_business_days(naive, 1),
            lambda: UK.same_time_business_days(naive, 1),
        ):
            with pytest.raises(CalendarError, match="naive datetime"):
                call()

    def test_a_calendar_that_never_opens_fails_instead_of_looping(self) -> None:
        never = BusinessCalendar("never", LONDON, WeeklyHours.from_days({}))
        with pytest.raises(CalendarError, match="closed for over"):
            never.add(utc(2026, 3, 2, 9, 0), H)
        with pytest.raises(CalendarError, match="closed for over"):
            never.add_business_days(utc(2026, 3, 2, 9, 0), 1)

    def test_unknown_holiday_country(self) -> None:
        with pytest.raises(ValueError, match="no holiday list for XX"):
            PublicHolidays("XX")
        with pytest.raises(ValueError, match="GB/ZZZ"):
            PublicHolidays("GB", "ZZZ")


def test_calendars_are_immutable_and_comparable() -> None:
    same = BusinessCalendar(
        "uk", LONDON, WeeklyHours.uniform("mon-fri", "09:00-18:00"), PublicHolidays("GB", "ENG")
    )
    assert same == UK
    assert hash(same) == hash(UK)
    with pytest.raises(AttributeError):
        UK.name = "other"  # type: ignore[misc]
