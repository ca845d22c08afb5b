"""`[processing] workers = N`: the listener receives, worker processes process and send, and nothing is
lost or doubled when a worker dies, the listener stops, or both run on PostgreSQL."""

from __future__ import annotations

import os
import signal
import smtplib
from pathlib import Path

import pytest

from tests.support import GatewayProcess, Sink, customer_mail, free_port, running, wait_for, write_config

pytestmark = pytest.mark.slow


def _gateway(tmp_path: Path, sink: Sink, db_url: str | None, workers: int) -> GatewayProcess:
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=sink.port, db_url=db_url,
                          extra=f"workers = {workers}\n")
    return GatewayProcess(config, port, env={"HELPDESK_SECRET": "e2e-secret"})


def _send(gw: GatewayProcess, first: int, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
        for n in range(first, first + count):
            sender = f"user{n}@customer{n}.example"
            client.sendmail(sender, ["support@example.com"], customer_mail(sender, f"Request {n}", "Please help."))


def _workers(gw: GatewayProcess) -> list[int]:
    """The pids of the gateway's worker processes (children with --worker on their command line)."""
    assert gw.proc is not None
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == gw.proc.pid and fields[0] != "Z" and b"--worker" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _acknowledged(sink: Sink) -> list[str]:
    return sorted(m.rcpt_tos[0] for m in sink.messages)


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_workers_answer_every_mail_once_and_one_that_dies_is_replaced(tmp_path: Path, sink: Sink, db: str,
                                                                       request: pytest.FixtureRequest) -> None:
    url = None
    if db == "postgres":
        base, schema = request.getfixturevalue("pg_schema")
        url = base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"
    gw = _gateway(tmp_path, sink, url, workers=2)
    if url:
        gw.cli("db", "upgrade")
    with running(gw):
        workers = wait_for(lambda: len(_workers(gw)) == 2 and _workers(gw), what="two worker processes")
        _send(gw, 0, 20)
        wait_for(lambda: len(sink.messages) >= 20, timeout=60, what="20 acknowledgements")
        os.kill(workers[0], signal.SIGKILL)  # a worker dies: the listener starts another
        wait_for(lambda: len(_workers(gw)) == 2 and workers[0] not in _workers(gw),
                 timeout=20, what="the dead worker replaced")
        _send(gw, 20, 20)
        wait_for(lambda: len(sink.messages) >= 40, timeout=60, what="40 acknowledgements")
        survivors = _workers(gw)
    assert _acknowledged(sink) == sorted(f"user{n}@customer{n}.example" for n in range(40))  # each once
    assert not any(_alive(pid) for pid in survivors), "a worker outlived its listener"
    # The log names the worker that died by its pid (which of the two it was depends on the pids the
    # system handed out: the lower one is killed, and pids wrap round).
    assert f"(pid {workers[0]}) exited" in gw.log.read_text() and "starting it again" in gw.log.read_text()
