"""Engineers, their groups, and named contacts with roles: who works tickets and who is told."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.config.values import parse_address


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone the gateway mails by name: handle, name, address, and the zone they read times in."""

    handle: str
    name: str
    address: str
    zone: ZoneInfo  # promises are written in the reader's own time zone


@dataclass(frozen=True, slots=True)
class Engineer:
    handle: str
    name: str
    address: str
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Contact:
    handle: str
    name: str
    address: str
    roles: tuple[str, ...]
    timezone: ZoneInfo | None


@dataclass(frozen=True)
class EngineerAuth:
    """Which proofs make an engineer's mail trusted (either suffices when enabled)."""

    reply_token: bool
    trusted_authserv_ids: tuple[str, ...]
    verify_dkim: bool
    # DNS name ("selector._domainkey.domain") -> TXT record: dkimpy looks keys up here, not in DNS.
    dkim_keys: Mapping[str, str] = field(default_factory=dict)


CC_PARTICIPANTS = ("contacts", "domain", "none")


@dataclass(frozen=True)
class Staff:
    engineers: Mapping[str, Engineer]
    contacts: Mapping[str, Contact]
    auth: EngineerAuth
    # Who a customer's Cc adds to a ticket: designated contacts of its organisation, anyone at
    # the organisation's domains, or nobody.
    cc_participants: str = "contacts"

    def engineer(self, handle_or_address: str) -> Engineer | None:
        key = handle_or_address.lower()
        if key in self.engineers:
            return self.engineers[key]
        return next((a for a in self.engineers.values() if a.address == key), None)

    def group_members(self, group: str) -> list[Engineer]:
        return [a for a in self.engineers.values() if group in a.groups]

    @property
    def groups(self) -> set[str]:
        return {g for a in self.engineers.values() for g in a.groups}

    def contact(self, handle_or_address: str) -> Contact | None:
        key = handle_or_address.lower()
        if key in self.contacts:
            return self.contacts[key]
        return next((c for c in self.contacts.values() if c.address == key), None)

    def person(self, handle_or_address: str, zone: ZoneInfo) -> Recipient | None:
        """A contact (in their own time zone, else ``zone``) or an engineer (in ``zone``), or None."""
        contact = self.contact(handle_or_address)
        if contact is not None:
            return Recipient(contact.handle, contact.name, contact.address, contact.timezone or zone)
        engineer = self.engineer(handle_or_address)
        if engineer is not None:
            return Recipient(engineer.handle, engineer.name, engineer.address, zone)
        return None

    def with_role(self, role: str) -> list[Contact]:
        return [c for c in self.contacts.values() if role in c.roles]


def _person(item: Any, where: str, keys: str, list_key: str, list_shape: str,
            problems: list[str]) -> tuple[str, tuple[str, ...]] | None:
    """An engineer's or a contact's table: its address and its list (groups or roles); None when
    the entry cannot be used (the problem is noted)."""
    if not isinstance(item, dict):
        problems.append(f"{where}: must be a table with {keys}")
        return None
    try:
        address = parse_address(item.get("address")).lower()
    except ValueError as exc:
        problems.append(f"{where}.address: {exc}")
        return None
    values = _strings(item.get(list_key, []))
    if values is None:
        problems.append(f"{where}.{list_key}: must be {list_shape}")
        values = ()
    return address, values


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


DEPRECATED_AGENTS = ("agents: [agents] is now [engineers], and [[agents.engineers]] is now [[engineers.team]]; "
                     "the old names are read until the next release: rename them")


def engineers_table(data: Mapping[str, Any], deprecations: list[str]) -> tuple[str, dict[str, Any], Any]:
    """The [engineers] table (or, deprecated, [agents]): its name as written, the table, and its team."""
    name, team_key = "engineers", "team"
    if "agents" in data and "engineers" not in data:
        deprecations.append(DEPRECATED_AGENTS)
        name, team_key = "agents", "engineers"
    raw = data.get(name, {})
    if not isinstance(raw, dict):
        return name, {"": raw}, []
    return name, raw, raw.get(team_key, [])


def load_staff(data: Mapping[str, Any], problems: list[str], deprecations: list[str] | None = None) -> Staff:
    name, raw, team = engineers_table(data, deprecations if deprecations is not None else [])
    if "" in raw:
        problems.append(f"{name}: must be a table, written [engineers]")
        raw, team = {}, []
    team_key = "engineers" if name == "agents" else "team"
    known = (team_key, "reply_token", "trusted_authserv_ids", "verify_dkim", "dkim_keys", "cc_participants")
    for key in raw:
        if key not in known:
            problems.append(f"{name}.{key}: unknown key; the keys are {', '.join(known)}")
    engineers = _team(team, f"{name}.{team_key}", problems)
    auth = _engineer_auth(raw, name, problems)
    cc_participants = raw.get("cc_participants", "contacts")
    if cc_participants not in CC_PARTICIPANTS:
        problems.append(f'{name}.cc_participants: must be "contacts", "domain" or "none", not {cc_participants!r}')
        cc_participants = "contacts"
    contacts = _contacts(data.get("contacts", {}), problems)
    return Staff(engineers=engineers, contacts=contacts, auth=auth, cc_participants=str(cc_participants))


def _team(team: Any, table: str, problems: list[str]) -> dict[str, Engineer]:
    """The engineers of [[engineers.team]], by handle (their address's local part when not given)."""
    engineers: dict[str, Engineer] = {}
    if not isinstance(team, list):
        problems.append(f"{table}: must be tables, written [[engineers.team]]")
        team = []
    for index, item in enumerate(team):
        where = f"{table}[{index}]"
        person = _person(item, where, "handle, name, address, groups", "groups",
                         'a list of group names, like ["network"]', problems)
        if person is None:
            continue
        address, groups = person
        handle = str(item.get("handle") or address.partition("@")[0]).lower()
        if handle in engineers:
            problems.append(f"{where}.handle: {handle!r} is used twice; handles name engineers in #assign")
        engineers[handle] = Engineer(handle, str(item.get("name", handle)), address, groups)
    return engineers


def _engineer_auth(raw: Mapping[str, Any], name: str, problems: list[str]) -> EngineerAuth:
    """The proofs [engineers] accepts for an engineer's mail: reply token, trusted results, DKIM."""
    authserv = _strings(raw.get("trusted_authserv_ids", []))
    if authserv is None:
        problems.append(f'{name}.trusted_authserv_ids: must be a list, like ["mx.example.com"]')
        authserv = ()
    dkim_keys = raw.get("dkim_keys", {})
    if not isinstance(dkim_keys, dict) or not all(isinstance(v, str) for v in dkim_keys.values()):
        problems.append(f'{name}.dkim_keys: must be a table of DNS name to TXT record, like '
                        '{ "sel._domainkey.example.com" = "v=DKIM1; k=rsa; p=..." }')
        dkim_keys = {}
    flags = {}
    for key, default in (("reply_token", True), ("verify_dkim", False)):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            problems.append(f"{name}.{key}: must be true or false")
            value = default
        flags[key] = value
    return EngineerAuth(reply_token=flags["reply_token"],
                        trusted_authserv_ids=tuple(a.lower() for a in authserv),
                        verify_dkim=flags["verify_dkim"],
                        dkim_keys={str(k).lower().rstrip("."): v for k, v in dkim_keys.items()})


def _contacts(raw: Any, problems: list[str]) -> dict[str, Contact]:
    """The named contacts of [contacts.NAME], by handle, with their roles and own time zone."""
    contacts: dict[str, Contact] = {}
    if not isinstance(raw, dict):
        problems.append("contacts: must be tables, written [contacts.NAME]")
        raw = {}
    for handle, item in raw.items():
        where = f"contacts.{handle}"
        person = _person(item, where, "name, address, roles", "roles",
                         'a list, like ["service-delivery-manager"]', problems)
        if person is None:
            continue
        address, roles = person
        zone = None
        if "timezone" in item:
            try:
                zone = ZoneInfo(str(item["timezone"]))
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"{where}.timezone: {item['timezone']!r} is not an IANA time zone")
        contacts[handle.lower()] = Contact(handle.lower(), str(item.get("name", handle)), address, roles, zone)
    return contacts
