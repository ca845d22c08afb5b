"""The customer directory: organisations, their domains, designated contacts, plan and time zone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.config.languages import parse_language
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
    # Who hears of incidents that affect the organisation (service status notifications), beside
    # the customers of its tickets: addresses or { address, language } tables, like contacts.
    status_contacts: tuple[str, ...] = ()

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


def load_directory(data: Mapping[str, Any], *, plans: set[str], default_plan: str, default_timezone: ZoneInfo,
                   problems: list[str]) -> Directory:
    gateway = data.get("gateway", {}) if isinstance(data.get("gateway"), dict) else {}
    policies = {}
    for key, default in (("unknown_senders", "accept"), ("non_contacts", "accept")):
        value = gateway.get(key, default)
        if value not in SENDER_POLICIES:
            problems.append(f'gateway.{key}: must be "accept", "hold" or "reject", not {value!r}')
            value = default
        policies[key] = value
    organisations = []
    customers = data.get("customers", [])
    if not isinstance(customers, list):
        problems.append("customers: must be a list of tables, written [[customers]]")
        customers = []
    seen: set[str] = set()
    for index, table in enumerate(customers):
        org = _organisation(index, table, plans, default_plan, problems)
        if org is None:
            continue
        if org.name in seen:
            problems.append(f"customers[{index}].name: {org.name!r} is listed twice; merge the two entries")
        seen.add(org.name)
        organisations.append(org)
    return Directory(organisations, default_plan=default_plan, default_timezone=default_timezone,
                     unknown_senders=policies["unknown_senders"], non_contacts=policies["non_contacts"])


_KEYS = {"name", "domains", "contacts", "plan", "timezone", "vip", "account_manager", "language", "status_contacts"}


def _organisation(index: int, table: Any, plans: set[str], default_plan: str,
                  problems: list[str]) -> Organisation | None:
    where = f"customers[{index}]"
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table with name, domains, contacts, plan")
        return None
    for key in table:
        if key not in _KEYS:
            problems.append(f"{where}.{key}: unknown key; the keys are {', '.join(sorted(_KEYS))}")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f'{where}.name: missing; give the organisation a name, like name = "Acme Ltd"')
        return None
    domains = table.get("domains", [])
    if not isinstance(domains, list) or not all(isinstance(d, str) and "." in d for d in domains):
        problems.append(f'{where}.domains: must be a list of mail domains, like ["acme.example"]')
        domains = []
    contacts, contact_languages = _contacts(where, table.get("contacts", []), problems)
    status, status_languages = _contacts(f"{where}.status_contacts", table.get("status_contacts", []), problems,
                                         noun="status_contacts")
    plan = table.get("plan", default_plan)
    if plan not in plans:
        problems.append(f"{where}.plan: no plan named {plan!r}; define [plans.{plan}] or use one of "
                        f"{', '.join(sorted(plans)) or '(none defined)'}")
    zone: ZoneInfo | None = None
    if "timezone" in table:
        try:
            zone = ZoneInfo(str(table["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"{where}.timezone: {table['timezone']!r} is not an IANA time zone like 'Australia/Sydney'")
    vip = table.get("vip", False)
    if not isinstance(vip, bool):
        problems.append(f"{where}.vip: must be true or false")
        vip = False
    manager = table.get("account_manager")
    return Organisation(name=name.strip(), domains=frozenset(d.lower() for d in domains),
                        contacts=frozenset(contacts), plan=str(plan), timezone=zone, vip=vip,
                        account_manager=str(manager) if manager else None,
                        language=_language(f"{where}.language", table, problems),
                        contact_languages=tuple(contact_languages + status_languages),
                        status_contacts=tuple(dict.fromkeys(status)))


def _contacts(where: str, values: Any, problems: list[str],
              noun: str = "contacts") -> tuple[list[str], list[tuple[str, str]]]:
    """The designated contacts' addresses (or the status contacts'), and the language of each contact
    written as a table, ``{ address = "ops@acme.example", language = "fr" }``."""
    contacts: list[str] = []
    languages: list[tuple[str, str]] = []
    for c_index, value in enumerate(values if isinstance(values, list) else []):
        key = f"{where}.contacts[{c_index}]" if noun == "contacts" else f"{where}[{c_index}]"
        entry = value if isinstance(value, dict) else {"address": value}
        for extra in set(entry) - {"address", "language"}:
            problems.append(f'{key}.{extra}: unknown key; a contact is an address or a table '
                            f'{{ address = "...", language = "de" }}')
        try:
            address = parse_address(entry.get("address")).lower()
        except ValueError as exc:
            problems.append(f"{key}: {exc}")
            continue
        contacts.append(address)
        code = _language(f"{key}.language", entry, problems)
        if code:
            languages.append((address, code))
    if not isinstance(values, list):
        key = f"{where}.contacts" if noun == "contacts" else where
        problems.append(f'{key}: must be a list of addresses, like ["it-lead@acme.example"]')
    return contacts, languages


def _language(key: str, table: dict[str, Any], problems: list[str]) -> str | None:
    if "language" not in table:
        return None
    try:
        return parse_language(table["language"])
    except ValueError as exc:
        problems.append(f"{key}: {exc}")
        return None
