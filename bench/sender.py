"""Benchmark: the sender delivering a burst of acknowledgements to a relay that wants STARTTLS
and a login (aiosmtpd on loopback), against smtplib opening one session per mail.

    .venv/bin/python bench/sender.py [N]
"""

from __future__ import annotations

import os
import smtplib
import ssl
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.app import build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.outbound.sender import Sender
from gateway.outbound.transports import make_transport
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import OutboxMessage
from tests.support import Sink, customer_mail, self_signed_cert

PASSWORD = "bench-secret"


def per_mail_sessions(sink: Sink, cert: Path, mails: list[bytes]) -> float:
    """The baseline: connect, STARTTLS, AUTH, send, QUIT for every mail."""
    context = ssl.create_default_context(cafile=str(cert))
    t0 = time.perf_counter()
    for raw in mails:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=30) as client:
            client.starttls(context=context)
            client.login("gateway", PASSWORD)
            client.sendmail("support@example.com", ["c@customer.example"], raw)
    return len(mails) / (time.perf_counter() - t0)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    os.environ["BENCH_RELAY_PASSWORD"] = PASSWORD
    # aiosmtpd warns about its own attribute on every successful AUTH.
    warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed_cert(Path(tmp))
        sink = Sink(tls=(cert, key), logins={"gateway": PASSWORD}).start()
        try:
            config = load_config(None, text=f"""
[gateway]
support_address = "support@example.com"
data_dir = "{tmp}"
[outbound]
transport = "smtp"
host = "127.0.0.1"
port = {sink.port}
security = "starttls"
ca_file = "{cert}"
username = "gateway"
password_env = "BENCH_RELAY_PASSWORD"
max_per_address_per_hour = 100000
""")
            app = build_app(config, FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)))
            app.db.upgrade()
            env = Envelope("c@customer.example", ("support@example.com",))
            for i in range(n):
                store_inbound(app.db, customer_mail(f"c{i}@customer.example", f"Request {i}", "Help, please."),
                              source="bench", envelope=env, received_at=app.clock.now())
            Processor(app).drain()
            with app.db.sessions() as session:
                raws = [row.raw for row in session.query(OutboxMessage).order_by(OutboxMessage.id)]
            baseline = per_mail_sessions(sink, cert, raws)
            sender = Sender(app, make_transport(app.config.outbound), "bench")
            t0 = time.perf_counter()
            sent = 0
            while (done := sender.send_due()) > 0:
                sent += done
            rate = sent / (time.perf_counter() - t0)
            assert sent == n, sent
        finally:
            sink.stop()
    print(f"acknowledgements: {n}, relay: aiosmtpd on loopback with STARTTLS and AUTH")
    print(f"baseline: smtplib, one session per mail (connect, STARTTLS, AUTH, QUIT): {baseline:7.0f} mail/s")
    print(f"gateway sender (lease, send, record each; one session per batch):     {rate:7.0f} mail/s")
    print(f"ratio sender / baseline:                                               {rate / baseline:7.2f}")


if __name__ == "__main__":
    main()
