"""SLA targets as people write them ("4 business hours", "next release") and their deadlines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, get_args

from gateway.errors import GatewayError
from gateway.time.calendar import BusinessCalendar, as_utc

TargetKind = Literal["clock", "business", "business_days", "business_days_end", "mean", "none"]

ACCEPTED_FORMS = (
    '"15m", "15 minutes", "2h", "2 hours", "1h30m", "90 min", "2 days" (clock time, 48 h); '
    '"4 business hours", "30 business minutes" (open time on the calendar); '
    '"1 business day", "3 business days" (same time n business days on); '
    '"end of 3rd business day", "end of next business day" (that day\'s close); '
    '"mean 15 minutes", "mean time to restore 72 hours" (a mean over the cases, in clock time: each '
    'case is timed, none is due); '
    '"none", "next release", "case by case" (no clock). '
    'A leading "within", "less than" or "under" is ignored.'
)

_NO_CLOCK = frozenset(
    {"none", "no target", "n/a", "na", "next release", "case by case", "as agreed",
     "agreed case by case", "as agreed case by case"}
)  # fmt: skip
_WORDS = {
    "a": 1, "an": 1, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "forty-eight": 48, "sixty": 60, "ninety": 90,
}  # fmt: skip
_ORDINALS = {
    "next": 1, "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
}  # fmt: skip
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UNIT_RE = r"(?P<unit>seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w)\.?(?![a-z])"
_WORD_RE = "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True))
_PIECE_RE = re.compile(
    rf"\s*(?P<num>\d+(?:\.\d+)?|(?:{_WORD_RE})(?=\s))\s*(?P<qual>business|working|clock)?\s*" + _UNIT_RE
)
_END_OF_DAY_RE = re.compile(r"(?:end|close) of (?:the )?(?P<n>\d+(?:st|nd|rd|th)?|[a-z]+) (?:business|working) day")
_PREFIX_RE = re.compile(r"^(?:within|less than|under|up to|in|<=?)\s+")
_MEAN_RE = re.compile(r"^(?:an? )?(?:mean|average)(?: time to (?:restore|respond|resolve))?(?: of| is)?\s+")


class DurationError(GatewayError, ValueError):
    """A duration text that cannot be read; the message quotes it and lists accepted forms."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"cannot read duration {text!r}: {problem}. Accepted: {ACCEPTED_FORMS}")
        self.text = text


@dataclass(frozen=True)
class Target:
    """One SLA target: clock time, business time, n business days, or no clock at all.

    `amount` is a timedelta for "clock", "business" and "mean" (a figure the cases must keep on
    average, in clock time: each is timed, none has a deadline), a count of days for "business_days"
    (same time n business days on) and "business_days_end" (close of the nth business day after
    the start's date), and 0 for "none".
    """

    kind: TargetKind
    amount: timedelta | int = 0

    def __post_init__(self) -> None:
        if self.kind not in get_args(TargetKind):
            raise ValueError(f"unknown target kind {self.kind!r}; one of {get_args(TargetKind)}")
        amount = self.amount
        if self.kind in ("clock", "business", "mean"):
            if not isinstance(amount, timedelta):
                raise TypeError(f"a {self.kind!r} target needs a timedelta, not {amount!r}")
            if amount < timedelta(0):
                raise ValueError(f"a target cannot be negative: {amount}")
            return
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError(f"a {self.kind!r} target needs an int count of days, not {amount!r}")
        if amount < 0:
            raise ValueError(f"a target cannot be negative: {amount}")
        if self.kind == "none" and amount:
            raise ValueError("a 'none' target has no amount")
        if self.kind == "business_days_end" and not amount:
            raise ValueError("the end of the 0th business day means nothing; use 1 or more")

    @classmethod
    def parse(cls, text: str) -> Target:
        return parse_target(text)

    def __str__(self) -> str:
        return format_target(self)


NO_TARGET = Target("none")


def parse_target(text: str) -> Target:
    """Read a target as written in an SLA or the config; raises DurationError."""
    norm = re.sub(r"\([^)]*\)", " ", text.lower())  # "ten (10) working days", "1 hour (web)"
    norm = re.sub(r"\s+|,|\band\b", " ", norm).strip().rstrip(".").strip()
    norm = _PREFIX_RE.sub("", norm)
    mean = _MEAN_RE.match(norm)
    if mean is not None:
        measured = parse_target(norm[mean.end():])
        if measured.kind != "clock":
            raise DurationError(text, "a mean is written in clock time, like \"mean 15 minutes\"")
        return Target("mean", measured.amount)
    if norm in _NO_CLOCK:
        return NO_TARGET
    end = _END_OF_DAY_RE.fullmatch(norm)
    if end is not None:
        word = end.group("n")
        n = _ORDINALS.get(word) or (int(word.rstrip("stndrh")) if word[0].isdigit() else None)
        if not n:
            raise DurationError(text, f"{word!r} is not an ordinal such as 3rd or third")
        return Target("business_days_end", n)
    pieces: list[tuple[Decimal, str | None, str]] = []
    pos = 0
    while pos < len(norm):
        m = _PIECE_RE.match(norm, pos)
        if m is None:
            raise DurationError(text, f"unexpected {norm[pos:].strip()!r}")
        num = m.group("num")
        value = Decimal(_WORDS[num]) if num in _WORDS else Decimal(num)
        pieces.append((value, m.group("qual"), m.group("unit")[0]))
        pos = m.end()
    if not pieces:
        raise DurationError(text, "it is empty")
    return _target_of(text, pieces)


def _target_of(text: str, pieces: list[tuple[Decimal, str | None, str]]) -> Target:
    business = any(qual in ("business", "working") for _, qual, _ in pieces)
    if business and any(unit in "dw" for _, _, unit in pieces):
        value, qual, unit = pieces[0]
        if unit == "w":
            raise DurationError(text, "there are no business weeks; write 5 business days")
        if len(pieces) > 1 or qual not in ("business", "working"):
            raise DurationError(text, "business days stand alone; write hours as business hours")
        if value != value.to_integral_value():
            raise DurationError(text, "business days must be a whole number")
        return Target("business_days", int(value))
    if business and any(qual == "clock" for _, qual, _ in pieces):
        raise DurationError(text, "it mixes business and clock time")
    seconds = sum((value * _UNITS[unit] for value, _, unit in pieces), Decimal(0))
    amount = timedelta(seconds=int(seconds.to_integral_value()))
    return Target("business" if business else "clock", amount)


def deadline(target: Target, start: datetime, calendar: BusinessCalendar) -> datetime | None:
    """When `target` falls due for a clock started at `start` (UTC), or None for no clock.

    "clock" is elapsed real time whatever the calendar ("2 days" is 48 hours even across a
    DST change); the other kinds count on `calendar`. A zero target is due at `start`.
    """
    start_utc = as_utc(start, "start")
    match target.kind:
        case "none" | "mean":
            return None
        case "clock":
            assert isinstance(target.amount, timedelta)
            return start_utc + target.amount
        case "business":
            assert isinstance(target.amount, timedelta)
            return calendar.add(start_utc, target.amount)
        case "business_days":
            assert isinstance(target.amount, int)
            return calendar.same_time_business_days(start_utc, target.amount)
        case "business_days_end":
            assert isinstance(target.amount, int)
            return calendar.add_business_days(start_utc, target.amount)


def format_duration(span: timedelta, *, days: bool = True) -> str:
    """A span for people: "15 minutes", "1 hour 30 minutes", "2 days" ("48 hours" if not days)."""
    if span < timedelta(0):
        return "-" + format_duration(-span, days=days)
    rest = int(span.total_seconds())
    parts: list[str] = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if unit == "day" and not days:
            continue
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 minutes"


def format_target(target: Target) -> str:
    """A target for people and for the config; parse_target reads it back to the same Target."""
    amount = target.amount
    if target.kind == "none":
        return "no target"
    if target.kind == "mean":
        assert isinstance(amount, timedelta)
        return "mean " + format_duration(amount, days=False)
    if isinstance(amount, timedelta):
        text = format_duration(amount, days=target.kind == "clock")
        return re.sub(r"^(\d+) ", r"\1 business ", text) if target.kind == "business" else text
    if target.kind == "business_days":
        return f"{amount} business day{'' if amount == 1 else 's'}"
    if amount == 1:
        return "end of next business day"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(amount % 10 if amount % 100 not in (11, 12, 13) else 0)
    return f"end of {amount}{suffix or 'th'} business day"
