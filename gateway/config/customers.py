"""The customer directory: organisations, their domains, designated contacts, plan and time zone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.languages import parse_language
from gateway.config.reader import Reader, as_bool, as_list, as_str, as_zone, one_of
from gateway.config.values import parse_address

SENDER_POLICIES = ("accept", "hold", "reject")


@dataclass(frozen=True, slots=True)
class Organisation:
    name: str
    domains: frozenset[str]
    contacts: frozenset[str]
    plan: str
    timezone: ZoneInfo | None
    vip: bool
    account_manager: str | None = None
    # The language its people are written to in (ISO 639-1), and each contact's own where it differs.
    language: str | None = None
    contact_languages: tuple[tuple[str, str], ...] = ()

    def contact_language(self, address: str) -> str | None:
        return next((code for who, code in self.contact_languages if who == address), None)


@dataclass(frozen=True, slots=True)
class SenderInfo:
    """Who wrote: their organisation (if known), whether a designated contact, and what applies."""

    address: str
    organisation: Organisation | None
    is_contact: bool
    plan: str
    timezone: ZoneInfo
    vip: bool
    policy: str  # accept | hold | reject: what to do with a new ticket from this sender
    language: str | None = None  # configured for this contact (else their organisation's)

    @property
    def verified(self) -> bool:
        return self.organisation is not None and self.is_contact


class Directory:
    """Looks senders up by address (designated contacts) and by domain (their colleagues)."""

    def __init__(self, organisations: list[Organisation], *, default_plan: str, default_timezone: ZoneInfo,
                 unknown_senders: str, non_contacts: str) -> None:
        self.organisations = {o.name: o for o in organisations}
        self._by_contact = {c: o for o in organisations for c in o.contacts}
        self._by_domain = {d: o for o in organisations for d in o.domains}
        self.default_plan = default_plan
        self.default_timezone = default_timezone
        self.unknown_senders = unknown_senders
        self.non_contacts = non_contacts

    def lookup(self, address: str) -> SenderInfo:
        key = address.lower()
        org = self._by_contact.get(key)
        if org is not None:
            return SenderInfo(key, org, True, org.plan, org.timezone or self.default_timezone, org.vip, "accept",
                              org.contact_language(key) or org.language)
        org = self._by_domain.get(key.rpartition("@")[2])
        if org is not None:
            return SenderInfo(key, org, False, org.plan, org.timezone or self.default_timezone, org.vip,
                              self.non_contacts if org.contacts else "accept", org.language)
        return SenderInfo(key, None, False, self.default_plan, self.default_timezone, False, self.unknown_senders)


def load_directory(r: Reader, data: dict[str, Any], *, plans: set[str], default_plan: str,
                   default_timezone: ZoneInfo) -> Directory:
    """The [[customers]] and what [gateway] does with senders who are not their contacts."""
    gateway = data["gateway"] if isinstance(data.get("gateway"), dict) else {}
    policy = one_of(*SENDER_POLICIES)
    unknown_senders = r.get(gateway, "gateway.unknown_senders", "accept", policy)
    non_contacts = r.get(gateway, "gateway.non_contacts", "accept", policy)
    organisations = []
    seen: set[str] = set()
    for where, _, table in r.entries(data, "customers", "a table with name, domains, contacts, plan"):
        org = _organisation(r, where, table, plans, default_plan)
        if org is None:
            continue
        if org.name in seen:
            r.problems.append(f"{where}.name: {org.name!r} is listed twice; merge the two entries")
        seen.add(org.name)
        organisations.append(org)
    return Directory(organisations, default_plan=default_plan, default_timezone=default_timezone,
                     unknown_senders=unknown_senders, non_contacts=non_contacts)


_KEYS = {"name", "domains", "contacts", "plan", "timezone", "vip", "account_manager", "language"}
_NAME_FIX = 'give the organisation a name, like name = "Acme Ltd"'
_CONTACT = 'a contact is an address or a table { address = "...", language = "de" }'


def _name(value: Any) -> str:
    if not as_str(value).strip():
        raise ValueError("missing")
    return str(value).strip()


def _domains(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(d, str) and "." in d for d in value):
        raise ValueError('must be a list of mail domains, like ["acme.example"]')
    return frozenset(d.lower() for d in value)


def _organisation(r: Reader, where: str, table: dict[str, Any], plans: set[str],
                  default_plan: str) -> Organisation | None:
    r.unknown(table, where, _KEYS)
    if not r.require(table, f"{where}.name", _NAME_FIX):
        return None
    name = r.get(table, f"{where}.name", "", _name, _NAME_FIX)
    if not name:
        return None
    domains: frozenset[str] = r.get(table, f"{where}.domains", frozenset(), _domains)
    contacts, contact_languages = _contacts(r, where, table)
    plan = r.get(table, f"{where}.plan", default_plan, as_str)
    if plan not in plans:
        r.problems.append(f"{where}.plan: no plan named {plan!r}; define [plans.{plan}] or use one of "
                          f"{', '.join(sorted(plans)) or '(none defined)'}")
    return Organisation(name=name, domains=domains, contacts=frozenset(contacts), plan=plan,
                        timezone=r.get(table, f"{where}.timezone", None, as_zone),
                        vip=r.get(table, f"{where}.vip", False, as_bool),
                        account_manager=r.get(table, f"{where}.account_manager", None, as_str) or None,
                        language=r.get(table, f"{where}.language", None, parse_language),
                        contact_languages=tuple(contact_languages))


def _contacts(r: Reader, where: str, table: dict[str, Any]) -> tuple[list[str], list[tuple[str, str]]]:
    """The designated contacts' addresses, and the language of each contact written as a table,
    ``{ address = "ops@acme.example", language = "fr" }``."""
    contacts: list[str] = []
    languages: list[tuple[str, str]] = []
    values: list[Any] = r.get(table, f"{where}.contacts", [],
                              as_list('must be a list of addresses, like ["it-lead@acme.example"]'))
    for index, value in enumerate(values):
        key = f"{where}.contacts[{index}]"
        entry = value if isinstance(value, dict) else {"address": value}
        r.unknown(entry, key, ("address", "language"), hint=_CONTACT)
        address = r.value(key, entry.get("address"), "", parse_address).lower()
        if not address:
            continue
        contacts.append(address)
        code = r.get(entry, f"{key}.language", None, parse_language)
        if code:
            languages.append((address, code))
    return contacts, languages
