"""Canned replies (``#reply NAME``): a configured text written with the ticket's values, sent as the
engineer's own reply."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import TemplateError

from gateway.app import App
from gateway.config.staff import Engineer
from gateway.outbound.notices import base_context
from gateway.sla.agreed import plan_cadence
from gateway.store.models import Ticket
from gateway.time.durations import format_target
from parsers.commands import Reply


class CannedError(ValueError):
    """A canned reply that cannot be written for this ticket: unknown, or its template fails."""


def listing(app: App) -> list[dict[str, str]]:
    """The canned replies as the engineer's notification lists them: name and what it is for."""
    return [{"name": c.name, "description": c.description} for c in app.config.canned.values()]


def context(app: App, ticket: Ticket, engineer: Engineer, now: datetime,
            pending: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a canned reply may say: the ticket (with its ETA and update cadence), the customer,
    the support desk and the engineer sending it. ``pending``: ticket values the same mail sets
    (its #eta, #update-every), when the reply is checked before they run."""
    base = base_context(app, ticket, now)
    cadence = ticket.update_every or format_target(plan_cadence(app.config.policy, ticket))
    values = {**base["ticket"], "update_every": cadence if cadence != "no target" else None, **(pending or {})}
    return {**base, "ticket": values, "engineer": {"name": engineer.name, "handle": engineer.handle}}


def render(app: App, ticket: Ticket, engineer: Engineer, name: str, now: datetime,
           pending: dict[str, Any] | None = None) -> str:
    """Canned reply ``name`` written for ``ticket`` in the customer's language where it has one."""
    canned = app.config.canned.get(name)
    if canned is None:
        known = ", ".join(sorted(app.config.canned)) or "none; add [canned.NAME] tables to the config"
        raise CannedError(f"no canned reply is called {name!r} (the canned replies: {known})")
    language = ticket.language or app.config.gateway.language
    try:
        text = app.templates.render_text(canned.text_in(language), context(app, ticket, engineer, now, pending),
                                         language=language,
                                         timezone=ticket.timezone or app.config.gateway.timezone.key)
    except (TemplateError, TypeError, ValueError) as exc:
        raise CannedError(f"canned reply {name!r} cannot be written for this ticket: {exc}") from exc
    if not text.strip():
        raise CannedError(f"canned reply {name!r} is empty for this ticket")
    return text.strip()


def reply_text(app: App, ticket: Ticket, engineer: Engineer, reply: Reply, now: datetime) -> str:
    """What goes to the customer: the canned reply the mail names (if any), then the engineer's own text."""
    names = [c.args[0] for c in reply.commands if c.name == "reply"]
    if not names:
        return reply.text
    canned = render(app, ticket, engineer, names[0], now)
    return f"{canned}\n\n{reply.text}" if reply.text else canned
