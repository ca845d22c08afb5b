"""Soak: `helpdesk run` SIGKILLed again and again while it sends acknowledgements to a relay.

    .venv/bin/python bench/sender_soak.py [MAILS] [KILLS] [--db URL] [--relay-ms MS] [--patience S] [--seed N]

MAILS customer mails come in, in KILLS + 1 chunks, to a gateway sending to an aiosmtpd relay on
loopback that answers DATA after --relay-ms. Each chunk is stored while the gateway is stopped,
so its acknowledgements go out in one burst once it starts; the first chunk times a burst. While
each later chunk's acknowledgements go out, the gateway is killed once a random number of them
went, at a random instant of the time one mail takes, then restarted. Its clock
(HELPDESK_CLOCK_FILE) stands still, so no lease runs out by itself; a restart that has not sent
the killed process's rows within --patience seconds is helped by moving the clock past the
lease, and counted. Prints how soon each restart sent those rows, and every acknowledgement's
fate: arrived, arrived twice (and whether its row was recorded as on the wire at a kill), or
missing. The code before a change can be soaked the same way: PYTHONPATH=<its checkout>.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.clock import write_clock_file
from tests.support import GatewayProcess, Sink, _SinkHandler, customer_mail, free_port, wait_for, write_config

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class _SlowHandler(_SinkHandler):
    """The relay: it takes ``delay`` to read and queue the mail, then records it and answers 250
    at once, as a relay that writes its queue to disk before answering does."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


_ENGINES: dict[str, Engine] = {}


def _outbox(url: str) -> list[tuple[str, str, bool]]:
    """(Message-ID, state, on the wire) of every row (on the wire is False for a schema without it)."""
    engine = _ENGINES.setdefault(url, create_engine(url))
    with engine.connect() as conn:
        wire = "on_wire_at IS NOT NULL" if "on_wire_at" in {
            c["name"] for c in inspect(conn).get_columns("outbox")} else "false"
        return [(r[0], r[1], bool(r[2])) for r in conn.execute(text(
            f"SELECT message_id, state, {wire} FROM outbox ORDER BY id"))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mails", type=int, nargs="?", default=200)
    parser.add_argument("kills", type=int, nargs="?", default=8)
    parser.add_argument("--db", help="a PostgreSQL URL (an empty database); default: SQLite in a scratch directory")
    parser.add_argument("--relay-ms", type=float, default=20.0, help="how long the relay takes to answer DATA")
    parser.add_argument("--patience", type=float, default=20.0,
                        help="seconds a restart has to send the killed process's rows before the clock is moved")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sink = Sink()
        sink.handler = _SlowHandler(args.relay_ms / 1000)
        sink.start()
        clock_file = tmp / "clock"
        write_clock_file(clock_file, START)
        port = free_port()
        config = write_config(tmp / "config.toml", smtp_port=port, relay_port=sink.port, db_url=args.db)
        url = args.db or f"sqlite:///{tmp / 'var' / 'helpdesk.sqlite3'}"
        gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "soak", "HELPDESK_CLOCK_FILE": str(clock_file)})
        chunks: list[list[str]] = [[] for _ in range(args.kills + 1)]
        for i in range(args.mails):
            path = tmp / f"m{i}.eml"
            path.write_bytes(customer_mail(f"c{i}@customer.example", f"Soak {i}", "help"))
            chunks[i * (args.kills + 1) // args.mails].append(str(path))
        gw.cli("db", "upgrade")
        on_wire: set[str] = set()
        stalls, restarts = 0, []
        t0 = time.monotonic()
        # Each chunk is stored while the gateway is down, so its acknowledgements go out in one
        # burst after the start. The first goes undisturbed: how long a burst takes.
        gw.cli("ingest", *chunks[0])
        gw.start()
        wait_for(lambda: len(sink.messages) > 0, 60, 0.0005, what="the first acknowledgement")
        first = time.monotonic()
        wait_for(lambda: len(sink.messages) >= len(chunks[0]), 60, 0.0005, what="the first chunk")
        burst = time.monotonic() - first
        print(f"  a burst of {len(chunks[0])} acknowledgements took {burst * 1000:.0f} ms")
        for k in range(args.kills):
            gw.stop()
            gw.cli("ingest", *chunks[k + 1])
            before = len(sink.messages)
            gw.start()
            # A kill once a random number of the burst went, at a random instant of the time one
            # mail takes: any phase of a mail's way.
            target = before + rng.randint(1, len(chunks[k + 1]) - 1)
            wait_for(lambda t=target: len(sink.messages) >= t, 60, 0.0002, what="sending under way")
            time.sleep(rng.uniform(0, burst / len(chunks[0])))
            assert gw.proc is not None
            gw.proc.send_signal(signal.SIGKILL)
            gw.proc.wait()
            at_kill = _outbox(url)
            on_wire |= {mid for mid, _state, wire in at_kill if wire}
            held = {mid for mid, state, _wire in at_kill if state == "sending"}
            gw.start()
            restarted = time.monotonic()  # from when it listens: starting Python is the same for all

            def held_sent(held: set[str] = held) -> bool:
                return all(state == "sent" for mid, state, _w in _outbox(url) if mid in held)

            try:
                wait_for(held_sent, args.patience, 0.02, what="the killed process's rows sent")
            except AssertionError:
                stalls += 1  # waiting for the dead process's leases: move the clock past them
                write_clock_file(clock_file, START + timedelta(minutes=3 * stalls))
                wait_for(held_sent, 60, 0.02, what="the killed process's rows sent after its lease")
            restarts.append(time.monotonic() - restarted)
            states = Counter(state for _m, state, _w in at_kill)
            print(f"  kill {k + 1} ({dict(states)}): "
                  f"{len(held)} rows held by the killed process, "
                  f"{sum(1 for _m, _s, wire in at_kill if wire)} on the wire; "
                  f"sent {restarts[-1]:.2f} s after the restart")
        wait_for(lambda: all(state == "sent" for _m, state, _w in _outbox(url)), 120, what="every row sent")
        gw.stop()
        sink.stop()
        seen = Counter(m.message["Message-ID"] for m in sink.messages)
        rows = {mid for mid, _s, _w in _outbox(url)}
        twice = {mid for mid, count in seen.items() if count > 1}
        print(f"{args.mails} mails, {args.kills} SIGKILLs, {time.monotonic() - t0:.1f} s, database "
              f"{'PostgreSQL' if args.db else 'SQLite'}")
        print(f"  acknowledgements arrived: {len(rows & set(seen))} of {len(rows)}; missing: {len(rows - set(seen))}")
        print(f"  arrived twice: {len(twice)} (all with the same Message-ID); of them recorded as on the wire "
              f"at a kill: {len(twice & on_wire)}; rows on the wire at a kill: {len(on_wire)}")
        median = sorted(restarts)[len(restarts) // 2]
        print(f"  from the restarted gateway listening to the killed process's rows sent: median {median:.2f} s, "
              f"max {max(restarts):.2f} s; restarts that waited for a lease: {stalls}")


if __name__ == "__main__":
    main()
