"""What the end-to-end benchmarks share: a support corpus, a config, `helpdesk run` as a subprocess,
SMTP servers to compare with and to relay to, and SMTP clients in processes of their own.

Nothing here imports the gateway: it is driven as a user drives it, through its command and its
SMTP port, so the benchmarks measure what a customer's mail goes through.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from pathlib import Path

from bench.corpus_gen import LINES, SUBJECTS

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
SUPPORT = "support@example.com"


def helpdesk_command() -> list[str]:
    """The installed console script (HELPDESK_BIN, else the one beside this interpreter)."""
    if os.environ.get("HELPDESK_BIN"):
        return [os.environ["HELPDESK_BIN"]]
    script = Path(sys.executable).with_name("helpdesk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Mail:
    thread: int  # mails of one thread go through one client, in order
    new: bool  # opens a ticket (so is acknowledged); a reply threads into its ticket
    message_id: str
    sender: str
    raw: bytes


def support_corpus(n: int, seed: int = 11, *, senders: int = 400, replies: float = 0.2,
                   attachments: float = 0.1) -> list[Mail]:
    """``n`` mails: new requests, quoted replies to an earlier request, requests with an attachment."""
    rnd = random.Random(seed)
    opened: list[tuple[int, str, str, str]] = []  # (thread, message-id, sender, subject)
    out: list[Mail] = []
    when = 1_793_000_000
    for i in range(n):
        msg = EmailMessage()
        pick = rnd.random()
        if opened and pick < replies:
            thread, parent, sender, subject = rnd.choice(opened)
            msg["Subject"] = "Re: " + subject
            msg["In-Reply-To"] = parent
            msg["References"] = parent
            quoted = "\n".join("> " + rnd.choice(LINES) for _ in range(rnd.randint(5, 30)))
            body = f"{rnd.choice(LINES)}\n{rnd.choice(LINES)}\n\nOn Monday, Support wrote:\n{quoted}\n"
        else:
            thread, sender = i, f"user{rnd.randint(1, senders)}@customer{rnd.randint(1, 40)}.example"
            subject = f"{rnd.choice(SUBJECTS)} ({i})"
            msg["Subject"] = subject
            body = "\n".join(rnd.choice(LINES) for _ in range(rnd.randint(3, 15))) + "\n\n-- \nJane Doe\nIT Manager\n"
        mid = f"<e2e{i}.{rnd.getrandbits(32)}@{sender.split('@')[1]}>"
        msg["From"] = f"Customer {i} <{sender}>"
        msg["To"] = SUPPORT
        msg["Date"] = format_datetime(_utc(when + 60 * i))
        msg["Message-ID"] = mid
        msg.set_content(body)
        new = not msg["In-Reply-To"]
        if new and pick >= 1 - attachments:
            msg.add_attachment(rnd.randbytes(rnd.randint(2_000, 60_000)), maintype="application",
                               subtype="octet-stream", filename=f"log-{i}.bin")
        if new:
            opened.append((thread, mid, sender, subject))
        out.append(Mail(thread, new, mid, sender, msg.as_bytes(policy=SMTP_POLICY)))  # CRLF, as mail travels
    return out


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def write_config(directory: Path, *, smtp_port: int, relay_port: int | None = None, db_url: str | None = None,
                 per_address_cap: int | None = 1000, engineers: bool = True, workers: int = 0,
                 sessions: int = 1) -> Path:
    """config.example.toml as shipped, placed in ``directory``: its own database, port and outbox.

    ``per_address_cap`` raises the loop guard's per-address limit (5 an hour as shipped), so that a
    corpus where a customer writes more than five new requests in the hour has them all answered;
    None keeps the shipped value. Without ``engineers`` the example engineers are left out (nobody
    is told of a new ticket: the gateway writes only what the customer is sent).
    """
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    data = directory / "var"
    swaps = [('data_dir = "var"', f'data_dir = "{data}"'),
             ('url = "sqlite:///var/helpdesk.sqlite3"', f'url = "{db_url or f"sqlite:///{data}/helpdesk.sqlite3"}"'),
             ("port = 2525", f"port = {smtp_port}"),
             ('directory = "var/outbox"', f'directory = "{data}/outbox"')]
    if relay_port is not None:
        swaps += [('transport = "directory"', 'transport = "smtp"'), ("port = 25\n", f"port = {relay_port}\n")]
    if per_address_cap is not None:
        swaps.append(("max_per_address_per_hour = 5", f"max_per_address_per_hour = {per_address_cap}"))
    if workers:
        swaps.append(("[processing]\n", f"[processing]\nworkers = {workers}\n"))
    if sessions != 1:
        swaps.append(("sessions = 1\n", f"sessions = {sessions}\n"))
    for old, new in swaps:
        if old not in text:
            raise SystemExit(f"config.example.toml no longer has {old!r}: update bench/e2e_harness.py")
        text = text.replace(old, new, 1)
    if not engineers:
        text, removed = re.subn(r"^\[\[(?:engineers\.team|agents\.engineers)\]\]\n(?:[^\[\n][^\n]*\n|\n)*", "",
                                text, flags=re.M)
        if not removed:
            raise SystemExit("config.example.toml has no [[engineers.team]] to leave out: update bench/e2e_harness.py")
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


class Server:
    """A subprocess that listens on ``port``; started, waited for, stopped with SIGTERM."""

    def __init__(self, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.argv, self.port, self.log = argv, port, log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0, stdout: int | None = None) -> Server:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=stdout or log, stderr=log, env=self.env, cwd="/")
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.argv[0]} exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{' '.join(self.argv)} did not listen on {self.port} in {timeout:.0f}s")
            time.sleep(0.05)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def gateway(config: Path, port: int, env: dict[str, str] | None = None) -> Server:
    """``helpdesk run`` as a user starts it."""
    return Server([*helpdesk_command(), "-c", str(config), "run"], port, config.parent / "gateway.log", env)


def helpdesk(config: Path, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*helpdesk_command(), "-c", str(config), *args], capture_output=True, text=True,
                            timeout=timeout, cwd="/")
    if result.returncode != 0:
        raise SystemExit(f"helpdesk {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def bare_server(port: int, log: Path) -> Server:
    """aiosmtpd with its no-op handler (Sink): what receiving alone costs."""
    return Server([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
                   "aiosmtpd.handlers.Sink"], port, log)


def fresh_dir(base: Path, name: str) -> Path:
    path = base / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


_MID = re.compile(rb"^In-Reply-To:\s*(<[^>\r\n]*>)", re.I | re.M)
_TO = re.compile(rb"^X-Envelope-To:\s*([^\r\n]*)", re.I | re.M)


def ack_of(head: bytes, rcpt: str | None = None) -> str | None:
    """The customer Message-ID an acknowledgement answers, None for mail to our own staff."""
    if rcpt is None:
        found = _TO.search(head)
        rcpt = found.group(1).decode() if found else ""
    if rcpt.strip().lower().endswith("@example.com"):
        return None
    found = _MID.search(head)
    return found.group(1).decode() if found else "?"
