"""Every real message in the corpus goes through `helpdesk ingest` and processing with a clear outcome."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import InboundMessage
from tests.support import CORPUS, GatewayProcess, free_port, require, write_config

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

NEVER_ACKNOWLEDGED = {"bounce", "autoreply", "list"}


def test_whole_corpus_ingests_and_processes(tmp_path: Path) -> None:
    require((CORPUS / "INDEX.tsv").exists(), f"the shared corpus is not at {CORPUS} (a user's clone)")
    with open(CORPUS / "INDEX.tsv", newline="", encoding="utf-8") as fh:
        index = {row["filename"]: row["category"] for row in csv.DictReader(fh, delimiter="\t")}
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=None)
    # The shipped limit: the test limit of 1 MB would refuse (exit 65) the corpus's larger mails.
    config.write_text(config.read_text().replace('max_message_size = "1MB"', 'max_message_size = "25MB"'))
    gw = GatewayProcess(config, port)
    files = sorted(str(CORPUS / "messages" / name) for name in index)
    # The return path is a customer's, so only the message itself can say it is automatic.
    result = gw.cli("ingest", "-q", "--sender", "someone@customer.example", "--recipient", "support@example.com",
                    "--process", *files)
    processed = json.loads(result.stdout.decode().strip().splitlines()[-1])["processed"]
    db = sqlite3.connect(tmp_path / "var" / "helpdesk.sqlite3")
    rows = db.execute("""SELECT i.id, i.state, i.reason, i.verdict,
                                (SELECT count(*) FROM outbox o WHERE o.ticket_id = i.ticket_id
                                 AND o.kind = 'acknowledgement'
                                 AND i.id = (SELECT min(m.inbound_id) FROM messages m WHERE m.ticket_id = i.ticket_id))
                         FROM inbound_messages i ORDER BY i.id""").fetchall()
    db.close()
    assert len(rows) == len(files), "every file must be stored"
    outcome = Counter(state for _id, state, *_ in rows)
    print(f"\ncorpus outcomes over {len(rows)} messages: {dict(outcome)}; processor said {processed}")
    # A ticket or a message on one (done), a screened or held record, a duplicate, or quarantine.
    assert set(outcome) <= {"done", "screened", "held", "rejected", "duplicate", "quarantined"}
    assert all(reason for _id, state, reason, *_ in rows if state not in ("done",))
    acked_by_category: Counter[str] = Counter()
    for (_id, _state, _reason, _verdict, acks), name in zip(rows, files, strict=True):
        if acks:
            acked_by_category[index[Path(name).name]] += 1
    print(f"acknowledged per category: {dict(acked_by_category)}")
    wrongly = {c: n for c, n in acked_by_category.items() if c in NEVER_ACKNOWLEDGED}
    assert not wrongly, f"acknowledged mail that must never be: {wrongly}"


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_whole_corpus_on_postgresql_the_database_refuses_nothing(make_app: Callable[..., App]) -> None:
    """PostgreSQL checks what SQLite lets through (column widths, NUL characters): real mail must
    fit, or a mail would be quarantined for the database's sake, not its own."""
    require((CORPUS / "INDEX.tsv").exists(), f"the shared corpus is not at {CORPUS} (a user's clone)")
    with open(CORPUS / "INDEX.tsv", newline="", encoding="utf-8") as fh:
        names = [row["filename"] for row in csv.DictReader(fh, delimiter="\t")]
    app = make_app()
    envelope = Envelope("someone@customer.example", ("support@example.com",))
    for name in names:
        store_inbound(app.db, (CORPUS / "messages" / name).read_bytes(), source="corpus", envelope=envelope,
                      received_at=app.clock.now())
    outcomes = Processor(app).drain()
    print(f"\ncorpus outcomes on PostgreSQL: {outcomes}")
    assert sum(outcomes.values()) == len(names)
    with app.db.sessions() as session:
        reasons = list(session.scalars(select(InboundMessage.reason).where(InboundMessage.state == "quarantined")))
    assert not [r for r in reasons if r and r.startswith("the database refused it")], reasons
