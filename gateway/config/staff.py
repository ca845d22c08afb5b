"""Engineers, their groups, and named contacts with roles: who works tickets and who is told."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from gateway.config.reader import Reader, as_bool, as_str, as_zone, one_of, string_list
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


def _person(r: Reader, where: str, item: dict[str, Any], list_key: str,
            list_shape: str) -> tuple[str, tuple[str, ...]] | None:
    """An engineer's or a contact's table: its address and its list (groups or roles); None when
    the entry cannot be used (the problem is noted)."""
    address = r.value(f"{where}.address", item.get("address"), None, parse_address)
    if address is None:
        return None
    values: tuple[str, ...] = r.get(item, f"{where}.{list_key}", (), string_list(f"must be {list_shape}"))
    return address.lower(), values


DEPRECATED_AGENTS = ("agents: [agents] is now [engineers], and [[agents.engineers]] is now [[engineers.team]]; "
                     "the old names are read until the next release: rename them")


def load_staff(r: Reader, data: dict[str, Any], deprecations: list[str] | None = None) -> Staff:
    """[engineers] (or, deprecated, [agents]) with its team, and the named [contacts.NAME]."""
    name, team_key = "engineers", "team"
    if "agents" in data and "engineers" not in data:
        if deprecations is not None:
            deprecations.append(DEPRECATED_AGENTS)
        name, team_key = "agents", "engineers"
    raw = r.table(data, name)
    r.unknown(raw, name, (team_key, "reply_token", "trusted_authserv_ids", "verify_dkim", "dkim_keys",
                          "cc_participants"))
    engineers = _team(r, raw, f"{name}.{team_key}")
    auth = _engineer_auth(r, raw, name)
    cc_participants = r.get(raw, f"{name}.cc_participants", "contacts", one_of(*CC_PARTICIPANTS))
    contacts = _contacts(r, data)
    return Staff(engineers=engineers, contacts=contacts, auth=auth, cc_participants=cc_participants)


def _team(r: Reader, raw: dict[str, Any], table: str) -> dict[str, Engineer]:
    """The engineers of [[engineers.team]], by handle (their address's local part when not given)."""
    engineers: dict[str, Engineer] = {}
    for where, _, item in r.entries(raw, table, "a table with handle, name, address, groups", "engineers.team"):
        person = _person(r, where, item, "groups", 'a list of group names, like ["network"]')
        if person is None:
            continue
        address, groups = person
        handle = (r.get(item, f"{where}.handle", "", as_str) or address.partition("@")[0]).lower()
        if handle in engineers:
            r.problems.append(f"{where}.handle: {handle!r} is used twice; handles name engineers in #assign")
        engineers[handle] = Engineer(handle, r.get(item, f"{where}.name", handle, as_str), address, groups)
    return engineers


def _dkim_keys(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError('must be a table of DNS name to TXT record, like '
                         '{ "sel._domainkey.example.com" = "v=DKIM1; k=rsa; p=..." }')
    return {str(k).lower().rstrip("."): v for k, v in value.items()}


def _engineer_auth(r: Reader, raw: dict[str, Any], name: str) -> EngineerAuth:
    """The proofs [engineers] accepts for an engineer's mail: reply token, trusted results, DKIM."""
    authserv: tuple[str, ...] = r.get(raw, f"{name}.trusted_authserv_ids", (),
                                      string_list('must be a list, like ["mx.example.com"]'))
    dkim_keys: dict[str, str] = r.get(raw, f"{name}.dkim_keys", {}, _dkim_keys)
    return EngineerAuth(reply_token=r.get(raw, f"{name}.reply_token", True, as_bool),
                        trusted_authserv_ids=tuple(a.lower() for a in authserv),
                        verify_dkim=r.get(raw, f"{name}.verify_dkim", False, as_bool),
                        dkim_keys=dkim_keys)


def _contacts(r: Reader, data: dict[str, Any]) -> dict[str, Contact]:
    """The named contacts of [contacts.NAME], by handle, with their roles and own time zone."""
    contacts: dict[str, Contact] = {}
    for where, handle, item in r.tables(data, "contacts", "a table with name, address, roles"):
        person = _person(r, where, item, "roles", 'a list, like ["service-delivery-manager"]')
        if person is None:
            continue
        address, roles = person
        zone = r.get(item, f"{where}.timezone", None, as_zone)
        contacts[handle.lower()] = Contact(handle.lower(), r.get(item, f"{where}.name", handle, as_str), address,
                                           roles, zone)
    return contacts
