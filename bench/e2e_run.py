"""One measured run: a corpus through a server (bare aiosmtpd, or `helpdesk run`) until the last
acknowledgement has left; what the database then holds; the gateway's resident memory meanwhile."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.e2e_harness import Mail, bare_server, free_port, fresh_dir, gateway, helpdesk, write_config
from bench.e2e_io import Acks, DirectoryWatch, RelaySink, Sent, send


@dataclass
class RunResult:
    mails: int
    seconds: float  # first mail sent -> last acknowledgement written/received (bare: last 250)
    accept_seconds: float  # first mail sent -> last 250
    acks: int = 0
    staff_mails: int = 0
    repeats: int = 0
    retried: int = 0
    latencies: list[float] = field(default_factory=list)  # 250 -> acknowledgement handed over, seconds
    rss: list[tuple[float, int]] = field(default_factory=list)  # (time.monotonic(), kB)
    counts: dict[str, int] = field(default_factory=dict)
    started: float = 0.0  # time.monotonic() when the first mail was sent
    cpu: float = 0.0  # CPU seconds (user + system) helpdesk run used from the first mail to the last acknowledgement
    worker_cpu: float = 0.0  # ... of which its worker processes'
    machine_cpu: float = 0.0  # CPU seconds every process of the machine used meanwhile (clients, relay, database too)

    @property
    def cpu_ms_per_mail(self) -> float:
        return 1000 * self.cpu / self.mails

    def share_ms(self) -> str:
        """Where the machine's CPU a mail went: the listener's process, the workers, everything else."""
        listener, rest = self.cpu - self.worker_cpu, self.machine_cpu - self.cpu
        return (f"machine {1000 * self.machine_cpu / self.mails:.1f} ms a mail: listener "
                f"{1000 * listener / self.mails:.1f}, workers {1000 * self.worker_cpu / self.mails:.1f}, "
                f"the rest (clients, relay, database, this bench) {1000 * rest / self.mails:.1f}")

    @property
    def rate(self) -> float:
        return self.mails / self.seconds

    @property
    def accept_rate(self) -> float:
        return self.mails / self.accept_seconds

    def percentile(self, share: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def bare(mails: list[Mail], clients: int, base: Path) -> RunResult:
    work = fresh_dir(base, f"bare-{clients}")
    port = free_port()
    with bare_server(port, work / "aiosmtpd.log"):
        sent = send(mails, clients, port)
    return RunResult(len(mails), sent.end - sent.start, sent.end - sent.start, retried=sent.retried)


class RssSampler(threading.Thread):
    """Resident size of a process and its worker processes (VmRSS from /proc), every ``every`` seconds."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            if not Path(f"/proc/{self.pid}").exists():
                return
            kb = 0
            for pid, _fields in _process_tree(self.pid):
                try:
                    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                        kb += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
                except (OSError, StopIteration):
                    continue
            self.samples.append((time.monotonic(), kb))
            self.stopping.wait(self.every)

    def stop(self) -> list[tuple[float, int]]:
        self.stopping.set()
        self.join(5)
        return self.samples

    def cpu(self) -> tuple[float, float]:
        """CPU seconds (user + system, all threads) the process and its worker processes have used so far
        (those that ended and were waited for are in the process's own children's figures), and of
        those the worker processes'."""
        ticks = children = 0
        for pid, fields in _process_tree(self.pid):
            ticks += int(fields[11]) + int(fields[12])
            if pid == self.pid:
                ticks += int(fields[13]) + int(fields[14])
            else:
                children += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK"), children / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> float:
    """CPU seconds the whole machine has been busy (/proc/stat: all but idle and I/O wait), every core."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = [int(f) for f in fh.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _wait_for_workers(log: Path, workers: int, timeout: float = 60.0) -> None:
    """Until the gateway's worker processes say they run: a gateway in service has them ready."""
    deadline = time.monotonic() + timeout
    while workers and log.read_text(errors="replace").count("gateway worker running") < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"the gateway's {workers} worker(s) did not start within {timeout:.0f}s; see {log}")
        time.sleep(0.1)


def _process_tree(root: int) -> list[tuple[int, list[str]]]:
    """``root`` and its children, each with the fields of /proc/PID/stat after the command name."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == root or int(fields[1]) == root:
            found.append((int(entry.name), fields))
    return found


def through_gateway(mails: list[Mail], clients: int, base: Path, *, relay: bool, name: str | None = None,
                    db_url: str | None = None, work: Path | None = None, per_address_cap: int | None = 1000,
                    expected: int | None = None, stall: float = 120.0, engineers: bool = True,
                    env: dict[str, str] | None = None, workers: int = 0,
                    settled: Callable[[], bool] | None = None, sessions: int = 1,
                    relay_delay: float = 0.0) -> RunResult:
    """``mails`` through `helpdesk run` until every acknowledgement is written (directory transport)
    or received by a relay (aiosmtpd in a process of its own). ``work`` may hold a database made
    beforehand (its config then points at it through ``db_url``). With ``settled`` the gateway is
    stopped only once it also says True (every mail processed, say), or after ``stall`` seconds."""
    work = work or fresh_dir(base, name or f"gateway-{'relay' if relay else 'dir'}-{clients}")
    port, relay_port = free_port(), (free_port() if relay else None)
    config = write_config(work, smtp_port=port, relay_port=relay_port, db_url=db_url, per_address_cap=per_address_cap,
                          engineers=engineers, workers=workers, sessions=sessions)
    if db_url and db_url.startswith("postgresql"):
        helpdesk(config, "db", "upgrade")
    acks = Acks()
    sink = RelaySink(relay_port, work / "relay.log", acks, relay_delay).start() if relay_port else None
    watch = None if sink else DirectoryWatch(work / "var" / "outbox", acks)
    expected = sum(1 for m in mails if m.new) if expected is None else expected
    try:
        with gateway(config, port, env) as gw:
            _wait_for_workers(work / "gateway.log", workers)
            if watch:
                watch.start()
            sampler = RssSampler(gw.pid)
            sampler.start()
            cpu_before, machine_before = sampler.cpu(), machine_cpu()
            sent: Sent = send(mails, clients, port)
            last = acks.wait(expected, stall=stall)
            deadline = time.monotonic() + stall
            while settled is not None and not settled() and time.monotonic() < deadline:
                time.sleep(0.5)
            cpu_after, machine = sampler.cpu(), machine_cpu() - machine_before
            cpu, worker_cpu = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
            rss = sampler.stop()
        if watch:
            watch.stop()
    finally:
        if sink:
            sink.stop()
    latencies = [at - sent.accepted[mid] for mid, at in acks.seen.items() if mid in sent.accepted]
    return RunResult(len(mails), last - sent.start, sent.end - sent.start, acks.count(), acks.staff, acks.repeats,
                     sent.retried, latencies, rss, database_counts(db_url or f"sqlite:///{work}/var/helpdesk.sqlite3"),
                     sent.start, cpu, worker_cpu, machine)


def database_counts(url: str) -> dict[str, int]:
    """What the gateway's database holds: inbound rows by state, tickets, outbox rows by kind and state,
    and tickets acknowledged more than once (which must never happen)."""
    engine = create_engine(url)
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for state, n in conn.execute(text("SELECT state, count(*) FROM inbound_messages GROUP BY state")):
            counts[f"inbound {state}"] = n
        counts["tickets"] = conn.scalar(text("SELECT count(*) FROM tickets")) or 0
        counts["repeats"] = conn.scalar(text("SELECT coalesce(sum(repeats), 0) FROM tickets")) or 0
        for kind, state, n in conn.execute(text("SELECT kind, state, count(*) FROM outbox GROUP BY kind, state")):
            counts[f"outbox {kind} {state}"] = n
        counts["tickets acknowledged twice"] = conn.scalar(text(
            "SELECT count(*) FROM (SELECT ticket_id FROM outbox WHERE kind = 'acknowledgement' "
            "GROUP BY ticket_id HAVING count(*) > 1) AS twice")) or 0
    engine.dispose()
    return counts


def median_of(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
