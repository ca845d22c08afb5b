"""A gateway on a fake clock for the digest tests: processor, SLA and digest schedulers, no network."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import DatabaseSettings, load_config
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import OutboxMessage, Ticket
from gateway.tickets.workflow import public_update
from gateway.timekeeping.digests import DigestScheduler
from gateway.timekeeping.scheduler import SlaScheduler
from tests import worlds
from tests.support import customer_mail

LONDON = ZoneInfo("Europe/London")  # on UTC in November
DIGEST_KINDS = ("sla-weekly", "sla-monthly", "organisation-monthly", "oncall-handover", "due-today")

# Two customers on two plans, two service delivery managers far apart, Alice and Bob on call,
# Dana (network) and Eve (billing) working tickets.
CONFIG = worlds.world(
    worlds.gateway(default_plan="gold"),
    worlds.outbound(),
    worlds.UK_CALENDAR,
    worlds.plan("gold", default_priority="P3", priorities={
        "P1": {"first_response": "30m", "calendar": "24x7"}, "P3": worlds.FOUR_BUSINESS_HOURS}),
    worlds.plan("silver", default_priority="P3", priorities={"P3": {"first_response": "8 business hours"}}),
    worlds.customer("Acme", "acme.example", plan="gold", timezone="Europe/London",
                    contacts=["ops@acme.example", {"address": "it@acme.example", "language": "de"}]),
    worlds.customer("Globex", "globex.example", plan="silver", timezone="America/New_York",
                    contacts=["noc@globex.example"]),
    worlds.contact("sam", "Sam Delivery", roles=["service-delivery-manager"], timezone="Australia/Sydney"),
    worlds.contact("greta", "Greta Berger", roles=["service-delivery-manager"], timezone="Europe/Berlin",
                   locale="de_DE"),
    worlds.ONCALL,
    worlds.engineers(worlds.dana("network"), worlds.engineer("eve", "Eve Moneypenny", "billing")),
    worlds.OWN_RULES,
    worlds.rule("outage", ["outage"], priority="P1"),
    worlds.rule("network", ["network"], route="network"),
)

# Each kind once, figures as in Britain.
DIGESTS = worlds.world(*(worlds.table("[[digests]]", kind=kind, calendar=calendar, locale="en_GB")
                         for kind, calendar in (("sla-weekly", None), ("due-today", "uk"), ("oncall-handover", None),
                                                ("organisation-monthly", None))))


class Desk:
    def __init__(self, db: Database, start: datetime, data_dir: Path, extra: str = DIGESTS) -> None:
        loaded = load_config(None, text=worlds.world(CONFIG, extra))
        loaded = replace(loaded, database=DatabaseSettings(url=db.url),
                         gateway=replace(loaded.gateway, data_dir=data_dir))
        self.clock = FakeClock(start)
        self.app: App = build_app(loaded, self.clock, db=db)
        self.sla = SlaScheduler(self.app)
        self.digests = DigestScheduler(self.app)
        self.digests.earliest()  # the schedule starts now, as at the gateway's start
        self.sending = True  # False: the digest scheduler does not run (its process is down)

    def advance(self, instant: datetime) -> None:
        """Move time on, waking at every deadline and digest on the way."""
        while True:
            due = [i for i in (self.sla.earliest(), self.digests.earliest() if self.sending else None)
                   if i is not None and i <= instant]
            if not due:
                break
            self.clock.set(max(min(due), self.clock.now()))
            self._run()
        self.clock.set(max(instant, self.clock.now()))
        self._run()

    def _run(self) -> None:
        self.sla.run_due()
        if self.sending:
            self.digests.run_due()

    def mail(self, at: datetime, sender: str, subject: str, body: str = "Please help.") -> None:
        self.advance(at)
        store_inbound(self.app.db, customer_mail(sender, subject, body), source="test",
                      envelope=Envelope(sender, ("support@example.com",)), received_at=self.clock.now())
        Processor(self.app).drain()

    def respond(self, at: datetime, ticket: int, by: str = "dana") -> None:
        self.advance(at)
        with self.app.db.transaction() as session:
            found = session.get(Ticket, ticket)
            assert found is not None
            public_update(session, self.app, found, self.clock.now(), by)

    def digest_mails(self, *kinds: str) -> list[tuple[str, str, str]]:
        """(instant in UTC, kind, recipient) of every digest mail, in order."""
        with self.app.db.sessions() as session:
            rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind.in_(kinds or DIGEST_KINDS))
                                   .order_by(OutboxMessage.created_at, OutboxMessage.recipient))
            return [(o.created_at.strftime("%m-%d %H:%M"), o.kind, o.recipient) for o in rows]

    def message(self, kind: str, to: str, index: int = -1) -> EmailMessage:
        with self.app.db.sessions() as session:
            raws = list(session.scalars(select(OutboxMessage.raw).where(
                OutboxMessage.kind == kind, OutboxMessage.recipient == to).order_by(OutboxMessage.id)))
        parsed = email.message_from_bytes(raws[index], policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())
