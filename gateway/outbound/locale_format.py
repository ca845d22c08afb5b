"""Dates, times and SLA targets in the reader's language and time zone (babel), as Jinja filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.units import format_unit
from jinja2 import pass_context
from jinja2.runtime import Context

from gateway.time.durations import DurationError, Target, parse_target

# The gateway's own English style, kept from before the templates spoke other languages:
# "Monday 23 November 2026 10:15 GMT".
_HOUSE_DATE = {"en": "EEEE d MMMM y"}
_HOUSE_TIME = {"en": "HH:mm"}


class Moment(str):
    """An instant as the English templates show it, carrying the instant and the reader's zone so
    that ``format_datetime`` can write it in another language. Being a ``str``, it reads as before
    wherever the text alone is wanted (logs, engineers' mail, custom templates)."""

    instant: datetime
    zone: ZoneInfo

    def __new__(cls, text: str, instant: datetime, zone: ZoneInfo) -> Moment:
        value = super().__new__(cls, text)
        value.instant, value.zone = instant, zone
        return value


def locale_of(language: str | None) -> Locale:
    """babel's locale for an ISO 639-1 code; English for None or a code babel does not know."""
    try:
        return Locale.parse(language or "en")
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale("en")


def zone_label(local: datetime, locale: Locale) -> str:
    """The zone's short name in the reader's language where it has one ("MEZ"), else the usual
    abbreviation ("AEDT"), else the offset written the locale's way ("GMT+04:00")."""
    if locale.language != "en":
        named = format_time(local, "z", locale=locale)
        if named.isalpha():
            return named
    abbreviation = local.tzname() or ""
    return abbreviation if abbreviation.isalpha() else format_time(local, "ZZZZ", locale=locale)


def format_moment(instant: datetime, zone: ZoneInfo, language: str | None) -> str:
    """Weekday, date, time and zone: "Montag, 23. November 2026, 10:15 MEZ"."""
    locale = locale_of(language)
    local = instant.astimezone(zone)
    day = format_day(instant, zone, language)
    clock = f"{format_clock(instant, zone, language)} {zone_label(local, locale)}"
    if locale.language in _HOUSE_DATE:
        return f"{day} {clock}"
    pattern = str(locale.datetime_formats.get("full", "{1}, {0}"))
    return pattern.replace("'", "").format(clock, day)


def format_day(instant: datetime, zone: ZoneInfo, language: str | None) -> str:
    """The date with its weekday: "lundi 23 novembre 2026"."""
    locale = locale_of(language)
    return format_date(instant.astimezone(zone).date(), _HOUSE_DATE.get(locale.language, "full"), locale=locale)


def format_clock(instant: datetime, zone: ZoneInfo, language: str | None) -> str:
    """The time of day, without seconds: "10:15", "9:15" (Spanish)."""
    locale = locale_of(language)
    local = instant.astimezone(zone)
    return format_time(local.time(), _HOUSE_TIME.get(locale.language, "short"), locale=locale)


def format_span(span: timedelta, language: str | None) -> str:
    """A span in days, hours and minutes: "1 Stunde und 30 Minuten"."""
    locale = locale_of(language)
    rest = int(span.total_seconds()) // 60
    parts = []
    for unit, size in (("duration-day", 1440), ("duration-hour", 60), ("duration-minute", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(format_unit(count, unit, length="long", locale=locale))
    return format_list(parts, locale=locale) if parts else format_unit(0, "duration-minute", locale=locale)


# How business time reads, per language: "{span}" is a span of hours and minutes, "{n}" a
# count of business days. English keeps the gateway's own wording (format_target).
_BUSINESS: dict[str, dict[str, str]] = {
    "de": {"business": "{span} (innerhalb unserer Geschäftszeiten)", "day": "{n} Werktag", "days": "{n} Werktage",
           "end1": "Ende des nächsten Werktags", "end": "Ende des {n}. Werktags", "none": "ohne Frist"},
    "fr": {"business": "{span} (sur nos heures ouvrées)", "day": "{n} jour ouvré", "days": "{n} jours ouvrés",
           "end1": "fin du jour ouvré suivant", "end": "fin du {n}e jour ouvré", "none": "sans délai fixé"},
    "es": {"business": "{span} (en horario laboral)", "day": "{n} día hábil", "days": "{n} días hábiles",
           "end1": "final del siguiente día hábil", "end": "final del {n}.º día hábil", "none": "sin plazo"},
    "nl": {"business": "{span} (binnen kantooruren)", "day": "{n} werkdag", "days": "{n} werkdagen",
           "end1": "einde van de volgende werkdag", "end": "einde van de {n}e werkdag", "none": "geen termijn"},
}


def format_target_in(target: Target, language: str | None) -> str | None:
    """An SLA target in ``language``, or None where the language has no wording for targets."""
    words = _BUSINESS.get(locale_of(language).language)
    if words is None:
        return None
    amount = target.amount
    if target.kind == "none":
        return words["none"]
    if isinstance(amount, timedelta):
        span = format_span(amount, language)
        return span if target.kind == "clock" else words["business"].format(span=span)
    if target.kind == "business_days":
        return words["day" if amount == 1 else "days"].format(n=amount)
    return words["end1"] if amount == 1 else words["end"].format(n=amount)


def _language(context: Context) -> str | None:
    locale = context.get("locale")
    return locale.get("language") if isinstance(locale, dict) else None


def _zone(context: Context, value: Any) -> ZoneInfo:
    if isinstance(value, Moment):
        return value.zone
    locale = context.get("locale")
    name = locale.get("timezone") if isinstance(locale, dict) else None
    return ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo("UTC")


def _instant_filter(formatter: Callable[[datetime, ZoneInfo, str | None], str]) -> Callable[..., Any]:
    """A filter that writes a Moment (or a datetime, in the context's zone) with ``formatter``;
    anything else (None, text a custom caller passed) goes through as it is."""
    @pass_context
    def apply(context: Context, value: Any) -> Any:
        if isinstance(value, Moment):
            return formatter(value.instant, value.zone, _language(context))
        if isinstance(value, datetime):
            return formatter(value, _zone(context, value), _language(context))
        return value
    return apply


@pass_context
def _target_filter(context: Context, value: Any) -> Any:
    """A target as format_target wrote it ("2 hours", "1 business day"), in the context's language."""
    if not isinstance(value, str):
        return value
    try:
        target = parse_target(value)
    except DurationError:
        return value
    return format_target_in(target, _language(context)) or value


# The filters every template can use; the context's ``locale`` ({"language", "timezone"}) says
# whose language and zone they write in.
FILTERS: dict[str, Callable[..., Any]] = {
    "format_datetime": _instant_filter(format_moment),
    "format_date": _instant_filter(format_day),
    "format_time": _instant_filter(format_clock),
    "format_target": _target_filter,
}
