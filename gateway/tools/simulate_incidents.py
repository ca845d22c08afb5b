"""Incidents in ``helpdesk simulate``: the scenario's ``incident = {...}`` events, and the incidents' trail.

```toml
[[events]]
at = "+5m"
by = "sam"
incident = { open = "Voice platform outage", ticket = 1 }      # or tickets = [1, 2], priority = "P1"
# incident = { link = 1, tickets = [2, 3] }
# incident = { update = 1, text = "..." }
# incident = { resolve = 1, text = "..." }
# incident = { report = 1, kind = "incident-report", text = "..." }
```
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.errors import ConfigError
from gateway.incidents import lifecycle
from gateway.incidents.records import IncidentRefused
from gateway.store.models import Incident, IncidentEvent, Ticket

ACTIONS = ("open", "link", "update", "resolve", "report")


def apply_incident(session: Session, app: App, spec: Any, by: str, at: datetime, index: int) -> None:
    """Run one scenario event on an incident, as the command line would; a mistake names its key."""
    key = f"events[{index}].incident"
    actions = [a for a in ACTIONS if isinstance(spec, dict) and a in spec]
    if len(actions) != 1:
        raise ConfigError([f"{key}: write one of {', '.join(a + ' = ...' for a in ACTIONS)}, like "
                           '{ update = 1, text = "..." }'])
    action = actions[0]
    numbers = spec.get("tickets", [spec["ticket"]] if "ticket" in spec else [])
    tickets = [_ticket(session, n, key, at) for n in numbers]
    try:
        if action == "open":
            incident = lifecycle.open_incident(session, app, str(spec["open"]), by, at,
                                               ticket=tickets[0] if tickets else None, priority=spec.get("priority"))
            tickets = tickets[1:]
        else:
            incident = _incident(session, spec[action], key, at)
        for ticket in tickets:
            lifecycle.link(session, app, incident, ticket, by, at)
        text = str(spec.get("text", ""))
        if action == "update":
            lifecycle.update(session, app, incident, text, by, at)
        elif action == "resolve":
            lifecycle.resolve(session, app, incident, text, by, at)
        elif action == "report":
            lifecycle.send_report(session, app, incident, str(spec.get("kind", "")), text, by, at)
    except IncidentRefused as exc:
        raise ConfigError([f"{key}: at {at.isoformat()}: {exc}"]) from exc


def _ticket(session: Session, number: Any, key: str, at: datetime) -> Ticket:
    ticket = session.get(Ticket, int(number)) if isinstance(number, int) else None
    if ticket is None:
        raise ConfigError([f"{key}.tickets: no ticket #{number} at {at.isoformat()}"])
    return ticket


def _incident(session: Session, number: Any, key: str, at: datetime) -> Incident:
    incident = session.get(Incident, int(number)) if isinstance(number, int) else None
    if incident is None:
        raise ConfigError([f"{key}: no incident #{number} at {at.isoformat()}"])
    return incident


def incident_rows(session: Session) -> list[tuple[datetime, int, dict[str, Any]]]:
    """The incidents' own events, as timeline rows (``ticket`` None, ``incident`` its number)."""
    return [(e.at, 1, {"at": e.at.isoformat(), "type": "event", "kind": e.kind, "ticket": None,
                       "incident": e.incident_id, "actor": e.actor, "detail": {"incident": e.incident_id, **e.detail}})
            for e in session.scalars(select(IncidentEvent).order_by(IncidentEvent.id))]
