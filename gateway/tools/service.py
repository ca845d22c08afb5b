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

log = logging.getLogger("gateway.service")

SENDER_POLL = timedelta(seconds=1)


class Worker(threading.Thread):
    """A loop that does a step of work when woken (or every ``interval``) until stopped."""

    def __init__(self, name: str, step: Callable[[], bool], interval: timedelta,
                 stopping: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.step = step
        self.interval = interval.total_seconds()
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
                self.wake.wait(self.interval)
                self.wake.clear()


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


def run(app: App) -> int:
    for line in app.config.deprecations:
        log.warning("config: deprecated: %s", line)
    return asyncio.run(_serve(app))


async def _serve(app: App) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # SIGHUP's default action kills the process without a word; logrotate sends it.
    loop.add_signal_handler(signal.SIGHUP, reopen_logs)
    stopping = threading.Event()
    health = _health_server(app)
    processor = Processor(app, on_committed=health.metrics.processed if health else None)
    sender = Sender(app, make_transport(app.config.outbound), worker=socket.gethostname())

    sender_worker = Worker("sender", lambda: sender.send_due(stopping.is_set) > 0, SENDER_POLL, stopping)

    sla = SlaDriver(app, on_work=sender_worker.wake)

    def process_step() -> bool:
        counts = processor.drain(limit=50)
        if counts:
            sender_worker.wake.set()
            sla.rearm()
        return bool(counts)

    processor_worker = Worker("processor", process_step, app.config.processing.poll_interval, stopping)
    workers = [processor_worker, sender_worker]
    imap_pollers = start_imap_pollers(app, stopping, on_stored=processor_worker.wake.set)
    for worker in workers:
        worker.start()
    sla.start()

    server = None
    failed = False
    if health is not None:
        try:
            health.server.start()
        except OSError as exc:
            log.error("cannot serve metrics on %s:%d: %s (metrics.listen: is another process there?)",
                      health.server.settings.host, health.server.settings.port, exc.strerror or exc)
            stop.set()
            failed = True
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="intake")
    if app.config.smtp.enabled and not failed:
        handler = IntakeHandler(app, executor, on_stored=processor_worker.wake.set,
                                lmtp=app.config.smtp.lmtp)
        try:
            server = await loop.create_server(protocol_factory(app, handler),
                                              host=app.config.smtp.host, port=app.config.smtp.port)
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s (smtp.host, smtp.port: is another process there?)",
                      app.config.smtp.host, app.config.smtp.port, exc.strerror or exc)
            stop.set()
            failed = True
        log.info("%s listener on %s:%d for %s", "LMTP" if app.config.smtp.lmtp else "SMTP",
                 app.config.smtp.host, app.config.smtp.port, ", ".join(app.support_addresses))
    if not failed:
        log.info("gateway running (outbound: %s)", app.config.outbound.transport)
    await stop.wait()
    log.info("stopping")
    if server is not None:
        server.close()
        try:
            # Python 3.12 waits here for every client still connected: an idle session must
            # not keep the gateway from stopping (nothing of theirs is stored but at DATA's end).
            await asyncio.wait_for(server.wait_closed(), timeout=5)
        except TimeoutError:
            log.warning("stopping with SMTP clients still connected")
    executor.shutdown(wait=True)
    if health is not None and health.server.started:
        health.server.stop()
    sla.shutdown()
    stopping.set()
    for worker in workers:
        worker.wake.set()
    # The sender finishes the mail on the wire (hands back the rest): a relay may take up to its
    # timeout to answer, and a mail cut off there would go again after a restart.
    patience = max(10.0, app.config.outbound.timeout.total_seconds() + 5)
    for worker in workers:
        await loop.run_in_executor(None, worker.join, patience)
    await loop.run_in_executor(None, stop_imap_pollers, imap_pollers)
    app.db.dispose()
    log.info("stopped")
    return 1 if failed else 0
