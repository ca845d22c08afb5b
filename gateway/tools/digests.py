"""``helpdesk digests``: when each digest goes next and to whom; ``digests preview``: one as it
would go at an instant, written for one reader and sent to nobody."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.digests.readers import Reader, readers, slots
from gateway.digests.schedule import first_after, latest_occasion
from gateway.digests.send import write
from gateway.errors import UsageError
from gateway.store.models import DigestSchedule


def schedule(app: App) -> list[dict[str, Any]]:
    """Each digest's slots: the next instant (as stored by the running gateway, else as it would be)."""
    config, now = app.config, app.clock.now()
    with app.db.read_sessions() as session:
        rows = {(r.digest, r.slot): r for r in session.scalars(select(DigestSchedule))}
    found = []
    for digest in config.digests.digests:
        for slot in slots(config, digest):
            row = rows.get((digest.name, slot.key))
            upcoming = row.next_at if row is not None else first_after(config, digest, slot, now)
            found.append({"digest": digest.name, "kind": digest.kind, "slot": slot.key, "timezone": slot.zone.key,
                          "next": upcoming.isoformat() if upcoming else None,
                          "next_local": upcoming.astimezone(slot.zone).isoformat() if upcoming else None,
                          "last": row.last_at.isoformat() if row is not None and row.last_at else None,
                          "scheduled": row is not None})
    return found


def as_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no digests: add [[digests]] to the config"
    lines = []
    for r in rows:
        nxt = r["next_local"] or "never (no change of the on-call ahead)"
        lines.append(f"{r['digest']:<24} {r['slot']:<40} next {nxt}" + ("" if r["scheduled"] else
                                                                        "  (once the gateway runs)"))
    return "\n".join(lines)


def _reader(app: App, name: str, to: str | None, at: datetime) -> tuple[Any, Reader]:
    config = app.config
    digest = config.digests.digest(name)
    if digest is None:
        known = ", ".join(d.name for d in config.digests.digests) or "none: add [[digests]] to the config"
        raise UsageError(f"no digest named {name!r}; the digests are {known}")
    for slot in slots(config, digest):
        occasion = latest_occasion(config, digest, slot, at)
        if occasion is None:
            continue
        for reader in readers(config, digest, slot.key, occasion.at, occasion.handover):
            if to is None or to.lower() in (reader.handle.lower(), reader.address.lower()):
                return occasion, reader
    raise UsageError(f"digest {name!r} goes to nobody" + (f" named {to!r}" if to else "") + f" at {at.isoformat()}")


def preview(app: App, name: str, to: str | None, at: datetime | None, html: str | None) -> dict[str, Any]:
    """The mail ``to`` (default: the first reader) would get from digest ``name`` as of ``at``."""
    at = at or app.clock.now()
    occasion, reader = _reader(app, name, to, at)
    with app.db.read_sessions() as session:
        content = write(session, app, occasion, reader, max(at, occasion.at))
    if content is not None and html:
        try:
            Path(html).write_text(content.html, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--html {html}: cannot write it ({exc.strerror})") from exc
    return {"digest": name, "kind": occasion.digest.kind, "to": reader.address, "at": occasion.at.isoformat(),
            "period": occasion.key, "subject": content.subject if content else None,
            "text": content.text if content else None}


def preview_text(data: dict[str, Any]) -> str:
    if data["subject"] is None:
        return f"{data['digest']} to {data['to']} at {data['at']}: nothing to send (nothing due or open)"
    return f"To: {data['to']}\nSubject: {data['subject']}\n(goes at {data['at']})\n\n{data['text']}"
