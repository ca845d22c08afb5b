"""Benchmark: the full path (store + commit, then parse, screen, correlate, ticket, outbox, commit) on
SQLite with the gateway's real durability settings, against bare email.message_from_bytes + walk.

    .venv/bin/python bench/ingest.py [N]
"""

from __future__ import annotations

import email
import email.policy
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus_gen import generate
from gateway.app import build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.intake import Envelope, store_inbound
from gateway.processor import Processor


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


def gateway_rate(mails: list[bytes]) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(None, text=f"""
[gateway]
support_address = "support@example.com"
data_dir = "{tmp}"
[outbound]
max_per_address_per_hour = 1000
""")
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
        app.db.dispose()
    n = len(mails)
    return n / (t1 - t0), n / (t2 - t1), n / (t2 - t0)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    mails = generate(n)
    base, lazy = baseline(mails), bare(mails)
    store, process, full = gateway_rate(mails)
    base, lazy = (base + baseline(mails)) / 2, (lazy + bare(mails)) / 2
    print(f"messages: {n}")
    print(f"bare message_from_bytes + walk (compat32, nothing decoded): {lazy:8.0f} msg/s")
    print(f"baseline message_from_bytes + walk + get_content:           {base:8.0f} msg/s")
    print(f"gateway store (commit each):                                {store:8.0f} msg/s")
    print(f"gateway process (parse..outbox, commit per batch):          {process:8.0f} msg/s")
    print(f"gateway full path:                                          {full:8.0f} msg/s")
    print(f"ratio full path / baseline (with get_content):              {full / base:8.2f}  (target >= 0.5)")
    print(f"ratio full path / bare parse + walk:                        {full / lazy:8.2f}")


if __name__ == "__main__":
    main()
