"""``helpdesk explain`` says what processing does: the same outcome, ticket and priority for every mail.

Every mail of the third-party corpus, of tests/data and of the shipped scenarios is first
explained, then stored and processed, in a world with engineers, contacts, a customer directory
and plans; what processing did must be what explain said it would do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.processing.worker import Processor
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import InboundMessage, Ticket
from gateway.tools import simulate
from gateway.tools.explain import explain
from tests.support import CORPUS, ROOT, customer_mail, require
from tests.worlds import SAM, acme, dana, engineers, gateway, outbound, plan, world


def _world(var: Path) -> str:
    """Engineers, an escalation contact, a customer whose other staff are held, one plan."""
    return world(gateway(var, non_contacts="hold"), outbound(), engineers(dana("network")), SAM,
                 plan("standard", "24x7", default_priority="P3"), acme("alice@acme.example"))


class Observer:
    """Explain a mail, then process it, and keep both answers."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.processor = Processor(app)
        self.disagreements: list[str] = []
        self.outcomes: dict[str, int] = {}

    def observe(self, name: str, raw: bytes, at: datetime, sender: str = "customer@customer.example",
                rcpt: tuple[str, ...] = ("support@example.com",)) -> None:
        told = explain(self.app, raw, at=at, envelope_from=sender, rcpt_to=rcpt)
        with self.app.db.sessions() as session:
            last_ticket = session.scalar(select(func.max(Ticket.id))) or 0
        stored = store_inbound(self.app.db, raw, source="smtp", envelope=Envelope(sender, rcpt), received_at=at)
        outcome = "duplicate" if stored.duplicate else self.processor.process_one()
        if outcome is None:
            outcome = "none pending"
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        with self.app.db.sessions() as session:
            row = session.get(InboundMessage, stored.inbound_id)
            assert row is not None
            ticket = session.get(Ticket, row.ticket_id) if row.ticket_id is not None else None
            done = {"outcome": outcome, "ticket": row.ticket_id, "priority": ticket.priority if ticket else None,
                    "new": ticket is not None and ticket.id > last_ticket}
        self._compare(name, told, done)

    def _compare(self, name: str, told: dict[str, Any], done: dict[str, Any]) -> None:
        said = told["outcome"]
        problems = []
        if said != done["outcome"]:
            problems.append(f"outcome: explain {said}, processing {done['outcome']}")
        elif said == "ticket" and not done["new"]:
            problems.append(f"explain says a new ticket; processing put it on #{done['ticket']}")
        elif said in ("reply", "engineer", "contact") and told["ticket"] != done["ticket"]:
            problems.append(f"ticket: explain #{told['ticket']}, processing #{done['ticket']}")
        if said in ("ticket", "reply", "engineer", "contact") and told.get("priority") != done["priority"]:
            problems.append(f"priority: explain {told.get('priority')}, processing {done['priority']}")
        if problems:
            self.disagreements.append(f"{name}: " + "; ".join(problems))


def _observer(tmp_path: Path) -> Observer:
    config = load_config(None, text=_world(tmp_path / "var"))
    clock = FakeClock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    app = build_app(config, clock, db=Database(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    app.db.upgrade()
    return Observer(app)


def test_explain_and_processing_agree_on_the_third_party_corpus(tmp_path: Path) -> None:
    require(CORPUS.is_dir(), f"{CORPUS} is absent: the third-party corpus is read from ../shared")
    observer = _observer(tmp_path)
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    mails = sorted((CORPUS / "messages").rglob("*.eml"))
    assert len(mails) > 2000
    for index, path in enumerate(mails):
        observer.observe(str(path.relative_to(CORPUS)), path.read_bytes(), at + timedelta(seconds=index))
    assert observer.disagreements == [], "\n".join(observer.disagreements[:20])
    assert {"ticket", "screened"} <= set(observer.outcomes), observer.outcomes


def test_explain_and_processing_agree_on_the_test_mails_and_a_conversation(tmp_path: Path) -> None:
    observer = _observer(tmp_path)
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    mails = sorted((ROOT / "tests" / "data").rglob("*.eml"))
    assert mails
    for index, path in enumerate(mails):
        observer.observe(str(path.relative_to(ROOT)), path.read_bytes(), at + timedelta(seconds=index))
    # A conversation: a designated contact opens a ticket, replies, a stranger writes on its
    # thread, an engineer answers without proof, the same mail comes twice.
    later = at + timedelta(hours=1)
    first = customer_mail("Alice <alice@acme.example>", "Our website is down for everyone",
                          "Nobody can reach the site since 09:40.", message_id="<c1@acme.example>")
    observer.observe("opening", first, later, "alice@acme.example")
    observer.observe("copy", first, later + timedelta(seconds=1), "alice@acme.example")
    reply = customer_mail("Alice <alice@acme.example>", "Re: Our website is down for everyone",
                          "Still down, and now the shop is down too.", message_id="<c2@acme.example>",
                          in_reply_to="<c1@acme.example>")
    observer.observe("reply", reply, later + timedelta(minutes=5), "alice@acme.example")
    stranger = customer_mail("Mallory <m@elsewhere.example>", "Re: Our website is down for everyone",
                             "Me too!", message_id="<c3@elsewhere.example>", in_reply_to="<c1@acme.example>")
    observer.observe("stranger", stranger, later + timedelta(minutes=6), "m@elsewhere.example")
    unproven = customer_mail("Dana Scully <dana@example.com>", "Re: [#1] Our website is down",
                             "#priority P4 fine now\n\nLooking.", message_id="<c4@example.com>")
    observer.observe("unproven engineer", unproven, later + timedelta(minutes=7), "dana@example.com")
    unknown = customer_mail("Bob <bob@acme.example>", "Printer", "The printer jams.", message_id="<c5@acme.example>")
    observer.observe("not a contact", unknown, later + timedelta(minutes=8), "bob@acme.example")
    assert observer.disagreements == [], "\n".join(observer.disagreements)
    assert {"ticket", "reply", "held", "duplicate"} <= set(observer.outcomes), observer.outcomes


SCENARIOS = sorted((ROOT / "examples" / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_explain_and_processing_agree_on_the_scenario_mails(scenario: Path) -> None:
    disagreements: list[str] = []

    class Watched(simulate.Simulation):
        def apply(self, index: int, event: dict[str, Any], at: datetime) -> None:
            if "mail" not in event:
                return super().apply(index, event, at)
            raw = simulate.mail_of(event["mail"], at, index, self.base)
            sender = str(event["mail"].get("from", "customer@customer.example"))
            told = explain(self.app, raw, at=at, envelope_from=sender, rcpt_to=("support@example.com",))
            stored = store_inbound(self.app.db, raw, source="simulate",
                                   envelope=Envelope(sender, ("support@example.com",)), received_at=at)
            done = self.processor.process_one()
            self.processor.drain()
            with self.app.db.sessions() as session:
                row = session.get(InboundMessage, stored.inbound_id)
                assert row is not None
                ticket = session.get(Ticket, row.ticket_id) if row.ticket_id is not None else None
                priority = ticket.priority if ticket is not None else None
            if told["outcome"] != done or (ticket is not None and told.get("priority") != priority):
                disagreements.append(f"events[{index}]: explain {told['outcome']}/{told.get('priority')}, "
                                     f"processing {done}/{priority}")

    sim = Watched(scenario, None)
    try:
        sim.run()
    finally:
        sim.close()
    assert disagreements == []
