"""A throwaway Dovecot on loopback, started, stopped and filled with mail; and the IMAP tests' helpers.

Its files (dovecot.conf, users, certificate) are written by tests.dovecot_conf."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import func, select

from gateway.config.imap import ImapAccount
from gateway.sources.imap.poller import ImapPoller
from gateway.sources.imap.session import ImapSession, Mailbox
from gateway.sources.imap.sync import source_key
from gateway.store.db import Database
from gateway.store.models import ImapState, InboundMessage, Message, Ticket
from tests.dovecot_conf import write_dovecot_conf
from tests.support import customer_mail, free_port, require, wait_for

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"


def require_dovecot() -> None:
    require(shutil.which("dovecot") is not None or Path(DOVECOT).exists(),
            "dovecot is not installed (apt-get install dovecot-imapd): no IMAP server to test against")
    require(os.geteuid() == 0, "the Dovecot fixture runs as root (mail is owned by nobody)")


class Dovecot:
    """One Dovecot instance in a short temporary directory (unix socket paths must stay short)."""

    def __init__(self, users: dict[str, str] | None = None, *, tls: bool = False,
                 introspection_url: str | None = None) -> None:
        self.users = users or {"support": "secret"}
        self.introspection_url = introspection_url
        self.dir = Path(tempfile.mkdtemp(prefix="dc-"))
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.tls = tls
        self.conf = write_dovecot_conf(self.dir, self.users, port=self.port, tls_port=self.tls_port, tls=tls,
                                       introspection_url=introspection_url)

    @property
    def cert(self) -> Path:
        return self.dir / "cert.pem"

    def start(self) -> Dovecot:
        # The daemon keeps inherited pipes open: give it files, or run() would wait for ever.
        with open(self.dir / "start.out", "ab") as out:
            subprocess.run([DOVECOT, "-c", str(self.conf)], check=True, stdout=out, stderr=out,
                           stdin=subprocess.DEVNULL)
        wait_for(self._accepting, 10, what="dovecot to accept connections")
        return self

    def _accepting(self) -> bool:
        try:
            with IMAPClient("127.0.0.1", self.port, ssl=False, timeout=2) as c:
                return bool(c.capabilities())
        except OSError:
            return False

    def _master(self) -> int | None:
        pid_file = self.dir / "run" / "master.pid"
        return int(pid_file.read_text()) if pid_file.exists() else None

    def stop(self, *, graceful: bool = True) -> None:
        """Stop the server, cutting every session, and wait until it is gone."""
        pid = self._master()
        if pid is None:
            return
        if graceful:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not _alive(pid), 10, what="dovecot to stop")
        # The master leads its process group: whatever child is left goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        wait_for(lambda: not _alive(pid), 10, what="dovecot to stop")
        (self.dir / "run" / "master.pid").unlink(missing_ok=True)

    def session_pids(self, user: str = "support") -> list[int]:
        out = subprocess.run([DOVEADM, "-c", str(self.conf), "who", "-1"], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL).stdout
        return [int(cols[2]) for cols in (line.split() for line in out.splitlines()[1:])
                if len(cols) >= 3 and cols[0] == user and cols[2].isdigit()]

    def kill_sessions(self, user: str = "support") -> int:
        """SIGKILL the imap processes serving ``user``: their clients see EOF, no BYE; the server stays up."""
        pids = self.session_pids(user)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def close(self) -> None:
        self.stop(graceful=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, user: str = "support") -> IMAPClient:
        c = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=10)
        c.login(user, self.users[user])
        return c

    def append(self, messages: Iterable[bytes], folder: str = "INBOX", user: str = "support",
               flags: tuple[bytes, ...] = ()) -> int:
        """APPEND as a delivering client would; MULTIAPPEND (RFC 3502) in chunks, for speed."""
        items = [{"msg": raw, "flags": flags} for raw in messages]
        with self.client(user) as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            for start in range(0, len(items), 100):
                c.multiappend(folder, items[start:start + 100])
        return len(items)

    def uids(self, folder: str = "INBOX", criteria: str | list[str] = "ALL",
             user: str = "support") -> list[int]:
        with self.client(user) as c:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            return sorted(int(u) for u in c.search(criteria))

    def mail_file(self, marker: bytes, user: str = "support") -> Path:
        """The Maildir file of the one message containing ``marker``."""
        [path] = [p for p in (self.dir / "mail" / user).rglob("*") if p.is_file()
                  and p.parent.name in ("cur", "new") and marker in p.read_bytes()]
        return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes; dovecot daemonises, so it is not our child.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextlib.contextmanager
def running_dovecot(users: dict[str, str] | None = None, *, tls: bool = False,
                    introspection_url: str | None = None) -> Iterator[Dovecot]:
    """A started Dovecot for one test (skipped locally, failed in CI, when Dovecot is missing), taking
    OAuth2 logins too with ``introspection_url``."""
    require_dovecot()
    server = Dovecot(users, tls=tls, introspection_url=introspection_url).start()
    try:
        yield server
    finally:
        server.close()


def account(server: Dovecot, **overrides: Any) -> ImapAccount:
    values: dict[str, Any] = {"name": "support", "host": "127.0.0.1", "port": server.port,
                              "security": "none", "username": "support", "password_env": "UNUSED",
                              "password": server.users["support"]}
    values.update(overrides)
    return ImapAccount(**values)


def mails(n: int, prefix: str = "case") -> list[bytes]:
    return [customer_mail(f"c{i}@customer.example", f"{prefix} {i}", f"Hello, this is {prefix} {i}.",
                          message_id=f"<{prefix}-{i}@customer.example>") for i in range(n)]


def count(db: Database, model: type = InboundMessage, *where: Any) -> int:
    with db.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def ticket_message_ids(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.scalars(select(Message.message_id).where(Message.direction == "in")))


def tickets(db: Database) -> int:
    return count(db, Ticket)


def state_row(db: Database, name: str = "support") -> ImapState:
    row = find_state_row(db, name)
    assert row is not None, f"no imap_state row for {name}"
    return row


def find_state_row(db: Database, name: str = "support") -> ImapState | None:
    with db.sessions() as session:
        return session.scalar(select(ImapState).where(ImapState.account == name))


@contextlib.contextmanager
def polling(poller: ImapPoller) -> Iterator[ImapPoller]:
    """Run the poller's loop in a thread, as `helpdesk run` does; stop it at the end."""
    thread = threading.Thread(target=poller.run, name=f"test-imap-{poller.name}", daemon=True)
    thread.start()
    try:
        yield poller
    finally:
        poller.stop()
        thread.join(15)
        assert not thread.is_alive(), "the poller did not stop"


def commit_checking_connect(db: Database, acknowledged: list[int]) -> Callable[[ImapAccount], ImapSession]:
    """Sessions that, at each acknowledgement, check every message's row is already committed.

    The check reads through a separate connection, which sees committed rows only: a \\Seen or
    a move before the commit would fail the test.
    """

    class CommitChecking(ImapSession):
        _box: Mailbox

        def select(self) -> Mailbox:
            self._box = super().select()
            return self._box

        def acknowledge(self, uids: Any) -> None:
            keys = {source_key(self.account.name, self._box.uidvalidity, uid) for uid in uids}
            if keys:
                with db.engine.connect() as conn:
                    found = set(conn.scalars(select(InboundMessage.source_key)
                                             .where(InboundMessage.source_key.in_(keys))))
                assert found == keys, f"acknowledging before commit: {sorted(keys - found)}"
            acknowledged.extend(uids)
            super().acknowledge(uids)

    return CommitChecking.open
