"""``helpdesk oncall [--at TIME]``: who is on call at an instant, since when and until when."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from gateway.clock import Clock
from gateway.config import Config
from gateway.config.oncall import parse_local
from gateway.outbound.notices import local_time


def on_call_at(config: Config, at: datetime) -> dict[str, Any] | None:
    """The shift covering ``at`` as JSON-ready values, or None when nobody is on call."""
    rotation = config.escalation.oncall
    shift = rotation.shift_at(at) if rotation is not None else None
    if rotation is None or shift is None:
        return None
    person = config.staff.contact(shift.contact) or config.staff.engineer(shift.contact)
    return {"at": at.isoformat(), "contact": shift.contact, "name": person.name if person else shift.contact,
            "address": person.address if person else None, "source": shift.source,
            "since": shift.since.isoformat() if shift.since else None,
            "until": shift.until.isoformat() if shift.until else None, "timezone": rotation.timezone.key}


def on_call_report(config: Config, clock: Clock, at_text: str | None, *, as_json: bool) -> int:
    """Print who is on call; exit 0, or 1 when nobody is (or there is no [oncall] table)."""
    rotation = config.escalation.oncall
    if rotation is None:
        print("no [oncall] table in the config: nobody is paged after hours", file=sys.stderr)
        return 1
    try:
        at = parse_local(at_text, rotation.timezone) if at_text else clock.now()
    except ValueError as exc:
        print(f"helpdesk oncall: --at {at_text!r}: {exc}", file=sys.stderr)
        return 2
    shift = on_call_at(config, at)
    if as_json:
        json.dump(shift, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0 if shift else 1
    zone = rotation.timezone
    if shift is None:
        print(f"nobody is on call at {local_time(at, zone)}")
        return 1
    since = datetime.fromisoformat(shift["since"]) if shift["since"] else None
    until = datetime.fromisoformat(shift["until"]) if shift["until"] else None
    print(f"{shift['contact']}: {shift['name']} <{shift['address']}>")
    print(f"  on call at {local_time(at, zone)} ({shift['source']})")
    if since or until:
        print(f"  from {local_time(since, zone) or '-'} until {local_time(until, zone) or '-'}")
    return 0
