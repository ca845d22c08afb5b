"""Whom a digest goes to: its slots (one schedule each, in one time zone) and the readers a slot names.

A slot is a person (a contact or an engineer, by handle), "on-call" (whoever is on call when it
goes), a designated contact of a customer organisation (``ORGANISATION|address``), a person who
gets an organisation's report (``ORGANISATION|handle``), or "rotation" for the handover, which
goes at the on-call's changes to the incoming and the outgoing person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale

from gateway.config import Config
from gateway.config.digests import Digest
from gateway.config.staff import Recipient
from gateway.time.handovers import Handover

ROTATION, ON_CALL, CUSTOMERS = "rotation", "on-call", "customer-contacts"


@dataclass(frozen=True, slots=True)
class Slot:
    key: str
    zone: ZoneInfo


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads one digest mail: their address, zone and locale; the organisation it is about."""

    handle: str
    name: str
    address: str
    zone: ZoneInfo
    locale: str
    organisation: str | None = None


def _staff_handles(config: Config, entry: str) -> list[str]:
    """The handles a staff entry names (not "on-call"): role, contact, group, engineers."""
    staff = config.staff
    head, _, arg = entry.partition(":")
    if head == "role":
        return [c.handle for c in staff.with_role(arg)]
    if head == "contact":
        found = staff.contact(arg) or staff.engineer(arg)
        return [found.handle] if found is not None else []
    if head == "group":
        return [e.handle for e in staff.group_members(arg)]
    if entry == "engineers":
        return list(staff.engineers)
    return []


def _oncall_zone(config: Config) -> ZoneInfo:
    rotation = config.escalation.oncall
    return rotation.timezone if rotation is not None else config.gateway.timezone


def _person_zone(config: Config, handle: str) -> ZoneInfo:
    found = config.staff.person(handle, config.gateway.timezone)
    return found.zone if found is not None else config.gateway.timezone


def organisations(config: Config, digest: Digest) -> list[str]:
    directory = config.policy.directory.organisations
    return list(digest.organisations) or [name for name, org in directory.items() if org.contacts]


def slots(config: Config, digest: Digest) -> list[Slot]:
    """Every slot of ``digest`` the config names, each once."""
    if digest.kind == "oncall-handover":
        return [Slot(ROTATION, _oncall_zone(config))]
    found: dict[str, Slot] = {}
    staff_entries = [e for e in digest.to if e not in (ON_CALL, CUSTOMERS)]
    if digest.kind == "organisation-monthly":
        for name in organisations(config, digest):
            org = config.policy.directory.organisations[name]
            zone = org.timezone or config.gateway.timezone
            if CUSTOMERS in digest.to:
                for address in sorted(org.contacts):
                    found.setdefault(f"{name}|{address}", Slot(f"{name}|{address}", zone))
            for handle in [h for e in staff_entries for h in _staff_handles(config, e)]:
                found.setdefault(f"{name}|{handle}", Slot(f"{name}|{handle}", _person_zone(config, handle)))
        return list(found.values())
    if ON_CALL in digest.to:
        found[ON_CALL] = Slot(ON_CALL, _oncall_zone(config))
    for handle in [h for e in staff_entries for h in _staff_handles(config, e)]:
        found.setdefault(handle, Slot(handle, _person_zone(config, handle)))
    return list(found.values())


def _staff_reader(config: Config, digest: Digest, person: Recipient, organisation: str | None = None) -> Reader:
    locale = config.digests.locales.get(person.handle, digest.locale)
    return Reader(person.handle, person.name, person.address, person.zone, locale, organisation)


def _customer_reader(config: Config, digest: Digest, organisation: str, address: str) -> Reader:
    org = config.policy.directory.organisations[organisation]
    language = org.contact_language(address) or org.language
    locale = digest.locale
    if language and Locale.parse(digest.locale).language != language:
        locale = language
    return Reader(address, "", address, org.timezone or config.gateway.timezone, locale, organisation)


def _on_call_at(config: Config, at: datetime) -> Recipient | None:
    rotation = config.escalation.oncall
    shift = rotation.shift_at(at) if rotation is not None else None
    return config.staff.person(shift.contact, rotation.timezone) if rotation and shift else None


def _handover_readers(config: Config, digest: Digest, handover: Handover) -> list[Reader]:
    people: list[Recipient | None] = []
    zone = _oncall_zone(config)
    for entry in digest.to:
        if entry in (ON_CALL, "outgoing-on-call"):
            shift = handover.incoming if entry == ON_CALL else handover.outgoing
            people.append(config.staff.person(shift.contact, zone) if shift is not None else None)
        else:
            people += [config.staff.person(h, config.gateway.timezone) for h in _staff_handles(config, entry)]
    return [_staff_reader(config, digest, p) for p in people if p is not None]


def readers(config: Config, digest: Digest, slot: str, at: datetime, handover: Handover | None = None) -> list[Reader]:
    """Who the slot names when the digest goes at ``at``, each address once."""
    found: list[Reader] = []
    if slot == ROTATION and handover is not None:
        found = _handover_readers(config, digest, handover)
    elif "|" in slot:
        organisation, _, who = slot.rpartition("|")
        if organisation in config.policy.directory.organisations:
            person = config.staff.person(who, config.gateway.timezone) if "@" not in who else None
            found = [_staff_reader(config, digest, person, organisation) if person is not None
                     else _customer_reader(config, digest, organisation, who)]
    else:
        person = _on_call_at(config, at) if slot == ON_CALL else config.staff.person(slot, config.gateway.timezone)
        found = [_staff_reader(config, digest, person)] if person is not None else []
    unique: dict[str, Reader] = {}
    for reader in found:
        unique.setdefault(reader.address.lower(), reader)
    return list(unique.values())
