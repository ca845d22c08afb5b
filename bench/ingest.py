"""Benchmark: the full path (store + commit, then parse, screen, correlate, ticket, outbox, commit) on
SQLite with the gateway's real durability settings, against the standard library reading the same mail.

    .venv/bin/python -m bench.ingest [N] [--rounds R]

Two configurations are measured on the same mails:
- foundation: what the foundation issue asks for (default rules, a ticket, an acknowledgement);
- shipped: config.example.toml as `make run` uses it, with SLA clocks on every ticket and both of
  its example engineers told of every new ticket and reply (2.6 outgoing mails per inbound one).
Each round measures the baseline, then the gateway, then the baseline again; the ratio of a round is
the gateway's rate over the mean of its two baselines, and the median round is reported.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bench.corpus_gen import generate
from gateway.app import build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import OutboxMessage

ROOT = Path(__file__).resolve().parents[1]

def foundation_config(tmp: str) -> str:
    return f"""
[gateway]
support_address = "support@example.com"
data_dir = "{tmp}"
[outbound]
max_per_address_per_hour = 1000
"""


def shipped_config(tmp: str) -> str:
    text = (ROOT / "config.example.toml").read_text()
    return text.replace('data_dir = "var"', f'data_dir = "{tmp}"') \
        .replace('url = "sqlite:///var/helpdesk.sqlite3"', f'url = "sqlite:///{tmp}/helpdesk.sqlite3"')


def bare(mails: list[bytes]) -> float:
    """email.message_from_bytes (compat32) + walk, nothing decoded: the cheapest look at a mail."""
    t0 = time.perf_counter()
    for raw in mails:
        for _part in email.message_from_bytes(raw).walk():
            pass
    return len(mails) / (time.perf_counter() - t0)


def baseline(mails: list[bytes]) -> float:
    """The default policy's parse + walk + get_content of every leaf: reading every part once."""
    t0 = time.perf_counter()
    for raw in mails:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for part in msg.walk():
            if not part.is_multipart():
                part.get_content()
    return len(mails) / (time.perf_counter() - t0)


def gateway_rate(mails: list[bytes], config_text: Callable[[str], str]) -> tuple[float, float, float, float]:
    """Messages/second stored, processed and end to end; outgoing mails queued per inbound one."""
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(None, text=config_text(tmp))
        app = build_app(config, FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)))
        app.db.upgrade()
        env = Envelope("customer@customer.example", ("support@example.com",))
        t0 = time.perf_counter()
        for raw in mails:
            store_inbound(app.db, raw, source="bench", envelope=env, received_at=app.clock.now())
        t1 = time.perf_counter()
        counts = Processor(app).drain()
        t2 = time.perf_counter()
        assert sum(counts.values()) == len(mails), counts
        with app.db.sessions() as session:
            queued = session.scalar(select(func.count(OutboxMessage.id))) or 0
        app.db.dispose()
    n = len(mails)
    return n / (t1 - t0), n / (t2 - t1), n / (t2 - t0), queued / n


def measure(name: str, mails: list[bytes], config_text: Callable[[str], str], rounds: int, lazy: float) -> None:
    results = []
    for _ in range(rounds):
        before = baseline(mails)
        store, process, full, out = gateway_rate(mails, config_text)
        base = (before + baseline(mails)) / 2
        results.append((full / base, base, store, process, full, out))
    ratio, base, store, process, full, out = sorted(results)[len(results) // 2]
    print(f"{name}: {out:.1f} outgoing mails per inbound mail; median of {rounds} round(s)")
    print(f"  baseline message_from_bytes + walk + get_content:  {base:8.0f} msg/s")
    print(f"  gateway store (commit each):                       {store:8.0f} msg/s")
    print(f"  gateway process (parse..outbox, commit per batch): {process:8.0f} msg/s")
    print(f"  gateway full path:                                 {full:8.0f} msg/s")
    print(f"  ratio full path / baseline:                        {ratio:8.2f}  (target >= 0.5)"
          f"   rounds: {', '.join(f'{r[0]:.2f}' for r in results)}")
    print(f"  ratio full path / bare parse + walk:               {full / lazy:8.2f}"
          f"  (storing alone, with its commit: {store / lazy:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, nargs="?", default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    mails = generate(args.n)
    lazy = statistics.median(bare(mails) for _ in range(3))
    print(f"messages: {args.n}")
    print(f"bare message_from_bytes + walk (compat32, decodes nothing): {lazy:8.0f} msg/s")
    measure("foundation (default rules, ticket, acknowledgement)", mails, foundation_config, args.rounds, lazy)
    measure("shipped config.example.toml (SLA clocks, 2 engineers notified)", mails, shipped_config, args.rounds,
            lazy)


if __name__ == "__main__":
    main()
