"""Benchmark: the CPU and the SQL statements a mail costs at each stage, in one process.

    .venv/bin/python -m bench.stages [--mails 1000] [--rounds 3]

The end-to-end benchmark (bench/e2e.py) times the whole service, and on this shared machine its
rates move by half between runs of the same day. This one takes the stages apart, in one process,
on bench/e2e.py's support corpus and config (config.example.toml, SQLite, synchronous=FULL, the
example engineers left out): the listener's store of each mail (its own commit), processing
(parse, decide, ticket, clocks, acknowledgement queued) and sending (the directory transport).
Each is measured twice: in batches, as when mail waits (the processor's 50, the sender's 20), and
one mail at a time, as when it trickles in (a transaction each). It prints CPU milliseconds a
mail (process time, the least of the rounds) and statements a mail (the same each run), and, as
the baseline measured in the same run, the standard library parsing the same mails and reading
every part once.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, event

from bench.e2e_harness import SUPPORT, Mail, support_corpus, write_config
from gateway.app import build_app
from gateway.clock import SystemClock
from gateway.config import load_config
from gateway.outbound import sender as sender_module
from gateway.outbound.sender import Sender
from gateway.outbound.transports import make_transport
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from parsers.language import warm_up

STAGES = ("store", "process", "send")
_counted: Counter[str] = Counter()
_stage = ["none"]


@event.listens_for(Engine, "before_cursor_execute")
def _count(*_args: Any) -> None:
    _counted[_stage[0]] += 1


def baseline(mails: list[Mail]) -> float:
    """CPU ms a mail of email.message_from_bytes (default policy) and get_content of every leaf."""
    started = time.process_time()
    for mail in mails:
        msg = email.message_from_bytes(mail.raw, policy=email.policy.default)
        for part in msg.walk():
            if not part.is_multipart():
                part.get_content()
    return 1000 * (time.process_time() - started) / len(mails)


def one_round(mails: list[Mail], one_at_a_time: bool) -> dict[str, tuple[float, float]]:
    """CPU ms and statements a mail, per stage."""
    _counted.clear()
    n = len(mails)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(load_config(write_config(Path(tmp), smtp_port=2525, engineers=False)), SystemClock())
        app.db.upgrade()
        batch = sender_module.BATCH
        sender_module.BATCH = 1 if one_at_a_time else batch
        sender = Sender(app, make_transport(app.config.outbound), worker="bench")
        processor = Processor(app)

        def store() -> None:
            for mail in mails:
                store_inbound(app.db, mail.raw, source="smtp", envelope=Envelope(mail.sender, (SUPPORT,)),
                              received_at=app.clock.now())

        def process() -> None:
            if one_at_a_time:
                for _ in mails:
                    processor.process_batch(1)
            else:
                processor.drain()

        def send() -> None:
            while sender.send_due():
                pass

        work: dict[str, Callable[[], None]] = {"store": store, "process": process, "send": send}
        out = {}
        try:
            for name in STAGES:
                _stage[0] = name
                started = time.process_time()
                work[name]()
                out[name] = (1000 * (time.process_time() - started) / n, _counted[name] / n)
        finally:
            _stage[0] = "none"
            sender_module.BATCH = batch
            sender.close()
            app.db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    mails = support_corpus(args.mails)
    warm_up()
    base = min(baseline(mails) for _ in range(args.rounds))
    print(f"{len(mails)} mails of bench/e2e.py's support corpus, least CPU of {args.rounds} rounds; "
          f"baseline (stdlib parse + every part read): {base:.2f} ms a mail")
    for label, one in (("in batches", False), ("one at a time", True)):
        rounds = [one_round(mails, one) for _ in range(args.rounds)]
        total = 0.0
        for name in STAGES:
            cpu = min(r[name][0] for r in rounds)
            total += cpu
            print(f"  {label:14} {name:8} {cpu:6.2f} ms a mail  {rounds[0][name][1]:5.1f} statements a mail")
        print(f"  {label:14} {'all':8} {total:6.2f} ms a mail  ({total / base:.1f}x the baseline)")


if __name__ == "__main__":
    main()
