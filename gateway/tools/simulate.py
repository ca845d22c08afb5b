"""``helpdesk simulate``: replay a scenario on a fake clock and a scratch database; print the timeline."""

from __future__ import annotations

import email
import email.policy
import re
import tempfile
import tomllib
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import DatabaseSettings, load_config
from gateway.config.values import parse_interval
from gateway.errors import ConfigError
from gateway.outbound import reply_token
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import Event, OutboxMessage, Ticket
from gateway.tickets import workflow
from gateway.tickets.ack import acknowledge
from gateway.timekeeping.digests import DigestScheduler
from gateway.timekeeping.maintenance import MaintenanceScheduler
from gateway.timekeeping.scheduler import SlaScheduler
from gateway.tools.simulate_incidents import apply_incident, incident_rows
from gateway.tools.simulate_maintenance import apply_maintenance

# Events shown in the timeline beside every mail.
TIMELINE_EVENTS = ("ticket-opened", "sla-near-breach", "sla-breach", "sla-clock-stopped", "sla-clock-paused",
                   "sla-clock-resumed", "status-changed", "priority-changed", "public-response", "stale-notice",
                   "auto-closed", "root-cause-followup", "escalation", "escalation-acknowledged", "on-call-paged",
                   "mail-suppressed", "held", "rejected", "incident-linked", "incident-not-linked", "eta-set",
                   "eta-cleared", "update-cadence", "sla-clock-restarted", "ticket-merged", "merged-into",
                   "canned-reply", "commands-refused", "maintenance-window", "stage-entered", "stage-repeated",
                   "stage-progress")
_OFFSET = re.compile(r"^\+\s*(.+)$")


def _instant(value: Any, start: datetime, key: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=start.tzinfo)
    if isinstance(value, str):
        match = _OFFSET.match(value.strip())
        if match:
            return start + parse_interval(match.group(1))
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=start.tzinfo)
    raise ConfigError([f"{key}: write an instant (2026-11-20T17:50:00+00:00) or an offset like +30m"])


def mail_of(spec: dict[str, Any], at: datetime, index: int, base: Path) -> bytes:
    if "file" in spec:
        path = base / str(spec["file"])
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError([f"events[{index}].mail.file: {path}: {exc.strerror}"]) from exc
    msg = EmailMessage()
    msg["From"] = spec.get("from", "customer@customer.example")
    msg["To"] = spec.get("to", "support@example.com")
    msg["Subject"] = spec.get("subject", "(no subject)")
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = spec.get("message_id", f"<scenario-{index}@customer.example>")
    for key, value in spec.get("headers", {}).items():
        msg[key] = value
    msg.set_content(spec.get("body", ""))
    return msg.as_bytes()


class Simulation:
    def __init__(self, scenario_path: Path, config_path: Path | None) -> None:
        data = tomllib.loads(scenario_path.read_text(encoding="utf-8"))
        self.base = scenario_path.parent
        self.data = data
        cfg_name = data.get("config")
        path = (self.base / cfg_name) if cfg_name else config_path
        if path is None:
            raise ConfigError(["scenario: name a config (config = \"...\") or pass -c FILE"])
        self.tmp = tempfile.TemporaryDirectory(prefix="helpdesk-simulate-")
        add = data.get("add")
        if add is not None and not isinstance(add, dict):
            raise ConfigError(["scenario: add must be a table of config tables, like [[add.digests]]"])
        config = load_config(path, add=add)
        config = replace(config, database=DatabaseSettings(url=f"sqlite:///{self.tmp.name}/sim.sqlite3"),
                         gateway=replace(config.gateway, data_dir=Path(self.tmp.name)))
        self.start = _instant(data.get("start"), datetime.fromisoformat("2000-01-01T00:00:00+00:00"), "start")
        self.clock = FakeClock(self.start)
        self.app: App = build_app(config, self.clock)
        self.app.db.upgrade()
        self.processor = Processor(self.app)
        self.scheduler = SlaScheduler(self.app)
        self.digests = DigestScheduler(self.app)
        self.maintenance = MaintenanceScheduler(self.app)
        self.rows: list[dict[str, Any]] = []  # what the scenario's own actions left (a refused schedule)

    def _earliest(self) -> datetime | None:
        instants = (self.scheduler.earliest(), self.digests.earliest(), self.maintenance.earliest())
        return min((i for i in instants if i is not None), default=None)

    def _run_due(self) -> None:
        self.scheduler.run_due()
        self.digests.run_due()
        self.maintenance.run_due()

    def advance_to(self, instant: datetime) -> None:
        """Move time forward, stopping at every deadline and digest on the way, as the scheduler would wake."""
        while True:
            earliest = self._earliest()
            if earliest is None or earliest > instant:
                break
            self.clock.set(max(earliest, self.clock.now()))
            self._run_due()
        if instant > self.clock.now():
            self.clock.set(instant)
        self._run_due()

    def engineer_mail(self, index: int, event: dict[str, Any], at: datetime) -> None:
        """An engineer's reply by mail, commands and text, to the reply address issued to them for
        the ticket: through the whole pipeline (proof, checks, relay) as a real one goes."""
        spec, number = event["engineer_mail"], int(event.get("ticket", 1))
        engineer = self.app.config.staff.engineer(str(spec.get("by", "")))
        if engineer is None:
            known = ", ".join(sorted(self.app.config.staff.engineers)) or "none: add [[engineers.team]]"
            raise ConfigError([f"events[{index}].engineer_mail.by: no engineer {spec.get('by')!r} "
                               f"(engineers: {known})"])
        token = reply_token.make_token(self.app.secret, number, bound_to=engineer.address)
        to = reply_token.reply_address(self.app.config.gateway.support_address, number, token)
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Date"] = f"{engineer.name} <{engineer.address}>", to, format_datetime(at)
        msg["Subject"] = spec.get("subject", f"Re: [#{number}]")
        msg["Message-ID"] = f"<scenario-{index}@engineer.example>"
        msg.set_content(str(spec.get("text", "")))
        store_inbound(self.app.db, msg.as_bytes(), source="simulate", envelope=Envelope(engineer.address, (to,)),
                      received_at=at)
        self.processor.drain()

    def apply(self, index: int, event: dict[str, Any], at: datetime) -> None:
        if "engineer_mail" in event:
            self.engineer_mail(index, event, at)
            return
        if "mail" in event:
            raw = mail_of(event["mail"], at, index, self.base)
            sender = str(event["mail"].get("from", "customer@customer.example"))
            store_inbound(self.app.db, raw, source="simulate", envelope=Envelope(sender, ("support@example.com",)),
                          received_at=at)
            self.processor.drain()
            return
        if "incident" in event:
            with self.app.db.transaction() as session:
                apply_incident(session, self.app, event["incident"], str(event.get("by", "engineer")), at, index)
            return
        if "maintenance" in event:
            with self.app.db.transaction() as session:
                self.rows.append(apply_maintenance(session, self.app, event["maintenance"],
                                                   str(event.get("by", "engineer")), at, index))
            return
        number = int(event.get("ticket", 1))
        with self.app.db.transaction() as session:
            ticket = session.get(Ticket, number)
            if ticket is None:
                raise ConfigError([f"events[{index}].ticket: no ticket #{number} at {at.isoformat()}"])
            by = str(event.get("by", "engineer"))
            if "engineer_reply" in event or event.get("response"):
                workflow.public_update(session, self.app, ticket, at, by)
            if "status" in event:
                workflow.set_status(session, self.app, ticket, str(event["status"]), at, by)
            if "priority" in event:
                workflow.set_priority(session, self.app, ticket, str(event["priority"]), at, by)
            if "ack" in event:
                acknowledge(session, self.app, ticket, str(event["ack"]), at)

    def run(self) -> list[dict[str, Any]]:
        events = self.data.get("events", [])
        timed = sorted(((_instant(e.get("at", "+0m"), self.start, f"events[{i}].at"), i, e)
                        for i, e in enumerate(events)), key=lambda t: (t[0], t[1]))
        for at, index, event in timed:
            self.advance_to(at)
            self.apply(index, event, at)
        until = _instant(self.data.get("until", "+0m"), self.start, "until")
        self.advance_to(max(until, self.clock.now()))
        return self.timeline()

    def timeline(self) -> list[dict[str, Any]]:
        rows: list[tuple[datetime, int, dict[str, Any]]] = []
        with self.app.db.sessions() as session:
            for o in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)):
                mail = email.message_from_bytes(o.raw, policy=email.policy.default)
                assert isinstance(mail, EmailMessage)
                body = mail.get_body(("plain",))
                rows.append((o.created_at, 0, {
                    "at": o.created_at.isoformat(), "type": "mail", "kind": o.kind, "ticket": o.ticket_id,
                    "to": list(o.rcpt_to), "state": o.state, "subject": str(mail["Subject"]),
                    "text": body.get_content() if isinstance(body, EmailMessage) else ""}))
            for e in session.scalars(select(Event).where(Event.kind.in_(TIMELINE_EVENTS)).order_by(Event.id)):
                rows.append((e.at, 1, {"at": e.at.isoformat(), "type": "event", "kind": e.kind,
                                       "ticket": e.ticket_id, "actor": e.actor, "detail": e.detail}))
            rows += incident_rows(session)
        rows += [(datetime.fromisoformat(r["at"]), 1, r) for r in self.rows]
        rows.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in rows]

    def close(self) -> None:
        self.app.db.dispose()
        self.tmp.cleanup()


def simulate(scenario: Path, config: Path | None) -> list[dict[str, Any]]:
    sim = Simulation(scenario, config)
    try:
        return sim.run()
    finally:
        sim.close()


def format_timeline(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        if r["type"] == "mail":
            lines.append(f"{r['at']}  MAIL  {_on(r)} {r['kind']:<16} to {', '.join(r['to'])}: {r['subject']}"
                         + ("" if r["state"] != "suppressed" else "  (suppressed)"))
        else:
            detail = ", ".join(f"{k}={v}" for k, v in r["detail"].items() if k not in ("message_id", "rules"))
            lines.append(f"{r['at']}  EVENT {_on(r)} {r['kind']:<16} {detail}")
    return "\n".join(lines)


def _on(row: dict[str, Any]) -> str:
    """What a row is about: a ticket, an incident, or neither (mail to status contacts, say)."""
    if row["ticket"] is not None:
        return f"#{row['ticket']}"
    if row.get("maintenance") is not None:
        return f"maintenance {row['maintenance']}"
    return f"incident {row['incident']}" if row.get("incident") is not None else "-"
