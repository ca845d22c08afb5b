"""`helpdesk import`: a mailbox's history becomes tickets and threads, sends nothing, runs no clock; resumable."""

from __future__ import annotations

import csv
import io
import json
import mailbox
import re
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.app import build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.timekeeping.scheduler import SlaScheduler
from gateway.tools.import_progress import PlainLines
from tests import worlds
from tests.imap_server import running_dovecot
from tests.support import CORPUS, HELPDESK, OUTSIDE, customer_mail, free_port, require, write_config

# Every ticket gets clocks, live: that history gets none is then the import's doing.
SLA = worlds.world(
    worlds.calendar(hours="09:00-18:00"),
    worlds.plan(priorities={p: {"first_response": t, "update_every": "1 business day"} for p, t in (
        ("P1", "15m"), ("P2", "1h"), ("P3", "4 business hours"), ("P4", "1 business day"))}),
)

PROGRESS_LINE = re.compile(r"^imported (\d+)/(\d+) \((\d+)/s(, about \S+ left)?\)$")


def _helpdesk(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os
    result = subprocess.run([*HELPDESK, "-c", str(config), "import", *args], capture_output=True, text=True,
                            cwd=OUTSIDE, timeout=600, env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr
    return result


def _figures(result: subprocess.CompletedProcess[str]) -> dict[str, int]:
    data: dict[str, int] = json.loads(result.stdout)
    return data


def _scalar(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def _counts(db: Path) -> dict[str, int]:
    return {table: _scalar(db, f"SELECT count(*) FROM {table}")
            for table in ("tickets", "messages", "inbound_messages", "participants", "events")}


def _assert_silent(db: Path) -> None:
    """Nothing to send, no clock running, nothing for the scheduler to wake for."""
    assert _scalar(db, "SELECT count(*) FROM outbox") == 0
    assert _scalar(db, "SELECT count(*) FROM sla_clocks WHERE stopped_at IS NULL") == 0
    assert _scalar(db, "SELECT count(*) FROM tickets WHERE next_deadline IS NOT NULL") == 0
    assert _scalar(db, "SELECT count(*) FROM escalations") == 0


def _mail(sender: str, subject: str, body: str, date: str, message_id: str, **kw: str) -> bytes:
    raw = customer_mail(sender, subject, body, message_id=message_id, **kw)  # type: ignore[arg-type]
    return raw.replace(b"Date: Sun, 22 Nov 2026 10:00:00 +0000", b"Date: " + date.encode())


def _thread() -> list[bytes]:
    """A first mail and its reply (given in the wrong order, as a folder may list them), and another."""
    first = _mail("alice@customer.example", "Cannot log in", "Nobody can log in.", "Mon, 02 Mar 2026 09:00:00 +0000",
                  "<first@customer.example>")
    reply = _mail("alice@customer.example", "Re: Cannot log in", "Still broken.", "Mon, 02 Mar 2026 11:00:00 +0000",
                  "<reply@customer.example>", in_reply_to="<first@customer.example>",
                  references="<first@customer.example>")
    other = _mail("bob@other.example", "Invoice question", "Where is my invoice?", "Tue, 03 Mar 2026 08:00:00 +0000",
                  "<other@other.example>")
    return [reply, first, other]


def _assert_threaded(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT t.subject, t.status, count(m.id), min(m.created_at) FROM tickets t "
                            "JOIN messages m ON m.ticket_id = t.id GROUP BY t.id ORDER BY t.created_at").fetchall()
    # The first mail opened the ticket and the reply joined it, whatever order the source gave them in;
    # each ticket is history, resolved as of its last mail, created when its first mail arrived.
    assert [(s, st, n) for s, st, n, _at in rows] == [("Cannot log in", "resolved", 2),
                                                      ("Invoice question", "resolved", 1)]
    assert rows[0][3].startswith("2026-03-02 09:00:00")
    _assert_silent(db)


@pytest.mark.corpus
@pytest.mark.slow
def test_the_corpus_as_an_mbox_becomes_tickets_sending_nothing_and_a_second_run_adds_nothing(
        tmp_path: Path) -> None:
    require((CORPUS / "INDEX.tsv").exists(), f"the shared corpus is not at {CORPUS} (a user's clone)")
    with open(CORPUS / "INDEX.tsv", newline="", encoding="utf-8") as fh:
        names = [row["filename"] for row in csv.DictReader(fh, delimiter="\t")]
    box_path = tmp_path / "history.mbox"
    box = mailbox.mbox(box_path)
    for name in names:
        box.add((CORPUS / "messages" / name).read_bytes())
    box.close()
    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None, extra=SLA)
    db = tmp_path / "var" / "helpdesk.sqlite3"

    started = time.monotonic()
    first = _helpdesk(config, "mbox", str(box_path), "--json")
    took = time.monotonic() - started
    summary = _figures(first)
    print(f"\nimport of the corpus ({len(names)} mails) took {took:.1f}s: {summary}")
    assert summary["total"] == len(names) == 2606
    parts = ("tickets", "replies", "screened", "duplicates", "held", "rejected", "quarantined", "pending",
             "already_imported", "copies", "unreadable")
    assert sum(summary[p] for p in parts) == 2606, summary
    assert summary["tickets"] > 500 and summary["already_imported"] == 0 and summary["pending"] == 0
    assert summary["tickets"] == _scalar(db, "SELECT count(*) FROM tickets")
    _assert_silent(db)
    assert _scalar(db, "SELECT count(*) FROM tickets WHERE status <> 'resolved'") == 0
    assert _scalar(db, "SELECT count(*) FROM inbound_messages WHERE source <> 'history'") == 0
    # Progress without a terminal: plain lines, counting up to the total.
    lines = [m for m in map(PROGRESS_LINE.match, first.stderr.splitlines()) if m]
    assert len(lines) >= 5, first.stderr[-2000:]
    assert [int(m[1]) for m in lines] == sorted(int(m[1]) for m in lines)
    assert lines[-1][1] == lines[-1][2] == "2606"

    # The scheduler has nothing to do for them, even years from now.
    app = build_app(load_config(config), FakeClock(datetime.now(UTC) + timedelta(days=3650)))
    try:
        assert SlaScheduler(app).earliest() is None
        assert SlaScheduler(app).run_due() == 0
    finally:
        app.db.dispose()
    _assert_silent(db)

    before = _counts(db)
    second = _helpdesk(config, "mbox", str(box_path))
    assert "nothing new: every message was already imported" in second.stdout
    assert re.search(r"duplicates skipped\s+2606\b", second.stdout), second.stdout
    assert _counts(db) == before
    _assert_silent(db)


def test_maildir_history_threads_a_reply_onto_its_ticket_and_leaves_the_maildir_alone(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir")
    for raw in _thread():
        box.add(raw)
    files = sorted(p.relative_to(tmp_path) for p in (tmp_path / "Maildir").rglob("*") if p.is_file())
    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None, extra=SLA)
    result = _helpdesk(config, "maildir", str(tmp_path / "Maildir"), "--json")
    assert {k: v for k, v in _figures(result).items() if v and k != "source"} == {
        "total": 3, "tickets": 2, "replies": 1, "history": 3, "settled": 2}
    _assert_threaded(tmp_path / "var" / "helpdesk.sqlite3")
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "Maildir").rglob("*") if p.is_file()) == files


def test_eml_dir_mail_after_history_before_is_live(tmp_path: Path) -> None:
    """Before the cut: history. After it: live mail, acknowledged and timed, and a live reply to a
    history thread starts that ticket's clocks."""
    folder = tmp_path / "export"
    folder.mkdir()
    for i, raw in enumerate(_thread()):
        (folder / f"{i}.eml").write_bytes(raw)
    (folder / "3.eml").write_bytes(_mail(
        "carol@customer.example", "Printer on fire", "Please help.", "Mon, 09 Mar 2026 10:00:00 +0000",
        "<live@customer.example>"))
    (folder / "4.eml").write_bytes(_mail(
        "bob@other.example", "Re: Invoice question", "Any news?", "Tue, 10 Mar 2026 10:00:00 +0000",
        "<bob-again@other.example>", in_reply_to="<other@other.example>"))
    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None, extra=SLA)
    db = tmp_path / "var" / "helpdesk.sqlite3"
    result = _helpdesk(config, "eml-dir", str(folder), "--history-before", "2026-03-05T00:00:00+00:00", "--json")
    figures = _figures(result)
    assert (figures["history"], figures["live"], figures["tickets"], figures["replies"]) == (3, 2, 3, 2)
    with sqlite3.connect(db) as conn:
        tickets = dict(conn.execute("SELECT subject, status FROM tickets").fetchall())
        outbox = conn.execute("SELECT kind, rcpt_to FROM outbox").fetchall()
        timed = {s for (s,) in conn.execute("SELECT DISTINCT t.subject FROM sla_clocks c JOIN tickets t "
                                            "ON t.id = c.ticket_id WHERE c.stopped_at IS NULL")}
    assert tickets == {"Cannot log in": "resolved", "Invoice question": "open", "Printer on fire": "open"}
    assert outbox == [("acknowledgement", '["carol@customer.example"]')]
    assert timed == {"Invoice question", "Printer on fire"}
    # Run again: nothing doubles.
    again = _figures(_helpdesk(config, "eml-dir", str(folder), "--json"))
    assert again["already_imported"] == 5 and again["tickets"] == 0
    assert _scalar(db, "SELECT count(*) FROM outbox") == 1


@pytest.mark.dovecot
def test_imap_folder_is_imported_read_only(tmp_path: Path) -> None:
    with running_dovecot() as server:
        server.append(_thread(), folder="Archive")
        unseen = server.uids("Archive", "UNSEEN")
        assert len(unseen) == 3
        imap = worlds.imap("support", server.port, password_env="IMPORT_IMAP_PASSWORD")
        config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None, extra=SLA + imap)
        env = {"IMPORT_IMAP_PASSWORD": server.users["support"]}
        result = _helpdesk(config, "imap", "support", "--folder", "Archive", "--json", env=env)
        assert (_figures(result)["tickets"], _figures(result)["replies"]) == (2, 1)
        _assert_threaded(tmp_path / "var" / "helpdesk.sqlite3")
        assert server.uids("Archive", "UNSEEN") == unseen  # no flag changed
        again = _figures(_helpdesk(config, "imap", "support", "--folder", "Archive", "--json", env=env))
        assert again["already_imported"] == 3


def test_plain_progress_lines_say_count_rate_and_time_left() -> None:
    now = [100.0]
    out = io.StringIO()
    progress = PlainLines(out, 2606, clock=lambda: now[0])
    for _ in range(26):
        now[0] += 1.0
        progress.advance(100)
    now[0] += 0.1
    progress.advance(6)
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "imported 300/2606 (100/s, about 23s left)"
    assert lines[-1] == "imported 2606/2606 (100/s)"
    assert len(lines) == 10 and all(PROGRESS_LINE.match(line) for line in lines)


def test_history_joining_a_live_ticket_is_filed_and_moves_none_of_its_clocks(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None, extra=SLA)
    db = tmp_path / "var" / "helpdesk.sqlite3"
    first = _mail("alice@customer.example", "Password question", "How do I change my password?",
                  "Mon, 02 Mar 2026 09:00:00 +0000", "<first@customer.example>")
    subprocess.run([*HELPDESK, "-c", str(config), "ingest", "-q", "--process"], input=first, check=True,
                   capture_output=True, cwd=OUTSIDE, timeout=120)
    clocks = "SELECT name, deadline, stopped_at, paused_remaining FROM sla_clocks ORDER BY id"
    with sqlite3.connect(db) as conn:
        before = (conn.execute(clocks).fetchall(), conn.execute("SELECT status, next_deadline FROM tickets").fetchall())
    assert _scalar(db, "SELECT count(*) FROM outbox") == 1 and before[0]
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "reply.eml").write_bytes(_mail(
        "alice@customer.example", "Re: Password question",
        "Now it is a complete outage: nobody can work at all, production is down.", "Mon, 02 Mar 2026 11:00:00 +0000",
        "<late-reply@customer.example>", in_reply_to="<first@customer.example>"))
    figures = _figures(_helpdesk(config, "eml-dir", str(folder), "--json"))
    assert (figures["replies"], figures["history"], figures["settled"]) == (1, 1, 0)
    with sqlite3.connect(db) as conn:
        after = (conn.execute(clocks).fetchall(), conn.execute("SELECT status, next_deadline FROM tickets").fetchall())
    assert after == before
    assert _scalar(db, "SELECT count(*) FROM outbox") == 1
    assert _scalar(db, "SELECT count(*) FROM messages WHERE direction = 'in'") == 2


def test_a_run_interrupted_after_storing_is_finished_by_the_next(tmp_path: Path) -> None:
    """Mail a run stored but did not process (it was stopped) is processed and settled by the next run."""
    from gateway.store.history import HISTORY_SOURCE
    from gateway.store.inbound import Envelope, store_inbound_many
    from gateway.tools.importer import import_key

    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None, extra=SLA)
    box = mailbox.mbox(tmp_path / "history.mbox")
    for raw in _thread():
        box.add(raw)
    box.close()
    app = build_app(load_config(config), FakeClock(datetime.now(UTC)))
    try:
        app.db.upgrade()
        reread = mailbox.mbox(tmp_path / "history.mbox")
        stored = [reread.get_bytes(key) for key in reread.iterkeys()]
        other = next(raw for raw in stored if b"Where is my invoice?" in raw)
        store_inbound_many(app.db, [(import_key(other), other)], source=HISTORY_SOURCE,
                           envelope=Envelope(None, ()), received_at=app.clock.now(),
                           arrived_at={import_key(other): datetime(2026, 3, 3, 8, 0, tzinfo=UTC)})
    finally:
        app.db.dispose()
    figures = _figures(_helpdesk(config, "mbox", str(tmp_path / "history.mbox"), "--json"))
    assert (figures["already_imported"], figures["replies"], figures["tickets"], figures["settled"]) == (1, 1, 1, 2)
    with sqlite3.connect(tmp_path / "var" / "helpdesk.sqlite3") as conn:
        assert conn.execute("SELECT subject FROM tickets WHERE id = 1").fetchone() == ("Invoice question",)
    _assert_threaded(tmp_path / "var" / "helpdesk.sqlite3")


def test_held_history_approved_later_is_still_history(tmp_path: Path) -> None:
    """The mark travels with the stored mail: approving a held history mail sends nothing either."""
    from gateway.processing.worker import Processor

    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None, extra=SLA)
    db = tmp_path / "var" / "helpdesk.sqlite3"
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "1.eml").write_bytes(_thread()[1])
    (folder / "2.eml").write_bytes(_mail(
        "mallory@elsewhere.example", "Re: Cannot log in", "Me too!", "Mon, 02 Mar 2026 12:00:00 +0000",
        "<mallory@elsewhere.example>", in_reply_to="<first@customer.example>"))
    figures = _figures(_helpdesk(config, "eml-dir", str(folder), "--json"))
    assert (figures["tickets"], figures["held"]) == (1, 1)
    [(held_id,)] = sqlite3.connect(db).execute("SELECT id FROM inbound_messages WHERE state = 'held'").fetchall()
    subprocess.run([*HELPDESK, "-c", str(config), "held", "approve", str(held_id)], check=True, capture_output=True,
                   cwd=OUTSIDE, timeout=120)
    app = build_app(load_config(config), FakeClock(datetime.now(UTC)))
    try:
        assert Processor(app).drain() == {"reply": 1}
    finally:
        app.db.dispose()
    assert _scalar(db, "SELECT count(*) FROM messages WHERE direction = 'in'") == 2
    _assert_silent(db)
