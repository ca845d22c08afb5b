"""[[digests]]: the reports the gateway mails on a cadence, to whom, and in which locale.

Each entry is one kind of digest (the SLA report weekly or monthly, a monthly report per customer
organisation, the on-call handover, a daily "due today" per engineer), its recipients (written
as escalation tiers write them, plus "customer-contacts" and "outgoing-on-call"), its cadence
in each recipient's time zone, and optionally a business calendar whose closed days move it.
``[contacts.NAME] locale`` says how a contact reads figures and dates (en_GB, de_DE).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from babel import Locale, UnknownLocaleError

from gateway.config.policy import Policy
from gateway.config.reader import Reader
from gateway.config.staff import Staff
from gateway.time.cadence import Cadence, parse_cadence
from gateway.time.rotation import OnCall

KINDS = ("sla-weekly", "sla-monthly", "organisation-monthly", "oncall-handover", "due-today")
DEFAULT_AT = {"sla-weekly": "mon 08:00", "sla-monthly": "1st 08:00", "organisation-monthly": "1st 09:00",
              "due-today": "08:00"}
DEFAULT_TO = {"sla-weekly": ("role:service-delivery-manager",), "sla-monthly": ("role:service-delivery-manager",),
              "organisation-monthly": ("customer-contacts",), "oncall-handover": ("on-call", "outgoing-on-call"),
              "due-today": ("engineers",)}
# What each kind's cadence must say: a weekday, a day of the month, or only a time.
_EVERY = {"sla-weekly": "week", "sla-monthly": "month", "organisation-monthly": "month", "due-today": "day"}
_KEYS = ("name", "kind", "to", "at", "calendar", "plans", "organisations", "locale")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TO_SHAPE = ('"role:NAME", "contact:HANDLE", "group:NAME", "on-call", "engineers", and for their kinds '
             '"customer-contacts" (organisation-monthly) or "outgoing-on-call" (oncall-handover)')


@dataclass(frozen=True, slots=True)
class Digest:
    name: str
    kind: str
    to: tuple[str, ...]
    cadence: Cadence | None  # None for the handover, which goes at each change of the on-call
    calendar: str | None = None
    plans: tuple[str, ...] = ()  # sla-*: these plans only (all when empty)
    organisations: tuple[str, ...] = ()  # organisation-monthly: these only (all with contacts when empty)
    locale: str = "en"


@dataclass(frozen=True)
class DigestSettings:
    digests: tuple[Digest, ...] = ()
    # A [contacts.NAME] handle -> the locale its figures and dates are written in.
    locales: Mapping[str, str] = field(default_factory=dict)

    def digest(self, name: str) -> Digest | None:
        return next((d for d in self.digests if d.name == name), None)


def _locale(value: Any) -> str:
    try:
        Locale.parse(str(value).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"{value!r} is not a locale; write it like en_GB, de_DE or fr") from None
    return str(value).replace("-", "_")


def _names(r: Reader, where: str, value: Any, known: set[str], what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        r.problems.append(f'{where}: must be a list of {what} names, like ["{next(iter(sorted(known)), "gold")}"]')
        return ()
    for name in value:
        if name not in known:
            r.problems.append(f"{where}: no {what} named {name!r}; use one of {', '.join(sorted(known)) or '(none)'}")
    return tuple(value)


def _recipient(where: str, entry: str, kind: str, staff: Staff, oncall: OnCall | None) -> str | None:
    """The problem with one ``to`` entry, or None when it names someone."""
    head, _, arg = entry.partition(":")
    if head == "role" and arg:
        return None if staff.with_role(arg) else f"{where}: no contact has the role {arg!r}; add it to some " \
                                                   "[contacts.NAME] roles"
    if head == "contact" and arg:
        known = staff.contact(arg) is not None or staff.engineer(arg) is not None
        return None if known else f"{where}: no contact or engineer {arg!r}; define [contacts.{arg}]"
    if head == "group" and arg:
        return None if arg in staff.groups else f"{where}: no engineer is in the group {arg!r}"
    if entry in ("on-call", "outgoing-on-call"):
        if oncall is None:
            return f'{where}: "{entry}" needs an [oncall] table with a rotation or date ranges'
        if entry == "outgoing-on-call" and kind != "oncall-handover":
            return f'{where}: "outgoing-on-call" is for an oncall-handover digest'
        return None
    if entry == "customer-contacts":
        return None if kind == "organisation-monthly" else \
            f'{where}: "customer-contacts" is for an organisation-monthly digest'
    if entry == "engineers":
        return None
    return f"{where}: {entry!r} is not one of {_TO_SHAPE}"


def _to(r: Reader, where: str, value: Any, kind: str, staff: Staff, oncall: OnCall | None) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        r.problems.append(f'{where}: a list of whom to mail, like ["role:service-delivery-manager", "contact:sam"]')
        return ()
    entries = tuple(v.strip().lower() for v in value)
    for i, entry in enumerate(entries):
        problem = _recipient(f"{where}[{i}]", entry, kind, staff, oncall)
        if problem:
            r.problems.append(problem)
    return entries


def _cadence(r: Reader, where: str, item: Mapping[str, Any], kind: str) -> Cadence | None:
    if kind == "oncall-handover":
        r.unused(dict(item), where, ("at",), "a handover digest goes at each change of the on-call; remove at")
        return None
    cadence = r.value(f"{where}.at", item.get("at", DEFAULT_AT[kind]), None, parse_cadence)
    if cadence is not None and cadence.every != _EVERY[kind]:
        example = {"week": '"mon 08:00"', "month": '"1st 09:00"', "day": '"08:00"'}[_EVERY[kind]]
        r.problems.append(f"{where}.at: a {kind} digest goes every {_EVERY[kind]}: write it like {example}")
    return cadence


def _digest(r: Reader, where: str, item: dict[str, Any], staff: Staff, policy: Policy,
            oncall: OnCall | None) -> Digest | None:
    r.unknown(item, where, _KEYS)
    if not r.require(item, f"{where}.kind", f'give one of {", ".join(KINDS)}, like kind = "sla-weekly"'):
        return None
    kind = item["kind"]
    if kind not in KINDS:
        r.problems.append(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
        return None
    name = str(item.get("name", kind))
    if not _NAME.fullmatch(name):
        r.problems.append(f"{where}.name: name a digest with letters, digits, '-', '_' or '.'")
    if kind == "oncall-handover" and oncall is None:
        r.problems.append(f"{where}.kind: an oncall-handover digest goes at each change of the on-call: "
                          "add an [oncall] table with a rotation or date ranges")
        return None
    calendar = item.get("calendar")
    if calendar is not None and calendar not in policy.calendars:
        r.problems.append(f"{where}.calendar: no calendar named {calendar!r}; define [calendars.{calendar}] or use "
                          f"one of {', '.join(sorted(policy.calendars))}")
    return Digest(
        name=name, kind=kind, to=_to(r, f"{where}.to", item.get("to", list(DEFAULT_TO[kind])), kind, staff, oncall),
        cadence=_cadence(r, where, item, kind), calendar=str(calendar) if calendar else None,
        plans=_names(r, f"{where}.plans", item.get("plans", []), set(policy.plans), "plan"),
        organisations=_names(r, f"{where}.organisations", item.get("organisations", []),
                             set(policy.directory.organisations), "organisation"),
        locale=r.get(item, f"{where}.locale", "en", _locale))


def load_digests(r: Reader, data: dict[str, Any], staff: Staff, policy: Policy,
                 oncall: OnCall | None) -> DigestSettings:
    """Read [[digests]] and the contacts' locales; each problem names its key and the fix."""
    digests: list[Digest] = []
    for where, _index, item in r.entries(data, "digests", "a table with kind, to and at"):
        digest = _digest(r, where, item, staff, policy, oncall)
        if digest is None:
            continue
        if any(d.name == digest.name for d in digests):
            r.problems.append(f"{where}.name: {digest.name!r} names two digests; give each its own name")
        digests.append(digest)
    locales: dict[str, str] = {}
    contacts = data.get("contacts", {})
    for handle, table in (contacts.items() if isinstance(contacts, dict) else ()):
        if isinstance(table, dict) and "locale" in table:
            locales[str(handle).lower()] = r.get(table, f"contacts.{handle}.locale", "en", _locale)
    return DigestSettings(tuple(digests), locales)
