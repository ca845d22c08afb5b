"""Benchmark: SLA wake-up cost with 100 due tickets among 1,000 and among 1,000,000 open (SQLite),
and the lateness of notices (emitted minus deadline) at p50/p99 over 10,000 deadlines.

    .venv/bin/python -m bench.sla [--open 1000000] [--deadlines 10000] [--spread 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from gateway.app import App, build_app
from gateway.clock import Clock, FakeClock, SystemClock
from gateway.config import load_config
from gateway.store.models import OutboxMessage, SlaClock, Ticket
from gateway.timekeeping.driver import SlaDriver
from gateway.timekeeping.scheduler import SlaScheduler

CONFIG = """
[gateway]
support_address = "support@example.com"
data_dir = "{tmp}"
[outbound]
max_per_address_per_hour = 1000000
max_per_ticket_per_hour = 1000000
[plans.standard]
calendar = "24x7"
[plans.standard.priorities.P1]
update_every = "30m"
"""


def _app(tmp: str, clock: Clock) -> App:
    app = build_app(load_config(None, text=CONFIG.format(tmp=tmp)), clock)
    app.db.upgrade()
    return app


def _fill(app: App, open_count: int, due: list[datetime], later: datetime) -> None:
    """Open tickets in bulk: ``due`` get an update clock at those instants, the rest are due later."""
    base = {"subject": "bench", "status": "open", "priority": "P1", "plan": "standard",
            "customer_address": "c@customer.example", "customer_name": "C", "verified": True, "tags": [],
            "created_at": later - timedelta(days=1), "updated_at": later - timedelta(days=1),
            "timezone": "UTC", "status_since": later - timedelta(days=1)}
    with app.db.engine.begin() as conn:
        chunk = 50_000
        for first in range(0, open_count - len(due), chunk):
            n = min(chunk, open_count - len(due) - first)
            conn.execute(insert(Ticket), [{**base, "next_deadline": later} for _ in range(n)])
        for instant in due:
            ticket_id = conn.execute(insert(Ticket).values(**base, next_deadline=instant)).inserted_primary_key[0]
            conn.execute(insert(SlaClock).values(ticket_id=ticket_id, name="update", target="30 minutes",
                                                 calendar="24x7", started_at=instant - timedelta(minutes=30),
                                                 deadline=instant))


def wake_cost(open_count: int) -> float:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    clock = FakeClock(start)
    with tempfile.TemporaryDirectory() as tmp:
        app = _app(tmp, clock)
        _fill(app, open_count, [start - timedelta(seconds=1)] * 100, start + timedelta(days=30))
        t0 = time.perf_counter()
        handled = SlaScheduler(app).run_due()
        elapsed = time.perf_counter() - t0
        assert handled == 100, handled
        app.db.dispose()
    return elapsed


def lateness(count: int, spread: float) -> list[float]:
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        app = _app(tmp, clock)
        begin = clock.now() + timedelta(seconds=5)
        due = [begin + timedelta(seconds=spread * i / count) for i in range(count)]
        _fill(app, count, due, begin + timedelta(days=30))
        driver = SlaDriver(app)
        driver.start()
        end = due[-1] + timedelta(seconds=60)
        while clock.now() < end:
            with app.db.read_sessions() as s:
                done = s.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0
            if done >= count:
                break
            time.sleep(1)
        driver.shutdown()
        with app.db.sessions() as s:
            rows = s.execute(select(OutboxMessage.cause_key, OutboxMessage.created_at)).all()
        app.db.dispose()
    late = []
    for key, created in rows:
        deadline = datetime.fromisoformat(key.split(":", 2)[2])
        late.append((created - deadline).total_seconds())
    return late


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=1_000_000)
    parser.add_argument("--deadlines", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=600.0, help="seconds over which the deadlines fall")
    parser.add_argument("--skip-wake", action="store_true", help="only the lateness measurement")
    args = parser.parse_args()
    if not args.skip_wake:
        small = min(wake_cost(1_000) for _ in range(3))
        large = wake_cost(args.open)
        print(f"one wake-up, 100 due among {1_000:>9,} open: {small * 1000:8.1f} ms")
        print(f"one wake-up, 100 due among {args.open:>9,} open: {large * 1000:8.1f} ms")
        print(f"ratio: {large / small:.2f}  (target <= 2)", flush=True)
    late = sorted(lateness(args.deadlines, args.spread))
    p50 = statistics.median(late)
    p99 = late[int(len(late) * 0.99) - 1]
    print(f"lateness over {len(late):,} deadlines spread over {args.spread:.0f} s: "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms  (target p99 < 1 s)")


if __name__ == "__main__":
    main()
