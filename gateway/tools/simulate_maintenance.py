"""Maintenance in ``helpdesk simulate``: the scenario's ``maintenance = {...}`` events.

```toml
[[events]]
at = "2026-12-03T10:00:00+11:00"
by = "sam"
maintenance = { schedule = "with-downtime", title = "Core switch replacement", text = "...",
                start = "2026-12-12T22:00:00+11:00", end = "2026-12-13T02:00:00+11:00",
                organisations = ["Contoso Contact Centre"] }      # or none: every organisation; force = true
# maintenance = { cancel = 1, reason = "..." }
# maintenance = { complete = 1 }
```

A schedule the policy refuses is no error in a scenario: it is what the scenario may be about. It
shows in the timeline as a ``maintenance-refused`` event with the reason, as ``helpdesk maintenance
schedule`` prints it; an accepted one as ``maintenance-scheduled`` with its notice instant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.app import App
from gateway.errors import ConfigError
from gateway.maintenance import lifecycle, windows
from gateway.store.models import MaintenanceWindow

ACTIONS = ("schedule", "cancel", "complete")


def apply_maintenance(session: Session, app: App, spec: Any, by: str, at: datetime,
                      index: int) -> dict[str, Any]:
    """Run one scenario event on maintenance as the command line would; the timeline row it leaves."""
    key = f"events[{index}].maintenance"
    actions = [a for a in ACTIONS if isinstance(spec, dict) and a in spec]
    if len(actions) != 1:
        raise ConfigError([f"{key}: write one of {', '.join(a + ' = ...' for a in ACTIONS)}, like "
                           '{ schedule = "with-downtime", title = "...", start = "...", end = "..." }'])
    action = actions[0]
    try:
        if action == "schedule":
            window = windows.schedule(session, app.config, _asked(spec, by, key), at)
            lifecycle.advance(session, app, window, at)
            return _row(at, "maintenance-scheduled", window.id, by, {
                "kind": window.kind, "notice_at": window.notice_at.isoformat() if window.notice_at else None,
                "forced": window.forced})
        window = _window(session, spec[action], key, at)
        if action == "cancel":
            lifecycle.cancel_now(session, app, window, str(spec.get("reason", "")), at)
        else:
            lifecycle.complete_now(session, app, window, at)
        return _row(at, f"maintenance-{action}led" if action == "cancel" else "maintenance-completed-by-hand",
                    window.id, by, {})
    except windows.MaintenanceRefused as exc:
        return _row(at, "maintenance-refused", None, by, {"reason": str(exc)})


def _asked(spec: dict[str, Any], by: str, key: str) -> windows.Schedule:
    try:
        start, end = datetime.fromisoformat(str(spec["start"])), datetime.fromisoformat(str(spec["end"]))
    except (KeyError, ValueError) as exc:
        raise ConfigError([f"{key}: give start and end as ISO 8601 instants with their offset"]) from exc
    if start.tzinfo is None or end.tzinfo is None:
        raise ConfigError([f"{key}: give start and end with their offset, like 2026-12-12T22:00:00+11:00"])
    organisations = spec.get("organisations")
    return windows.Schedule(kind=str(spec["schedule"]), title=str(spec.get("title", "")),
                            text=str(spec.get("text", "")),
                            starts_at=start, ends_at=end, by=by, force=bool(spec.get("force", False)),
                            organisations=tuple(organisations) if organisations is not None else None)


def _window(session: Session, number: Any, key: str, at: datetime) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, int(number)) if isinstance(number, int) else None
    if window is None:
        raise ConfigError([f"{key}: no maintenance #{number} at {at.isoformat()}"])
    return window


def _row(at: datetime, kind: str, window_id: int | None, by: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"at": at.isoformat(), "type": "event", "kind": kind, "ticket": None, "maintenance": window_id,
            "actor": by, "detail": {"maintenance": window_id, **detail}}
