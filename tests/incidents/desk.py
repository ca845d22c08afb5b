"""An incident desk for the tests: the processor on a fake clock, three customers, engineers, the outbox."""

from __future__ import annotations

import email
import email.policy
import email.utils
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.outbound import reply_token
from gateway.outbound.incident_address import incident_address
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import Event, InboundMessage, Incident, OutboxMessage, Ticket
from tests.support import customer_mail

SUPPORT = "support@example.com"
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
T = TypeVar("T")

CONFIG = """
[gateway]
support_address = "support@example.com"
name = "Example Support"
timezone = "Europe/London"
data_dir = "{tmp}/var"

[outbound]
transport = "directory"
directory = "{tmp}/outbox"
max_per_address_per_hour = {cap}

[[engineers.team]]
handle = "dana"
name = "Dana Scully"
address = "dana@example.com"
groups = ["network"]

[[engineers.team]]
handle = "fox"
name = "Fox Mulder"
address = "fox@example.com"
groups = ["network"]

[contacts.sam]
name = "Sam Delivery"
address = "sam@example.com"
roles = ["service-delivery-manager"]
timezone = "Australia/Sydney"

[plans.standard]
calendar = "24x7"
default_priority = "P3"

[plans.standard.priorities.P1]
first_response = "15 minutes"
update_every = "30 minutes"

[plans.standard.priorities.P3]
first_response = "4 hours"
update_every = "1 day"

[[customers]]
name = "Acme"
domains = ["acme.example"]
contacts = ["alice@acme.example", "bob@acme.example"]
timezone = "Europe/London"
status_contacts = ["noc@acme.example", "alice@acme.example"]

[[customers]]
name = "Globex"
domains = ["globex.example"]
contacts = ["hank@globex.example"]
timezone = "America/New_York"
status_contacts = [{{ address = "status@globex.example", language = "de" }}]

[rule_set]
mode = "replace"

[[rules]]
name = "outage"
when = {{ words = ["outage"] }}
then = {{ priority = "P1" }}

[[rules]]
name = "known-outage"
description = "While the voice outage lasts, its reports join it."
when = {{ words = ["voice"] }}
then = {{ incident = "Voice platform outage" }}

[incidents.reports.pir]
due = "2 days"
priorities = ["P1"]
remind = ["role:service-delivery-manager"]
escalate = ["engineers"]
{extra}
"""


@dataclass
class Desk:
    app: App
    clock: FakeClock

    def deliver(self, raw: bytes, *, rcpt: str = SUPPORT) -> str:
        store_inbound(self.app.db, raw, source="smtp", envelope=Envelope("someone@example.net", (rcpt,)),
                      received_at=self.clock.now())
        outcome = Processor(self.app).process_one()
        assert outcome is not None
        return outcome

    def open(self, sender: str, subject: str = "Calls down", body: str = "Total outage of calls.") -> tuple[int, str]:
        """A customer's mail that opens a ticket: its number and the mail's Message-ID."""
        mid = email.utils.make_msgid(domain=sender.rpartition("@")[2].rstrip(">"))
        assert self.deliver(customer_mail(sender, subject, body, message_id=mid)) == "ticket"
        with self.app.db.sessions() as session:
            number = session.scalar(select(func.max(Ticket.id)))
        assert number is not None
        return number, mid

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.app.db.transaction() as session:
            yield session

    def act(self, do: Callable[[Session, App, datetime], T]) -> T:
        with self.app.db.transaction() as session:
            return do(session, self.app, self.clock.now())

    def incident(self, number: int = 1) -> Incident:
        with self.app.db.sessions() as session:
            found = session.get(Incident, number)
        assert found is not None
        return found

    def ticket(self, session: Session, number: int) -> Ticket:
        found = session.get(Ticket, number)
        assert found is not None
        return found

    def rows(self, kind: str | None = None, to: str | None = None) -> list[OutboxMessage]:
        with self.app.db.sessions() as session:
            rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        return [r for r in rows if (kind is None or r.kind == kind) and (to is None or to in r.rcpt_to)]

    def mails(self, kind: str | None = None, to: str | None = None) -> list[EmailMessage]:
        found = []
        for row in self.rows(kind, to):
            msg = email.message_from_bytes(row.raw, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            found.append(msg)
        return found

    def events(self, kind: str, ticket: int | None = None) -> list[Event]:
        with self.app.db.sessions() as session:
            query = select(Event).where(Event.kind == kind).order_by(Event.id)
            if ticket is not None:
                query = query.where(Event.ticket_id == ticket)
            return list(session.scalars(query))

    def inbound(self) -> InboundMessage:
        with self.app.db.sessions() as session:
            row = session.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()
        assert row is not None
        return row

    def engineer_address(self, ticket: int, engineer: str = "dana@example.com") -> str:
        token = reply_token.make_token(self.app.secret, ticket, bound_to=engineer)
        return reply_token.reply_address(SUPPORT, ticket, token)

    def incident_address(self, incident: int, engineer: str = "dana@example.com") -> str:
        return incident_address(self.app.secret, SUPPORT, incident, engineer)


def make_desk(tmp_path: Path, database: Database, *, cap: int = 100, extra: str = "") -> Desk:
    clock = FakeClock(START)
    config = load_config(None, text=CONFIG.format(tmp=tmp_path, cap=cap, extra=extra))
    return Desk(build_app(config, clock, db=database), clock)


def engineer_mail(sender: str, to: str, body: str, *, subject: str = "Re: incident") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 23 Nov 2026 10:05:00 +0000"
    msg["Message-ID"] = email.utils.make_msgid(domain="example.com")
    msg.set_content(body)
    return msg.as_bytes()


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def detail(event: Event) -> dict[str, Any]:
    return dict(event.detail or {})
