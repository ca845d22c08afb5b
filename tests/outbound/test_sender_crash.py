"""A sender that dies: its rows are taken at once, and a mail that was on the wire goes again, once, the same."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text

from gateway.app import App
from gateway.clock import FakeClock, write_clock_file
from gateway.outbound.sender import Sender
from gateway.outbound.transports import make_transport
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.lease_owner import MACHINE, holder_is_dead, new_owner, process_start
from gateway.store.models import Event, OutboxMessage
from tests.support import GatewayProcess, Sink, customer_mail, free_port, wait_for, write_config

ENV = Envelope(mail_from="alice@customer.example", rcpt_to=("support@example.com",))
on_linux = pytest.mark.skipif(not MACHINE, reason="no /proc: no holder is ever judged dead")


def _app(make_app: Callable[..., App], port: int, n: int) -> App:
    app: App = make_app(f'transport = "smtp"\nhost = "127.0.0.1"\nport = {port}\ntimeout = "5s"')
    for i in range(n):
        store_inbound(app.db, customer_mail(f"c{i}@customer.example", f"req {i}", "hi"), source="t",
                      envelope=ENV, received_at=app.clock.now())
    Processor(app).drain()
    return app


def _lease(app: App, owner: str, *, on_wire: int | None = None) -> None:
    """Every row leased for two more minutes by ``owner``, as a sender leaves them when it dies;
    the row at index ``on_wire`` was on the wire."""
    with app.db.transaction() as s:
        for i, row in enumerate(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))):
            row.state, row.lease_until, row.lease_owner = "sending", app.clock.now() + timedelta(minutes=2), owner
            row.on_wire_at = app.clock.now() if i == on_wire else None


def _rows(app: App) -> list[OutboxMessage]:
    with app.db.sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _gone_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@on_linux
@pytest.mark.parametrize("who", ["exited", "pid-reused"])
def test_rows_of_a_dead_process_are_sent_at_once(make_app: Callable[..., App], sink: Sink, who: str) -> None:
    app = _app(make_app, sink.port, 3)
    pid = _gone_pid() if who == "exited" else os.getpid()  # our pid, another process's start
    _lease(app, f"host:{pid}:1:{MACHINE}:abcdef", on_wire=1)
    assert Sender(app, make_transport(app.config.outbound), "w1").send_due() == 3  # no time has passed
    rows = _rows(app)
    assert [r.state for r in rows] == ["sent"] * 3
    assert [r.unknown_outcomes for r in rows] == [0, 1, 0]  # the one on the wire may now be there twice
    assert sorted(m.message["Message-ID"] for m in sink.messages) == sorted(r.message_id for r in rows)
    with app.db.sessions() as s:
        [event] = s.scalars(select(Event).where(Event.kind == "mail-outcome-unknown"))
    assert event.detail["message_id"] == rows[1].message_id and event.detail["on_wire_at"]


@pytest.mark.parametrize("who", ["alive-here", "elsewhere"])
def test_rows_of_a_live_or_distant_holder_wait_for_the_lease(make_app: Callable[..., App], clock: FakeClock,
                                                             sink: Sink, who: str) -> None:
    app = _app(make_app, sink.port, 2)
    alive = new_owner("w0")
    owner = alive if who == "alive-here" else f"host:{_gone_pid()}:1:0123456789:abcdef"  # pids not ours to judge
    assert not holder_is_dead(owner)
    _lease(app, owner, on_wire=0)
    sender = Sender(app, make_transport(app.config.outbound), "w1")
    assert sender.send_due() == 0 and sink.messages == []
    clock.advance(sender.lease + timedelta(seconds=1))
    assert sender.send_due() == 2
    assert [(r.state, r.unknown_outcomes) for r in _rows(app)] == [("sent", 1), ("sent", 0)]


def test_a_lease_owner_names_host_pid_and_process_start() -> None:
    host, pid, start, machine, _tag = new_owner("desk1.example.com").split(":")
    assert (host, pid, machine) == ("desk1.example.com", str(os.getpid()), MACHINE)
    assert start == (process_start(os.getpid()) if MACHINE else "")
    assert len(new_owner("x" * 200)) <= 64


def test_a_connection_lost_after_data_counts_as_an_unknown_outcome(make_app: Callable[..., App]) -> None:
    """The relay reads the mail and the connection drops before its answer: it may have the mail,
    so the retry (same Message-ID) is counted as possibly twice; a refusal at DATA is not."""
    class Dropping:
        def __init__(self) -> None:
            self.received: list[bytes] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.received.append(bytes(envelope.original_content))
            if len(self.received) == 1:
                server.transport.close()
                return "250 OK"
            return "451 4.3.0 try later"

    handler, port = Dropping(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        app = _app(make_app, port, 1)
        sender = Sender(app, make_transport(app.config.outbound), "w1")
        sender.send_due()
        [row] = _rows(app)
        assert (row.state, row.unknown_outcomes, row.on_wire_at) == ("pending", 1, None)
        app.clock.advance(timedelta(seconds=15))  # type: ignore[attr-defined]
        sender.send_due()
        [row] = _rows(app)
        assert (row.state, row.unknown_outcomes, row.attempts) == ("pending", 1, 2)
        assert len(handler.received) == 2
    finally:
        controller.stop()


class _HoldingRelay:
    """A relay that takes the ``hold``-th mail and holds back its 250 until released."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.ids: list[str] = []
        self.holding, self.release = threading.Event(), threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.original_content)
        self.ids.append(next(line.split(b":", 1)[1].strip().decode() for line in raw.splitlines()
                             if line.lower().startswith(b"message-id:")))
        if len(self.ids) == self.hold:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        return "250 OK"


@on_linux
@pytest.mark.slow
@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_killed_while_sending_every_ack_arrives_and_only_the_one_on_the_wire_twice(
        tmp_path: Path, request: pytest.FixtureRequest, engine: str) -> None:
    """``helpdesk run`` is SIGKILLed while the relay holds the third acknowledgement (taken, 250
    not yet answered; on PostgreSQL its record as sent waits uncommitted). On a clock that never
    moves, so no lease can run out, the restarted gateway sends the rest of the dead process's
    claim, and the third again with its Message-ID."""
    n = 8
    clock_file = tmp_path / "clock"
    write_clock_file(clock_file, datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    relay, relay_port = _HoldingRelay(hold=3), free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    port = free_port()
    db_url = None
    if engine == "postgres":
        url, schema = request.getfixturevalue("pg_schema")
        db_url = url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=relay_port, db_url=db_url)
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "crash-test", "HELPDESK_CLOCK_FILE": str(clock_file)})
    mails = []
    for i in range(n):
        mails.append(tmp_path / f"m{i}.eml")
        mails[-1].write_bytes(customer_mail(f"c{i}@customer.example", f"Crash {i}", "help"))
    gw.cli("db", "upgrade")
    gw.cli("ingest", *map(str, mails))
    engine_ = create_engine(db_url or f"sqlite:///{tmp_path / 'var' / 'helpdesk.sqlite3'}")

    def outbox() -> list[tuple[str, str, str | None, object, int]]:
        with engine_.connect() as conn:
            return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(text(
                "SELECT message_id, state, lease_owner, on_wire_at, unknown_outcomes FROM outbox ORDER BY id"))]

    try:
        gw.start()
        wait_for(relay.holding.is_set, 20, what="the relay holding the third mail")
        assert gw.proc is not None
        dead_pid = gw.proc.pid
        gw.proc.kill()
        gw.proc.wait()
        relay.release.set()
        at_kill = outbox()
        on_wire = {mid for mid, state, _o, wire, _u in at_kill if wire is not None}
        leased = [mid for mid, state, owner, wire, _u in at_kill
                  if state == "sending" and wire is None and f":{dead_pid}:" in (owner or "")]
        assert on_wire == {relay.ids[2]} and leased, at_kill  # claimed by the dead process, not yet sent

        gw.start()
        wait_for(lambda: all(state == "sent" for _m, state, *_r in outbox()), 20,
                 what=f"every acknowledgement sent after the restart: {outbox()}")
        assert gw.stop() == 0
        seen = Counter(relay.ids)
        assert set(seen) == {mid for mid, *_r in outbox()} and len(seen) == n  # every acknowledgement arrived
        assert {mid for mid, count in seen.items() if count > 1} == on_wire  # and twice only if on the wire
        assert seen[relay.ids[2]] == 2
        assert [u for mid, _s, _o, _w, u in outbox() if mid in on_wire] == [1]
    finally:
        relay.release.set()
        if gw.proc is not None and gw.proc.poll() is None:
            gw.proc.kill()
            gw.proc.wait()
        controller.stop()
        engine_.dispose()
