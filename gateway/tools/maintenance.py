"""`helpdesk maintenance list|show`: the windows, what each told whom, and the tickets that came in during it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.store.models import Event, MaintenanceWindow, OutboxMessage


def window_row(w: MaintenanceWindow) -> dict[str, Any]:
    return {"id": w.id, "kind": w.kind, "title": w.title, "status": w.status,
            "starts_at": w.starts_at.isoformat(), "ends_at": w.ends_at.isoformat(),
            "organisations": w.organisations, "notice_at": _iso(w.notice_at), "noticed_at": _iso(w.noticed_at),
            "started_at": _iso(w.started_at), "completed_at": _iso(w.completed_at),
            "cancelled_at": _iso(w.cancelled_at), "cancel_reason": w.cancel_reason, "forced": w.forced,
            "scheduled_at": w.scheduled_at.isoformat(), "scheduled_by": w.scheduled_by}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def list_windows(session: Session, *, status: str | None, limit: int | None, offset: int) -> dict[str, Any]:
    """Newest start first; the total says how many there are whatever the page."""
    where = [MaintenanceWindow.status == status] if status else []
    total = session.scalar(select(func.count(MaintenanceWindow.id)).where(*where)) or 0
    query = select(MaintenanceWindow).where(*where).order_by(MaintenanceWindow.starts_at.desc(),
                                                             MaintenanceWindow.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return {"total": total, "limit": limit, "offset": offset,
            "maintenance": [window_row(w) for w in session.scalars(query)]}


def show_window(session: Session, window_id: int) -> dict[str, Any] | None:
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        return None
    prefix = f"maintenance:{window_id}:"
    mail = [{"kind": o.kind, "to": list(o.rcpt_to), "state": o.state, "at": o.created_at.isoformat()}
            for o in session.scalars(select(OutboxMessage).where(
                OutboxMessage.cause_key.startswith(prefix, autoescape=True)).order_by(OutboxMessage.id))]
    tickets = sorted({e.ticket_id for e in session.scalars(select(Event).where(Event.kind == "maintenance-window"))
                      if e.detail.get("maintenance") == window_id and e.ticket_id is not None})
    return {**window_row(window), "text": window.text, "mail": mail, "tickets": tickets}


def window_line(w: dict[str, Any]) -> str:
    where = ", ".join(w["organisations"]) if w["organisations"] is not None else "all organisations"
    forced = " (forced)" if w["forced"] else ""
    return f"#{w['id']:<4} {w['status']:<10} {w['starts_at']} - {w['ends_at']}  {w['kind']}{forced}  {w['title']}  " \
           f"[{where}]"


def window_text(w: dict[str, Any]) -> str:
    lines = [window_line(w), "", w["text"], "",
             f"notice: {'none for this kind' if w['notice_at'] is None else w['notice_at']}"
             f"{'  (sent ' + w['noticed_at'] + ')' if w['noticed_at'] else ''}",
             f"scheduled by {w['scheduled_by']} at {w['scheduled_at']}"]
    if w["cancelled_at"]:
        lines.append(f"cancelled {w['cancelled_at']}: {w['cancel_reason'] or '(no reason given)'}")
    lines.append(f"mail: {len(w['mail'])}")
    lines += [f"  {m['at']}  {m['kind']:<22} {', '.join(m['to'])}  {m['state']}" for m in w["mail"]]
    lines.append("tickets that arrived during it: " + (", ".join(f"#{n}" for n in w["tickets"]) or "none"))
    return "\n".join(lines)
