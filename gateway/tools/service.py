"""``helpdesk run``: the listener, the processor and the sender, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy.exc import SQLAlchemyError

from gateway.app import App
from gateway.config.imap import load_imap_accounts
from gateway.outbound.sender import Sender
from gateway.outbound.transports import make_transport
from gateway.processing.worker import Processor
from gateway.sources.imap.poller import start_imap_pollers, stop_imap_pollers
from gateway.sources.smtp import IntakeHandler, protocol_factory
from gateway.timekeeping.driver import SlaDriver
from gateway.tools.health import HealthServer, load_metrics
from gateway.tools.metrics import Metrics
from gateway.tools.worker_pool import WorkerPool, follow_listener
from parsers import language

log = logging.getLogger("gateway.service")

SENDER_POLL = timedelta(seconds=1)
# Woken by a mail stored, the processor waits this long before it claims: the mails that come in
# meanwhile are processed in the same transaction. One at a time, each mail paid for a transaction,
# a commit and (SQLite) a turn at the write lock of its own, and the listener, waiting for that
# lock, took mail no faster than the processor did (bench/e2e.py, one client and one worker:
# 116 -> 136 mails/s, 250 -> acknowledgement p50 1.4 s -> 0.12 s; README). The first mail of a
# quiet spell waits this long more for its acknowledgement.
LINGER = timedelta(milliseconds=10)


class Worker(threading.Thread):
    """A loop that does a step of work when woken (or every ``interval``) until stopped."""

    def __init__(self, name: str, step: Callable[[], bool], interval: timedelta,
                 stopping: threading.Event, at_end: Callable[[], None] = lambda: None,
                 linger: timedelta = timedelta(0)) -> None:
        super().__init__(name=name, daemon=True)
        self.step = step
        self.at_end = at_end
        self.interval = interval.total_seconds()
        self.linger = linger.total_seconds()
        self.stopping = stopping
        self.wake = threading.Event()
        self._failing = False

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                busy = self.step()
                if self._failing:
                    log.warning("%s: recovered", self.name)
                    self._failing = False
            except SQLAlchemyError as exc:
                if not self._failing:
                    log.error("%s: database trouble, will keep trying: %s", self.name, exc.__class__.__name__)
                    self._failing = True
                busy = False
            except Exception:
                log.exception("%s: unexpected failure; continuing", self.name)
                busy = False
            if not busy:
                if self.wake.wait(self.interval) and self.linger:
                    # Woken by work that came in (not by the interval): what comes with it is
                    # taken in the same step (one transaction, one commit, for all).
                    self.stopping.wait(self.linger)
                self.wake.clear()
        self.at_end()


def reopen_logs() -> list[str]:
    """SIGHUP: close and reopen every log file (logrotate has moved it away); keep running."""
    reopened = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            try:
                stream = open(handler.baseFilename, "a", encoding=handler.encoding,  # noqa: SIM115
                              errors=handler.errors)
            except OSError as exc:
                log.error("SIGHUP: cannot reopen the log file %s: %s; logging on to the old one",
                          handler.baseFilename, exc.strerror)
                continue
            old = handler.setStream(stream)  # flushes what was written to the old file first
            if old is not None:
                old.close()
            reopened.append(handler.baseFilename)
    if reopened:
        log.info("SIGHUP: reopened the log file %s; still running", ", ".join(reopened))
    else:
        log.info("SIGHUP: nothing to reopen (logging to stderr); still running")
    return reopened


@dataclass(frozen=True, slots=True)
class _Health:
    metrics: Metrics
    server: HealthServer


def _health_server(app: App) -> _Health | None:
    settings = load_metrics(app.config.raw)
    if settings is None:
        return None
    accounts = load_imap_accounts(app.config, need_passwords=False)
    metrics = Metrics(app, accounts)
    return _Health(metrics, HealthServer(app, accounts, settings, metrics))


def run(app: App, *, worker: bool = False, verbose: bool = False) -> int:
    """The gateway until SIGTERM/SIGINT. ``worker``: only process and send (a worker beside a listener)."""
    if not worker:
        for line in app.config.deprecations:
            log.warning("config: deprecated: %s", line)
    return asyncio.run(_serve(app, worker=worker, verbose=verbose))


@dataclass
class _Work:
    """Processing, sending and the timekeepers, as threads of this process."""

    workers: list[Worker]
    sla: SlaDriver
    wake: Callable[[], None]


def _start_work(app: App, stopping: threading.Event, health: _Health | None) -> _Work:
    processor = Processor(app, on_committed=health.metrics.processed if health else None)
    senders = _senders(app, stopping)

    def wake_senders() -> None:
        for sender in senders:
            sender.wake.set()

    sla = SlaDriver(app, on_work=wake_senders)

    def process_step() -> bool:
        counts = processor.drain(limit=50)
        if counts:
            wake_senders()
            sla.arm_no_later_than(processor.take_wakeup())
        # Busy (look again at once) unless the last claim took all there was: a mail stored since
        # has woken this thread, and the poll interval covers another process's stores.
        return bool(counts) and not processor.emptied

    processor_worker = Worker("processor", process_step, app.config.processing.poll_interval, stopping,
                              linger=LINGER)
    threading.Thread(target=language.warm_up, name="language-model", daemon=True).start()
    for thread in (processor_worker, *senders):
        thread.start()
    sla.start()
    return _Work([processor_worker, *senders], sla, processor_worker.wake.set)


def _senders(app: App, stopping: threading.Event) -> list[Worker]:
    """A sender, each with its relay session, for each of ``[outbound] sessions``: a slow relay's
    answers are waited for side by side."""
    workers = []
    for n in range(app.config.outbound.sessions):
        sender = Sender(app, make_transport(app.config.outbound), worker=socket.gethostname())
        workers.append(Worker("sender" if n == 0 else f"sender-{n + 1}",
                              partial(_send_step, sender, stopping), SENDER_POLL, stopping, at_end=sender.close))
    return workers


def _send_step(sender: Sender, stopping: threading.Event) -> bool:
    return sender.send_due(stopping.is_set) > 0


async def _serve(app: App, *, worker: bool, verbose: bool) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stopping = threading.Event()
    health = None if worker else _health_server(app)
    pool = _pool(app, verbose) if not worker else None
    # SIGHUP's default action kills the process without a word; logrotate sends it.
    loop.add_signal_handler(signal.SIGHUP, _on_hangup, pool)
    work = _start_work(app, stopping, health) if pool is None else None
    if pool is not None:
        await pool.start()
    wake = work.wake if work is not None else pool.wake if pool is not None else (lambda: None)
    if worker:
        follow_listener(wake, lambda: _call_soon(loop, stop.set))
    imap_pollers = [] if worker else start_imap_pollers(app, stopping, on_stored=wake)
    failed = health is not None and not _start_health(health)
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="intake")
    server = None
    if app.config.smtp.enabled and not failed and not worker:
        server = await _listen(app, IntakeHandler(app, executor, on_stored=wake, lmtp=app.config.smtp.lmtp))
        failed = server is None
    if failed:
        stop.set()
    else:
        log.info("gateway %s (outbound: %s)", "worker running" if worker else "running", app.config.outbound.transport)
    await stop.wait()
    log.info("stopping")
    await _close_listener(server)
    executor.shutdown(wait=True)
    if health is not None and health.server.started:
        health.server.stop()
    stopping.set()
    # The sender finishes the mail on the wire (hands back the rest): a relay may take up to its
    # timeout to answer, and a mail cut off there would go again after a restart.
    patience = max(10.0, app.config.outbound.timeout.total_seconds() + 5)
    if pool is not None:
        await pool.stop(patience + 5)
    if work is not None:
        await _stop_work(loop, work, patience)
    await loop.run_in_executor(None, stop_imap_pollers, imap_pollers)
    app.db.dispose()
    log.info("stopped")
    return 1 if failed else 0


def _on_hangup(pool: WorkerPool | None) -> None:
    reopen_logs()
    if pool is not None:
        pool.signal(signal.SIGHUP)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> None:
    loop.call_soon_threadsafe(callback)


def _pool(app: App, verbose: bool) -> WorkerPool | None:
    """The worker processes ``[processing] workers`` asks for; None to do the work in this process."""
    count = app.config.processing.workers
    if not count:
        return None
    if app.config.path is None:
        log.warning("processing.workers = %d needs the config as a file; working in this process", count)
        return None
    return WorkerPool(app.config.path.resolve(), count, verbose=verbose)


async def _stop_work(loop: asyncio.AbstractEventLoop, work: _Work, patience: float) -> None:
    work.sla.shutdown()
    for thread in work.workers:
        thread.wake.set()
    for thread in work.workers:
        await loop.run_in_executor(None, thread.join, patience)


def _start_health(health: _Health) -> bool:
    """Serve /metrics and the health checks; False (and why, in the log) when the port is taken."""
    try:
        health.server.start()
    except OSError as exc:
        log.error("cannot serve metrics on %s:%d: %s (metrics.listen: is another process there?)",
                  health.server.settings.host, health.server.settings.port, exc.strerror or exc)
        return False
    return True


async def _listen(app: App, handler: IntakeHandler) -> asyncio.Server | None:
    """The SMTP/LMTP listener; None (and why, in the log) when it cannot bind."""
    smtp = app.config.smtp
    try:
        server = await asyncio.get_running_loop().create_server(protocol_factory(app, handler),
                                                                host=smtp.host, port=smtp.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s (smtp.host, smtp.port: is another process there?)",
                  smtp.host, smtp.port, exc.strerror or exc)
        return None
    log.info("%s listener on %s:%d for %s", "LMTP" if smtp.lmtp else "SMTP", smtp.host, smtp.port,
             ", ".join(app.support_addresses))
    return server


async def _close_listener(server: asyncio.Server | None) -> None:
    if server is None:
        return
    server.close()
    try:
        # Python 3.12 waits here for every client still connected: an idle session must
        # not keep the gateway from stopping (nothing of theirs is stored but at DATA's end).
        await asyncio.wait_for(server.wait_closed(), timeout=5)
    except TimeoutError:
        log.warning("stopping with SMTP clients still connected")
