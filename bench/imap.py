"""Benchmark: IMAP ingestion from a real Dovecot (fetch, store + commit each, then \\Seen or MOVE)
against the raw fetch rate of the same messages with imapclient alone.

    .venv/bin/python bench/imap.py [N] [--done-folder] [--database-url URL]

Needs Dovecot and root (tests/imap_server.py starts a throwaway server). Processing (parse ..
ticket .. outbox) is measured separately and not part of the ratio.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imapclient import IMAPClient
from sqlalchemy import create_engine, text

from bench.corpus_gen import generate
from gateway.app import build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.config.imap import ImapAccount
from gateway.processing.worker import Processor
from gateway.sources.imap.poller import ImapPoller
from gateway.sources.imap.sync import BATCH_MESSAGES
from gateway.store.db import Database
from gateway.store.inbound import Envelope, store_inbound, store_inbound_many
from tests.imap_server import Dovecot, require_dovecot


def raw_fetch_rate(server: Dovecot, batch: int, quiet: bool = False) -> float:
    """UID FETCH BODY.PEEK[] of every message, ``batch`` per round trip: imapclient alone.

    Timed like the poller's pass: from connecting to the last message read. ``quiet`` turns
    off imaplib's debug formatting, which imapclient turns on (the poller turns it off).
    """
    t0 = time.perf_counter()
    with IMAPClient("127.0.0.1", server.port, ssl=False, timeout=30) as client:
        if quiet:
            client._imap.debug = 0
        client.login("support", server.users["support"])
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
        got = 0
        for start in range(0, len(uids), batch):
            got += len(client.fetch(uids[start:start + batch], ["BODY.PEEK[]"]))
        elapsed = time.perf_counter() - t0
    assert got == len(uids)
    return got / elapsed


class Databases:
    """A fresh database per measurement: a SQLite file, or a PostgreSQL schema dropped at the end."""

    def __init__(self, url: str | None, tmp: str) -> None:
        self.url, self.tmp, self.schemas = url, tmp, []

    def new(self, label: str) -> Database:
        if self.url is None:
            db = Database(f"sqlite:///{self.tmp}/{label}.sqlite3")
        else:
            schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
            with create_engine(self.url).begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            self.schemas.append(schema)
            db = Database(self.url, schema=schema)
        db.upgrade()
        return db

    def drop(self) -> None:
        if self.url is None:
            return
        engine = create_engine(self.url)
        with engine.begin() as conn:
            for schema in self.schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def store_only_rate(mails: list[bytes], db: Database) -> float:
    """store_inbound alone (commit each), no IMAP: the ceiling the poller works under."""
    env = Envelope(None, ())
    t0 = time.perf_counter()
    for i, raw in enumerate(mails):
        store_inbound(db, raw, source="bench", envelope=env, received_at=datetime.now(UTC),
                      source_key=f"bench:{i}")
    return len(mails) / (time.perf_counter() - t0)


def batch_store_rate(mails: list[bytes], db: Database, batch: int) -> float:
    """store_inbound_many, one commit per ``batch``: the poller's own store, without IMAP."""
    env = Envelope(None, ())
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    for start in range(0, len(mails), batch):
        store_inbound_many(db, [(f"batch:{i}", raw) for i, raw in enumerate(mails[start:start + batch], start)],
                           source="bench", envelope=env, received_at=now)
    return len(mails) / (time.perf_counter() - t0)


def sqlite_floor_rate(mails: list[bytes], path: Path, batch: int) -> float:
    """sqlite3 alone writing the same rows as durably (WAL, synchronous=FULL), one commit per
    ``batch``: what no SQLite store, however lean its code, can beat on this machine."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("CREATE TABLE inbound (id INTEGER PRIMARY KEY, source TEXT, source_key TEXT UNIQUE, mail_from TEXT,"
                " rcpt_to TEXT, raw BLOB, size INTEGER, received_at TEXT, state TEXT, attempts INTEGER)")
    t0 = time.perf_counter()
    for start in range(0, len(mails), batch):
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT INTO inbound (source, source_key, mail_from, rcpt_to, raw, size, received_at, state,"
                        " attempts) VALUES ('bench', ?, NULL, '[]', ?, ?, '2026-11-23 09:00:00', 'pending', 0)",
                        [(f"floor:{i}", raw, len(raw)) for i, raw in enumerate(mails[start:start + batch], start)])
        con.execute("COMMIT")
    rate = len(mails) / (time.perf_counter() - t0)
    con.close()
    return rate


def mark_unseen(server: Dovecot) -> None:
    """Undo a pass without a done folder: every message unseen again, for the next round."""
    with server.client() as client:
        client.select_folder("INBOX")
        client.remove_flags(client.search("ALL"), [b"\\Seen"], silent=True)


def move_back(server: Dovecot) -> None:
    """Undo a pass with a done folder: every message back in INBOX (new UIDs, new source keys)."""
    with server.client() as client:
        client.select_folder("Done")
        uids = client.search("ALL")
        if uids:
            client.move(uids, "INBOX")


def poller_rate(server: Dovecot, db: Database, tmp: str, n: int, done_folder: bool,
                process: bool) -> tuple[float, float | None]:
    """One poller pass over the whole INBOX, then (optionally) processing, timed apart."""
    config = load_config(None, text=f'[gateway]\nsupport_address = "support@example.com"\n'
                                    f'data_dir = "{tmp}"\n[outbound]\nmax_per_address_per_hour = 100000\n')
    app = build_app(config, FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)), db=db)
    account = ImapAccount(name="bench", host="127.0.0.1", port=server.port, security="none",
                          username="support", password_env="-", password=server.users["support"],
                          done_folder="Done" if done_folder else None)
    t0 = time.perf_counter()
    result = ImapPoller(account, app.db, app.clock).sync_once()
    ingest = result.stored / (time.perf_counter() - t0)
    assert result.stored == n and result.backlog == 0, result
    if not process:
        return ingest, None
    t0 = time.perf_counter()
    counts = Processor(app).drain()
    return ingest, sum(counts.values()) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=2000)
    parser.add_argument("--done-folder", action="store_true", help="MOVE to Done instead of \\Seen")
    parser.add_argument("--database-url", help="PostgreSQL URL (a scratch schema); default: SQLite in a tmp dir")
    parser.add_argument("--skip-processing", action="store_true", help="do not time the processor")
    parser.add_argument("--rounds", type=int, default=3, help="raw fetch + poller pass pairs (median ratio)")
    args = parser.parse_args()
    require_dovecot()
    mails = generate(args.n)
    server = Dovecot().start()
    with tempfile.TemporaryDirectory() as tmp:
        dbs = Databases(args.database_url, tmp)
        try:
            t0 = time.perf_counter()
            server.append(mails)
            appended = time.perf_counter() - t0
            # Rounds, each a raw fetch then a poller pass on a fresh database, measured side by
            # side: on a shared machine the ratio of neighbours is steadier than either rate.
            rounds: list[tuple[float, float]] = []
            quiet: list[float] = []
            process = None
            for i in range(args.rounds):
                raw_i = raw_fetch_rate(server, BATCH_MESSAGES)
                quiet.append(raw_fetch_rate(server, BATCH_MESSAGES, quiet=True))
                ingest_i, process_i = poller_rate(server, dbs.new(f"poller{i}"), tmp, args.n, args.done_folder,
                                                  not args.skip_processing and i == 0)
                process = process if process_i is None else process_i
                rounds.append((raw_i, ingest_i))
                (move_back if args.done_folder else mark_unseen)(server)
            ratios = sorted(ingest_i / raw_i for raw_i, ingest_i in rounds)
            raw, ingest = rounds[[ingest_i / raw_i for raw_i, ingest_i in rounds].index(ratios[len(ratios) // 2])]
            ceiling = store_only_rate(mails, dbs.new("store"))
            batched = batch_store_rate(mails, dbs.new("batch"), BATCH_MESSAGES)
            floor = None if args.database_url else sqlite_floor_rate(mails, Path(tmp) / "floor.sqlite3",
                                                                     BATCH_MESSAGES)
        finally:
            server.close()
            dbs.drop()
    sizes = sorted(len(m) for m in mails)
    print(f"messages: {args.n}, median {sizes[len(sizes) // 2]} bytes, mean {sum(sizes) // len(sizes)} bytes;"
          f" database {'PostgreSQL' if args.database_url else 'SQLite (WAL, synchronous=FULL)'}")
    print(f"append to Dovecot (setup):                      {args.n / appended:8.0f} msg/s")
    print(f"raw imapclient UID FETCH BODY.PEEK[] ({BATCH_MESSAGES}/trip):  {raw:8.0f} msg/s  (median round)")
    print(f"  the same, imaplib's debug formatting off:    {sorted(quiet)[len(quiet) // 2]:8.0f} msg/s  (median)")
    print(f"poller: fetch + store_inbound + {'MOVE' if args.done_folder else 'Seen'} (one pass): "
          f"{ingest:8.0f} msg/s")
    print(f"store_inbound alone, commit each (ceiling):     {ceiling:8.0f} msg/s")
    print(f"the poller's store alone, one commit per {BATCH_MESSAGES}: {batched:8.0f} msg/s")
    if floor is not None:
        print(f"sqlite3 alone, same rows, one commit per {BATCH_MESSAGES}: {floor:8.0f} msg/s  (no store is faster)")
    if process is not None:
        print(f"processing (parse .. outbox), separately:       {process:8.0f} msg/s")
    print("rounds (raw, poller, ratio):                    " + "; ".join(
        f"{r:.0f}, {i:.0f}, {i / r:.2f}" for r, i in rounds))
    print(f"ratio poller / raw fetch (median round):        {ingest / raw:8.2f}  (target >= 0.7)")
    print(f"ratio poller / raw fetch, debug formatting off:  {ingest / sorted(quiet)[len(quiet) // 2]:8.2f}  "
          f"(median rates)")
    print(f"ratio poller / store_inbound alone:             {ingest / ceiling:8.2f}")
    quiet_rate = sorted(quiet)[len(quiet) // 2]
    print(f"ceiling of the quiet ratio if fetch and store overlapped perfectly: our store "
          f"{min(1.0, batched / quiet_rate):.2f}" + (f", sqlite3 itself {min(1.0, floor / quiet_rate):.2f}"
                                                     if floor is not None else ""))


if __name__ == "__main__":
    main()
