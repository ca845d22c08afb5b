"""Test helpers: real servers on loopback, a gateway subprocess, waiting on conditions."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import text

from gateway.store.db import Database
from tests import worlds

ROOT = Path(__file__).resolve().parents[1]
# The gateway as a user runs it. CI sets HELPDESK_BIN to the console script of a wheel
# installed non-editable in a fresh venv; locally it is this checkout's `python -m gateway`.
HELPDESK: tuple[str, ...] = ((os.environ["HELPDESK_BIN"],) if os.environ.get("HELPDESK_BIN")
                             else (sys.executable, "-m", "gateway"))
# Where subprocesses run: outside the source tree, so templates, migrations and default
# rules can only come from the installed package.
OUTSIDE = Path(os.environ.get("HELPDESK_RUN_DIR") or "/")
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
IN_CI = os.environ.get("CI", "").lower() == "true"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
             what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def require(available: bool, why: str) -> None:
    """Skip a test that needs something missing, except in CI, where missing is a failure."""
    import pytest
    if available:
        return
    if IN_CI:
        pytest.fail(f"{why} (required in CI)")
    pytest.skip(why)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    peer: Any = None  # the client's (host, port): one per connection

    @property
    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class _SinkHandler:
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.original_content), session.peer))
        return "250 OK"


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key: a server's, and its own CA."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert), "-days", "1"], check=True, capture_output=True)
    return cert, key


class Sink:
    """An aiosmtpd server standing in for the outbound relay; records what went over the wire.

    With ``tls`` (certificate, key) it offers STARTTLS and requires it; with ``logins`` it
    requires AUTH (after STARTTLS) with one of those user names and passwords.
    """

    def __init__(self, port: int | None = None, *, tls: tuple[Path, Path] | None = None,
                 logins: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.handler = _SinkHandler()
        self.controller: Controller | None = None
        self.tls, self.logins = tls, logins

    def start(self) -> Sink:
        options: dict[str, Any] = {}
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            options.update(tls_context=context, require_starttls=True)
        if self.logins is not None:
            logins = {user.encode(): password.encode() for user, password in self.logins.items()}

            def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                ok = isinstance(data, LoginPassword) and logins.get(data.login) == data.password
                return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

            options.update(authenticator=authenticator, auth_required=True, auth_require_tls=self.tls is not None)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def wait(self, count: int, timeout: float = 15.0) -> list[Received]:
        return wait_for(lambda: self.messages if len(self.messages) >= count else None, timeout,
                        what=f"{count} mails at the sink (have {len(self.messages)})")


def customer_mail(sender: str, subject: str, body: str, *, to: str = "support@example.com",
                  message_id: str | None = None, in_reply_to: str | None = None,
                  references: str | None = None, extra: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Sun, 22 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="customer.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for key, value in (extra or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg.as_bytes(policy=email.policy.SMTP)  # CRLF, as mail travels


def write_config(path: Path, *, smtp_port: int, relay_port: int | None, db_url: str | None = None,
                 lmtp: bool = False, extra: str = "", smtp_extra: str = "",
                 outbound: dict[str, Any] | None = None) -> Path:
    """A gateway on loopback with its data beside ``path``; ``extra`` adds to [processing] and tables after
    it, ``outbound`` keys to [outbound]."""
    data_dir = path.parent / "var"
    path.write_text(worlds.world(
        worlds.gateway(data_dir),
        worlds.database(db_url or worlds.sqlite_in(data_dir)),
        worlds.smtp(smtp_port, lmtp=lmtp, max_message_size="1MB") + smtp_extra,
        worlds.outbound(relay_port=relay_port, **(outbound or {})),
        worlds.processing("200ms"),
        extra,
    ), encoding="utf-8")
    return path


class GatewayProcess:
    """``helpdesk run`` as a subprocess, as a user starts it."""

    def __init__(self, config: Path, smtp_port: int, env: dict[str, str] | None = None, *,
                 user: str | None = None, command: tuple[str, ...] | None = None) -> None:
        self.config = config
        self.command = command or HELPDESK  # how to run `helpdesk`, if not as HELPDESK says
        self.smtp_port = smtp_port
        self.env = {**os.environ, **(env or {})}
        self.as_user = as_user(user) if user else {}  # every command runs as that user (needs root)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = config.parent / "gateway.log"

    def start(self, wait_listener: bool = True) -> GatewayProcess:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([*self.command, "-c", str(self.config), "run"],
                                         stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=OUTSIDE,
                                         **self.as_user)
        if wait_listener:
            wait_for(self._listening, 20, what="the gateway's listener")
        return self

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"gateway exited with {self.proc.returncode}:\n{self.log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.smtp_port), 0.2):
            return True
        return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        # A clean stop waits for a running SLA wake-up and the mail on the wire; on a loaded
        # machine that has taken more than 15 s. A gateway that does not stop still fails here.
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"gateway did not stop within {timeout}s") from None
        return self.proc.returncode

    def cli(self, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run([*self.command, "-c", str(self.config), *args],
                                input=input, capture_output=True, env=self.env, cwd=OUTSIDE, timeout=120,
                                **self.as_user)
        if check and result.returncode != 0:
            raise AssertionError(f"helpdesk {' '.join(args)} exited {result.returncode}: "
                                 f"{result.stderr.decode(errors='replace')}")
        return result


def as_user(name: str) -> dict[str, Any]:
    """subprocess arguments that run a command as ``name``, with its group and no other (needs root)."""
    import pwd
    entry = pwd.getpwnam(name)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@contextlib.contextmanager
def running(gw: GatewayProcess) -> Iterator[GatewayProcess]:
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def _raising_trigger(db: Database, name: str, table: str, marker: str, message: str, *,
                     pg_errcode: str | None = None, pg_at_commit: bool = False) -> None:
    """A real trigger that refuses an insert into ``table`` whose ``raw`` bytes contain ``marker``.

    SQLite raises at once (RAISE(ABORT): an IntegrityError). PostgreSQL raises ``pg_errcode``
    (default: P0001), at the insert or, with ``pg_at_commit``, only at COMMIT.
    """
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.execute(text(f"""
                CREATE TRIGGER {name} BEFORE INSERT ON {table}
                WHEN instr(CAST(NEW.raw AS TEXT), '{marker}') > 0
                BEGIN SELECT RAISE(ABORT, '{message}'); END"""))
            return
        errcode = f" USING ERRCODE = '{pg_errcode}'" if pg_errcode else ""
        conn.execute(text(f"""
            CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN
              IF position('{marker}' in encode(NEW.raw, 'escape')) > 0 THEN
                RAISE EXCEPTION '{message}'{errcode}; END IF;
              RETURN NEW; END $$ LANGUAGE plpgsql"""))
        when = ("CONSTRAINT TRIGGER {name} AFTER INSERT ON {table} DEFERRABLE INITIALLY DEFERRED"
                if pg_at_commit else "TRIGGER {name} BEFORE INSERT ON {table}").format(name=name, table=table)
        conn.execute(text(f"CREATE {when} FOR EACH ROW EXECUTE FUNCTION {name}()"))


def install_failing_trigger(db: Database) -> None:
    """A real database failure at insert/commit for raw bytes that contain FAIL-COMMIT."""
    _raising_trigger(db, "fail_commit", "inbound_messages", "FAIL-COMMIT", "commit refused by test trigger",
                     pg_at_commit=True)


def install_refusing_trigger(db: Database, pg_errcode: str = "22001") -> None:
    """A real database refusal of the values one mail makes (a constraint; on PostgreSQL a value
    too long for its column, SQLSTATE 22001, or another ``pg_errcode``): the outbox row of a mail
    about REFUSE-ME, the last row its processing writes."""
    _raising_trigger(db, "refuse_outbox", "outbox", "REFUSE-ME", "outbox row refused by test trigger",
                     pg_errcode=pg_errcode)


def drop_failing_trigger(db: Database) -> None:
    """Undo install_failing_trigger, so the next pass can store."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.execute(text("DROP TRIGGER fail_commit"))
        else:
            conn.execute(text("DROP TRIGGER fail_commit ON inbound_messages"))
            conn.execute(text("DROP FUNCTION fail_commit()"))
