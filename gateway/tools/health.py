"""``/healthz``, ``/readyz`` and ``/metrics`` over HTTP, for a supervisor and for Prometheus.

``/healthz`` answers while the process serves HTTP at all. ``/readyz`` answers 200 only when
the gateway can do its work: the database reachable and at this code's schema, the listener
taking connections, no IMAP account past its ``stale_after``, and no mail waiting to be sent
for longer than ``outbox_stuck_after``; otherwise 503, and the JSON body says what is wrong.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from gateway.app import App
from gateway.config import Reader, as_str
from gateway.config.imap import ImapAccount
from gateway.config.values import parse_interval
from gateway.errors import ConfigError
from gateway.tools.metrics import Metrics, imap_last_success, outbox_backlog

log = logging.getLogger("gateway.health")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    host: str
    port: int
    outbox_stuck_after: timedelta


def load_metrics(raw: dict[str, Any]) -> MetricsSettings | None:
    """``[metrics]``: None when absent (no HTTP endpoint); raise ConfigError naming each bad key."""
    table = raw.get("metrics")
    if table is None:
        return None
    r = Reader()
    if not isinstance(table, dict):
        raise ConfigError(['metrics: must be a table, like [metrics] with listen = "127.0.0.1:9464"'])
    r.unknown(table, "metrics", {"listen", "outbox_stuck_after"})
    listen = r.get(table, "metrics.listen", "127.0.0.1:9464", as_str)
    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        r.problems.append(f'metrics.listen: {listen!r} is not host:port; write it like "127.0.0.1:9464"')
    stuck = r.get(table, "metrics.outbox_stuck_after", timedelta(minutes=15), parse_interval)
    if r.problems:
        raise ConfigError(r.problems)
    return MetricsSettings(host=host.strip("[]"), port=int(port_text), outbox_stuck_after=stuck)


def metrics_problems(raw: dict[str, Any]) -> list[str]:
    try:
        load_metrics(raw)
    except ConfigError as exc:
        return exc.problems
    return []


def readiness(app: App, accounts: Iterable[ImapAccount], settings: MetricsSettings,
              started_at: datetime) -> list[str]:
    """What keeps the gateway from doing its work now, one line each; empty when ready."""
    problems = []
    state = app.db.schema_state()
    if state.problem:
        return [state.problem]
    smtp = app.config.smtp
    if smtp.enabled:
        host = "127.0.0.1" if smtp.host in ("0.0.0.0", "") else "::1" if smtp.host == "::" else smtp.host
        try:
            socket.create_connection((host, smtp.port), timeout=2).close()
        except OSError as exc:
            problems.append(f"listener: {smtp.host}:{smtp.port} takes no connection ({exc.strerror or exc})")
    now = app.clock.now()
    with app.db.read_sessions() as session:
        last = imap_last_success(session)
        for account in accounts:
            seen = last.get(account.name) or started_at
            if now - seen > account.stale_after:
                problems.append(f"imap {account.name}: no successful pass for {_minutes(now - seen)} "
                                f"(stale_after {_minutes(account.stale_after)})")
        _waiting, oldest = outbox_backlog(session)
    if oldest is not None and now - oldest > settings.outbox_stuck_after:
        problems.append(f"outbox: a mail has waited {_minutes(now - oldest)} and is not sent "
                        f"(outbox_stuck_after {_minutes(settings.outbox_stuck_after)}); see `helpdesk status`")
    return problems


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:.0f} min"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class HealthServer:
    """The HTTP endpoint, in a thread of its own, until ``stop``."""

    def __init__(self, app: App, accounts: tuple[ImapAccount, ...], settings: MetricsSettings,
                 metrics: Metrics) -> None:
        self.app, self.accounts, self.settings = app, accounts, settings
        self.started_at = app.clock.now()
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._server: WSGIServer | None = None

    @property
    def started(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Bind and serve; raises OSError when the address is taken."""
        self._server = make_server(self.settings.host, self.settings.port, self._route, _Server, _QuietHandler)
        threading.Thread(target=self._server.serve_forever, name="health", daemon=True).start()
        log.info("metrics and health on http://%s:%d/ (/metrics, /healthz, /readyz)",
                 self.settings.host, self._server.server_port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "alive"})
        if path == "/readyz":
            try:
                problems = readiness(self.app, self.accounts, self.settings, self.started_at)
            except Exception as exc:  # the database went away mid-check, say
                problems = [f"readiness check failed: {exc.__class__.__name__}: {exc}"]
            if problems:
                return _json(start_response, "503 Service Unavailable", {"ready": False, "problems": problems})
            return _json(start_response, "200 OK", {"ready": True, "problems": []})
        return _json(start_response, "404 Not Found", {"error": f"no {path}; try /metrics, /healthz or /readyz"})


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
