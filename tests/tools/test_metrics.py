"""``[metrics]``: Prometheus figures, /healthz and /readyz from a running gateway, as an operator scrapes them."""

from __future__ import annotations

import json
import re
import shutil
import smtplib
import subprocess
import tempfile
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import OutboxMessage
from gateway.tools.metrics import outbox_backlog
from tests.support import ROOT, GatewayProcess, Sink, customer_mail, free_port, require, running, wait_for, write_config

pytestmark = pytest.mark.slow

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError:
        return 0, ""  # not listening yet


def _samples(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, text = _get(port, "/metrics")
    assert status == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_metrics_health_and_readiness(tmp_path: Path) -> None:
    sink = Sink().start()
    clock = tmp_path / "clock"
    clock.write_text(START.isoformat())
    port, http = free_port(), free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=sink.port, extra=f"""
[metrics]
listen = "127.0.0.1:{http}"
outbox_stuck_after = "15m"

[[imap]]
name = "shared-inbox"
host = "127.0.0.1"
port = {free_port()}
username = "support"
password_env = "IMAP_PASSWORD"
stale_after = "10m"
""")
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "s", "IMAP_PASSWORD": "x",
                                           "HELPDESK_CLOCK_FILE": str(clock)})
    try:
        with running(gw):
            wait_for(lambda: _get(http, "/healthz") == (200, json.dumps({"status": "alive"})), what="/healthz")
            ready = _get(http, "/readyz")
            assert ready[0] == 200, ready
            with smtplib.SMTP("127.0.0.1", port) as client:
                client.sendmail("alice@customer.example", ["support@example.com"],
                                customer_mail("alice@customer.example", "Cannot print", "The printer is jammed."))
            sink.wait(1)
            def sent() -> dict[Any, float] | None:
                samples = _samples(http)
                return samples if _value(samples, "helpdesk_outbound_mails_total", kind="acknowledgement",
                                         state="sent") == 1 else None
            samples = wait_for(sent, what="the acknowledgement counted as sent")
            assert _value(samples, "helpdesk_inbound_mails_total", source="smtp", state="done") == 1
            assert _value(samples, "helpdesk_processing_latency_seconds_count", outcome="done") == 1
            assert _value(samples, "helpdesk_outbox_backlog") == 0
            assert _value(samples, "helpdesk_outbound_unknown_outcomes_total") == 0
            assert _value(samples, "helpdesk_imap_seconds_since_success", account="shared-inbox") == float("inf")

            # The relay goes away and time passes: the next acknowledgement is stuck, the
            # mailbox unreachable: not ready, and the body says why.
            sink.stop()
            with smtplib.SMTP("127.0.0.1", port) as client:
                client.sendmail("bob@customer.example", ["support@example.com"],
                                customer_mail("bob@customer.example", "Invoice copy", "Please resend it."))
            wait_for(lambda: _value(_samples(http), "helpdesk_outbox_backlog") == 1, what="one mail waiting")
            clock.write_text((START + timedelta(minutes=30)).isoformat())
            status, body = _get(http, "/readyz")
            assert status == 503
            problems = json.loads(body)["problems"]
            assert any(p.startswith("outbox: a mail has waited 30 min") for p in problems), problems
            assert any(p.startswith("imap shared-inbox: no successful pass") for p in problems), problems
            assert _value(_samples(http), "helpdesk_outbox_oldest_age_seconds") == pytest.approx(30 * 60, abs=5)
            # What contrib/'s alert rules and dashboard query is what the gateway serves.
            served = set()
            for family in text_string_to_metric_families(_get(http, "/metrics")[1]):
                served.add(family.name)
                served.update(sample.name for sample in family.samples)
            for name in ("prometheus-alerts.yml", "grafana-dashboard.json"):
                used = set(re.findall(r"\bhelpdesk_[a-z_]+", (ROOT / "contrib" / name).read_text(encoding="utf-8")))
                assert used and used <= served, (name, used - served)
    finally:
        sink.stop()
    assert "metrics and health on http://127.0.0.1" in gw.log.read_text()


def test_metrics_config_errors_name_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None,
                          extra='[metrics]\nlisten = "localhost"\nport = 9\n')
    result = GatewayProcess(config, 0).cli("check-config", check=False)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert "metrics.listen: 'localhost' is not host:port" in err
    assert "metrics.port: unknown key" in err




class ThrowawayPostgres:
    """A PostgreSQL server of our own on loopback, to stop and start under a running gateway."""

    def __init__(self) -> None:
        bindir = next(Path("/usr/lib/postgresql").glob("*/bin"), None) if Path("/usr/lib/postgresql").is_dir() \
            else None
        if bindir is None or shutil.which("runuser") is None:
            require(False, "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin) to start one")
        assert bindir is not None
        self.bin = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="helpdesk-pg-"))
        self.port = free_port()
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(str(bindir / "initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-l",
                          str(self.dir / "log"), "-o", f"-p {self.port} -k {self.dir} -h 127.0.0.1", "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-w", "-m", "fast", "stop")

    def remove(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"),
                        "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def test_readyz_follows_the_database(tmp_path: Path) -> None:
    pg = ThrowawayPostgres()
    try:
        pg.start()
        port, http = free_port(), free_port()
        config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=None, db_url=pg.url,
                              extra=f'[metrics]\nlisten = "127.0.0.1:{http}"\n')
        gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "s"})
        gw.cli("db", "upgrade")
        with running(gw):
            wait_for(lambda: _get(http, "/readyz")[0] == 200, what="ready")
            pg.stop()
            status, body = _get(http, "/readyz")
            assert status == 503
            assert json.loads(body)["problems"][0].startswith("database.url: cannot reach"), body
            assert _get(http, "/healthz")[0] == 200  # alive all the same
            pg.start()
            wait_for(lambda: _get(http, "/readyz")[0] == 200, what="ready again once the database is back")
            with smtplib.SMTP("127.0.0.1", port) as client:
                client.sendmail("alice@customer.example", ["support@example.com"],
                                customer_mail("alice@customer.example", "Printer", "It is jammed."))
            wait_for(lambda: _value(_samples(http), "helpdesk_inbound_mails_total", source="smtp", state="done") == 1,
                     what="mail processed after the database came back")
    finally:
        pg.remove()


def test_a_mail_in_a_senders_hands_still_waits_to_be_sent(make_app: Any) -> None:
    """A mail retried against a relay that is gone spends each try in state ``sending``: it is still
    counted as waiting, and its age still tells readiness that the outbox is stuck."""
    app = make_app()
    store_inbound(app.db, customer_mail("alice@customer.example", "Cannot print", "The printer is jammed."),
                  source="test", envelope=Envelope("alice@customer.example", ("support@example.com",)),
                  received_at=app.clock.now())
    Processor(app).drain()
    with app.db.transaction() as session:
        session.execute(update(OutboxMessage).values(state="sending"))
    with app.db.read_sessions() as session:
        waiting, oldest = outbox_backlog(session)
    assert waiting == 1
    assert oldest == app.clock.now()
