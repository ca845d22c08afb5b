"""Microseconds per SLA deadline computation on a UK business calendar (run: python bench/business_time.py)."""

from __future__ import annotations

import dataclasses
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.time import BusinessCalendar, PublicHolidays, WeeklyHours, deadline, parse_target

UK = BusinessCalendar(
    "uk",
    ZoneInfo("Europe/London"),
    WeeklyHours.uniform("mon-fri", "09:00-18:00"),
    PublicHolidays("GB", "ENG"),
)
RUNS = 20_000


def starts(n: int) -> list[datetime]:
    """Random instants over 2026, so the runs cross weekends, holidays and both DST changes."""
    rng = random.Random(7)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [base + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(n)]


def per_call(label: str, call: Callable[[BusinessCalendar, datetime], object], cold: bool) -> None:
    instants = starts(RUNS)
    # Cold: a fresh calendar (empty per-day cache) for every call; holiday years stay cached.
    cals = [dataclasses.replace(UK) for _ in instants] if cold else [UK] * len(instants)
    for cal, at in zip(cals[:200], instants[:200], strict=True):  # warm holidays and imports
        call(cal, at)
    began = time.perf_counter()
    for cal, at in zip(cals, instants, strict=True):
        call(cal, at)
    micros = (time.perf_counter() - began) / len(instants) * 1e6
    print(f"{label:<44} {'cold' if cold else 'warm'}  {micros:8.1f} µs/call")


def main() -> None:
    four_hours, one_day, twenty = (parse_target(t) for t in ("4 business hours", "1 business day",
                                                             "20 business days"))  # fmt: skip
    end_twenty = parse_target("end of 20th business day")
    month = timedelta(days=28)
    cases: list[tuple[str, Callable[[BusinessCalendar, datetime], object]]] = [
        ('deadline("4 business hours")', lambda c, t: deadline(four_hours, t, c)),
        ('deadline("1 business day")', lambda c, t: deadline(one_day, t, c)),
        ('deadline("20 business days")', lambda c, t: deadline(twenty, t, c)),
        ('deadline("end of 20th business day")', lambda c, t: deadline(end_twenty, t, c)),
        ("add(160 business hours)", lambda c, t: c.add(t, timedelta(hours=160))),
        ("elapsed over 4 weeks", lambda c, t: c.elapsed(t, t + month)),
        ("is_open", lambda c, t: c.is_open(t)),
    ]
    for cold in (False, True):
        for label, call in cases:
            per_call(label, call, cold)


if __name__ == "__main__":
    main()
