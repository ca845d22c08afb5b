"""The README's Postfix recipes, as README shows them, in a throwaway Postfix on loopback.

Each recipe (LMTP to `helpdesk run`, a pipe to `helpdesk ingest`) is read from README.md, so the
two cannot drift apart, and must deliver: a first mail, a reply to the token address, a reply-all
to both addresses, a mail sent while the gateway cannot take it (deferred, then delivered once),
and a mail over max_message_size (bounced to its sender with 5.3.4 and the reason).

The Postfix instance is its own: config, queue and data directories in a temporary directory,
smtpd on a free loopback port, and every other destination (the customers' domain, bounces)
routed to a sink on loopback, so nothing leaves the machine. Starting it needs root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    HELPDESK,
    OUTSIDE,
    ROOT,
    GatewayProcess,
    Received,
    Sink,
    as_user,
    customer_mail,
    free_port,
    require,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.slow

# The pipe's user (README: `user=helpdesk`): the gateway runs as it too, and owns the data directory.
GATEWAY_USER = "nobody"
# write_config's limit, and a mail twice that size.
MAX_MESSAGE_SIZE = 1_000_000
OVERSIZE = 2_000_000
DEADLINE = 30.0  # seconds: every wait is on a condition, this is only how long until it fails


def _postfix_binary(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)),
                                      None)


def readme_recipe(name: str) -> str:
    """The fenced block that follows `<!-- postfix-recipe: NAME -->` in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- postfix-recipe: {re.escape(name)} -->\n```[^\n]*\n(.*?)```", text, re.S)
    assert found, f"README.md has no block marked <!-- postfix-recipe: {name} -->"
    return found.group(1)


def substituted(text: str, replacements: dict[str, str]) -> str:
    """README's values replaced by the test's: each must be there, or README changed its recipe."""
    for old, new in replacements.items():
        assert old in text, f"the README recipe no longer contains {old!r}:\n{text}"
        text = text.replace(old, new)
    return text


def main_cf_settings(block: str) -> list[str]:
    """`name = value` lines of a main.cf block (continuation lines joined) as postconf arguments."""
    settings: list[str] = []
    for line in block.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            settings[-1] += " " + line.strip()
            continue
        name, _, value = line.partition("=")
        settings.append(f"{name.strip()}={value.strip()}")
    return settings


class Postfix:
    """A Postfix instance of its own under ``root``: `postfix -c DIR`, `postqueue -c DIR`."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.conf, self.queue, self.data = root / "conf", root / "queue", root / "data"
        self.maillog = root / "maillog"
        self.started = False

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {result.returncode}: {result.stdout}{result.stderr}\n"
                                 f"maillog:\n{self.log()}")
        return result

    def postconf(self, *args: str) -> None:
        self._run("postconf", "-c", str(self.conf), *args)

    def configure(self, outside_port: int, main_cf: list[str], master_cf: str) -> None:
        for d in (self.conf, self.queue, self.data):
            d.mkdir(parents=True)
        shutil.chown(self.data, "postfix")
        shutil.copy("/etc/postfix/master.cf", self.conf / "master.cf")
        (self.conf / "main.cf").write_text("")
        outside = f"smtp:[127.0.0.1]:{outside_port}"
        self.postconf(
            "compatibility_level=2",  # today's defaults, and a level every Postfix 3 knows
            f"queue_directory={self.queue}", f"data_directory={self.data}",
            f"maillog_file={self.maillog}", f"maillog_file_prefixes={self.root}",
            "myhostname=mx.example.com", "mydomain=example.com", "mydestination=",
            # Postfix accepts the support domain (README: as for your other addresses).
            "relay_domains=example.com",
            "inet_interfaces=loopback-only", "inet_protocols=ipv4", "mynetworks=127.0.0.0/8",
            # Nothing leaves the machine: the rest of the world is a sink on loopback.
            "relayhost=", f"default_transport={outside}", f"relay_transport={outside}",
            "smtp_host_lookup=native", "smtp_dns_support_level=disabled",
            "lmtp_host_lookup=native", "lmtp_dns_support_level=disabled",
            "alias_maps=", "alias_database=", "biff=no",
            *main_cf)
        # No chroot (it would need copies of system files), and smtpd on our own port.
        self.postconf("-F", "*/*/chroot = n")
        self.postconf("-MX", "smtp/inet")
        self.postconf("-M", f"127.0.0.1:{self.port}/inet = 127.0.0.1:{self.port} inet n - n - - smtpd")
        with open(self.conf / "master.cf", "a", encoding="utf-8") as f:
            f.write(master_cf)

    def start(self) -> None:
        self._run("postfix", "-c", str(self.conf), "start")
        self.started = True
        wait_for(self._listening, DEADLINE, what="Postfix's smtpd")

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.started:
            self._run("postfix", "-c", str(self.conf), "stop", check=False)
            wait_for(lambda: self._run("postfix", "-c", str(self.conf), "status", check=False).returncode != 0,
                     DEADLINE, what="Postfix to stop")
            self.started = False

    def entries(self) -> list[dict[str, Any]]:
        """What `postqueue -j` says is in the queue, one dict per message."""
        out = self._run("postqueue", "-c", str(self.conf), "-j").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def flush(self) -> None:
        self._run("postqueue", "-c", str(self.conf), "-f")

    def log(self) -> str:
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""

    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            refused = smtp.sendmail(mail_from, rcpt_to, raw)
        assert not refused, refused


@dataclass
class World:
    recipe: str
    postfix: Postfix
    gateway: GatewayProcess
    data_dir: Path
    relay: Sink  # the gateway's outbound relay: acknowledgements
    outside: Sink  # every other destination of Postfix's: bounces

    def query(self, sql: str) -> list[list[Any]]:
        """Rows of the gateway's SQLite database, read as its user (a file root opened could be
        left owned by root, and the gateway could no longer write it)."""
        script = ("import json, sqlite3, sys\n"  # mode=rw: never create it
                  "with sqlite3.connect(f'file:{sys.argv[1]}?mode=rw', uri=True, timeout=30) as db:\n"
                  "    print(json.dumps(db.execute(sys.argv[2]).fetchall()))\n")
        python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
        result = subprocess.run([python, "-c", script, str(self.data_dir / "helpdesk.sqlite3"), sql],
                                capture_output=True, text=True, timeout=60, **as_user(GATEWAY_USER))
        assert result.returncode == 0, result.stderr
        rows: list[list[Any]] = json.loads(result.stdout)
        return rows

    def inbound(self) -> list[tuple[str, str, list[str]]]:
        """Every stored mail: (state, envelope sender, envelope recipients)."""
        return [(state, mail_from, sorted(json.loads(rcpt_to))) for state, mail_from, rcpt_to in
                self.query("SELECT state, mail_from, rcpt_to FROM inbound_messages ORDER BY id")]

    def messages_per_ticket(self) -> dict[int, int]:
        """Each ticket's mails from outside."""
        return dict(self.query("SELECT ticket_id, COUNT(*) FROM messages WHERE direction = 'in' GROUP BY ticket_id"))

    def wait_tickets(self, expected: dict[int, int], what: str) -> None:
        def settled() -> bool:
            return (self.messages_per_ticket() == expected
                    and all(state == "done" for state, _, _ in self.inbound()))
        try:
            wait_for(settled, DEADLINE, interval=0.2, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: tickets {self.messages_per_ticket()}, inbound {self.inbound()}, "
                                 f"queue {self.postfix.entries()}\n{self.diagnostics()}") from None

    def wait_queue_empty(self) -> None:
        wait_for(lambda: not self.postfix.entries(), DEADLINE, interval=0.2, what="Postfix's queue to empty")

    def start_gateway(self) -> None:
        if self.recipe == "lmtp":
            self.gateway.start()
            return
        # No listener to wait for: its log says when it runs (its database upgraded and open).
        log = self.gateway.log
        before = log.read_text().count("gateway running") if log.exists() else 0
        self.gateway.start(wait_listener=False)
        wait_for(lambda: log.read_text().count("gateway running") > before, DEADLINE, what="the gateway to run")

    def diagnostics(self) -> str:
        return (f"--- maillog\n{self.postfix.log()[-6000:]}\n--- gateway log\n"
                f"{self.gateway.log.read_text(errors='replace')[-6000:] if self.gateway.log.exists() else ''}")


def _runs_as(user: str, command: tuple[str, ...]) -> tuple[bool, str]:
    try:
        result = subprocess.run([*command, "--help"], capture_output=True, cwd=OUTSIDE, timeout=120,
                                **as_user(user))
    except OSError as exc:
        return False, str(exc)
    return result.returncode == 0, result.stderr.decode(errors="replace")[-300:]


def helpdesk_for(user: str, root: Path) -> tuple[str, ...]:
    """`helpdesk` as ``user`` can run it: HELPDESK itself, or, when its interpreter lives where
    that user cannot go (a pyenv under /root), a venv of the system's python3 of the same version
    that loads the very same installed gateway (HELPDESK's site-packages) and a `helpdesk` script."""
    ok, why = _runs_as(user, HELPDESK)
    if ok:
        return HELPDESK
    interpreter = sys.executable if HELPDESK[0] == sys.executable else \
        Path(HELPDESK[0]).read_text(encoding="utf-8").splitlines()[0].removeprefix("#!").strip()
    probe = "import json, site, sys; print(json.dumps([sys.version_info[:2], site.getsitepackages()]))"
    version, site_dirs = json.loads(subprocess.run([interpreter, "-c", probe], capture_output=True, check=True,
                                                   timeout=60).stdout)
    system = "/usr/bin/python3"
    same = os.access(system, os.X_OK) and json.loads(subprocess.run(
        [system, "-c", probe], capture_output=True, check=True, timeout=60).stdout)[0] == version
    require(same, f"user {user} cannot run {' '.join(HELPDESK)} ({why.strip()}), and there is no "
                  f"{system} of version {version} to run it with instead")
    venv = root / "helpdesk-venv"
    subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True, timeout=120)
    (own_site,) = (d for d in venv.glob("lib/python3*/site-packages"))
    (own_site / "helpdesk-under-test.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in site_dirs), encoding="utf-8")
    script = venv / "bin" / "helpdesk"
    script.write_text(f"#!{venv}/bin/python\nimport sys\nfrom gateway.cli import main\nsys.exit(main())\n",
                      encoding="utf-8")
    script.chmod(0o755)
    command = (str(script),)
    ok, why = _runs_as(user, command)
    require(ok, f"user {user} cannot run {script} either (every directory on the way to the installed "
                f"gateway must be open to others): {why}")
    return command


def _open_to_others(prefix: str) -> Path:
    # Not pytest's tmp_path: its directories are private to root, and the gateway's user reads here.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def helpdesk() -> Iterator[tuple[str, ...]]:
    """How the gateway's user runs `helpdesk`: the prerequisites of every recipe, checked once."""
    require(_postfix_binary("postfix") is not None, "Postfix is not installed (Debian package postfix)")
    require(os.geteuid() == 0, "starting a Postfix instance of its own needs root")
    root = _open_to_others("helpdesk-postfix-runner-")
    try:
        yield helpdesk_for(GATEWAY_USER, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["lmtp", "pipe"])
def world(request: pytest.FixtureRequest, helpdesk: tuple[str, ...]) -> Iterator[World]:
    recipe: str = request.param
    root = _open_to_others(f"helpdesk-postfix-{recipe}-")
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    relay, outside = Sink().start(), Sink().start()
    postfix = Postfix(root / "postfix", free_port())
    gw_port = free_port()
    (root / "gw").mkdir(mode=0o755)
    data_dir = root / "gw" / "var"  # write_config's data_dir
    data_dir.mkdir()
    shutil.chown(data_dir, GATEWAY_USER, as_user(GATEWAY_USER)["group"])
    config = write_config(root / "gw" / "config.toml", smtp_port=gw_port, relay_port=relay.port,
                          lmtp=recipe == "lmtp", smtp_extra="" if recipe == "lmtp" else "enabled = false\n")
    assert f'max_message_size = "{MAX_MESSAGE_SIZE // 1_000_000}MB"' in config.read_text()
    config.chmod(0o644)
    gateway = GatewayProcess(config, gw_port, user=GATEWAY_USER, command=helpdesk)
    if recipe == "lmtp":
        main_cf = substituted(readme_recipe("lmtp main.cf"), {"127.0.0.1:2525": f"127.0.0.1:{gw_port}"})
        master_cf = ""
    else:
        main_cf = readme_recipe("pipe main.cf")
        master_cf = substituted(readme_recipe("pipe master.cf"), {
            "/opt/helpdesk/.venv/bin/helpdesk": " ".join(helpdesk),
            "/etc/helpdesk.toml": str(config),
            "user=helpdesk": f"user={GATEWAY_USER}",
        })
    w = World(recipe, postfix, gateway, data_dir, relay, outside)
    try:
        postfix.configure(outside.port, main_cf_settings(main_cf), master_cf)
        postfix.start()
        w.start_gateway()
        yield w
    finally:
        try:
            if gateway.proc is not None and gateway.proc.poll() is None:
                gateway.stop()
            postfix.stop()
        finally:
            print(w.diagnostics())  # shown when the test failed
            relay.stop()
            outside.stop()
            data_dir.chmod(0o755)


def _delivery_status(bounce: Received) -> tuple[list[str], str]:
    """The Status and Diagnostic-Code fields of a DSN (RFC 3464)."""
    statuses, diagnostics = [], []
    for part in bounce.message.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload():
                statuses += block.get_all("Status", [])
                diagnostics += block.get_all("Diagnostic-Code", [])
    return statuses, " ".join(" ".join(d.split()) for d in diagnostics)


def _big_mail(sender: str, size: int) -> bytes:
    line = "0123456789" * 7 + "\n"
    return customer_mail(sender, "Crash dump", line * (size // len(line) + 1))


@pytest.mark.postfix
def test_readme_recipe_delivers_each_mail_once_defers_while_down_and_bounces_oversize(world: World) -> None:
    w, postfix = world, world.postfix
    alice, bob, carol = "alice@customer.example", "bob@customer.example", "carol@customer.example"

    # A first mail: a ticket, and an acknowledgement whose Reply-To is the token address.
    first = customer_mail(alice, "Cannot log in", "The login page says my password is wrong.")
    postfix.send(alice, ["support@example.com"], first)
    w.wait_tickets({1: 1}, "the first mail's ticket")
    ack = w.relay.wait(1, DEADLINE)[0].message
    token_address = str(ack["Reply-To"]).strip("<>")
    assert re.fullmatch(r"support\+1-[^@]+@example\.com", token_address), token_address

    # A reply to the token address (what a mail client's Reply does) reaches the gateway.
    reply = customer_mail(alice, "Re: Cannot log in", "It happens on the mobile app too.", to=token_address,
                          in_reply_to=str(ack["Message-ID"]))
    postfix.send(alice, [token_address], reply)
    w.wait_tickets({1: 2}, "the reply to the token address on ticket 1")

    # A reply-all to both addresses: one delivery of one mail to two recipients, stored once.
    reply_all = customer_mail(alice, "Re: Cannot log in", "And on the web.", to=token_address,
                              in_reply_to=str(ack["Message-ID"]), extra={"Cc": "support@example.com"})
    postfix.send(alice, [token_address, "support@example.com"], reply_all)
    w.wait_tickets({1: 3}, "the reply-all on ticket 1")
    support = "support@example.com"
    assert w.inbound() == [("done", alice, [support]), ("done", alice, [token_address]),
                           ("done", alice, sorted([support, token_address]))]

    # The gateway cannot take mail for a while: Postfix defers it and keeps it.
    w.gateway.stop()
    if w.recipe == "pipe":
        # For a pipe, the gateway down is its store unreachable: ingest cannot open the database.
        w.data_dir.chmod(0o000)
    postfix.send(bob, ["support@example.com"], customer_mail(bob, "Invoices", "Where is the November invoice?"))
    deferred = wait_for(lambda: [e for e in postfix.entries() if e["queue_name"] == "deferred"], DEADLINE,
                        interval=0.2, what="Postfix to defer the mail while the gateway is down")
    assert len(deferred) == 1, deferred
    reason = deferred[0]["recipients"][0]["delay_reason"]
    assert ("Connection refused" if w.recipe == "lmtp" else "helpdesk ingest: database.url: cannot reach") in reason
    if w.recipe == "pipe":
        w.data_dir.chmod(0o755)
    w.start_gateway()
    postfix.flush()
    w.wait_queue_empty()
    w.wait_tickets({1: 3, 2: 1}, "the deferred mail's ticket, once")
    # Nothing is left to deliver and nothing came twice: four mails, four stored.
    stored = [("done", alice, [support]), ("done", alice, [token_address]),
              ("done", alice, sorted([support, token_address])), ("done", bob, [support])]
    assert w.inbound() == stored
    assert "status=deferred" in postfix.log()
    if w.recipe == "pipe":  # what README says Postfix logs for each mail ingest stored
        assert "status=sent (delivered via helpdesk service (-: stored as inbound 4))" in postfix.log()

    # A mail over max_message_size: Postfix bounces it to its sender, with 5.3.4 and the reason.
    big = _big_mail(carol, OVERSIZE)
    postfix.send(carol, ["support@example.com"], big)
    bounce = wait_for(lambda: [m for m in w.outside.messages if m.rcpt_tos == [carol]], DEADLINE, interval=0.2,
                      what="Postfix's bounce to the sender of the oversize mail")
    assert len(bounce) == 1 and bounce[0].mail_from in ("", "<>"), bounce  # the null return path
    statuses, diagnostic = _delivery_status(bounce[0])
    assert statuses == ["5.3.4"], (statuses, diagnostic)
    if w.recipe == "lmtp":
        assert f"exceeds size limit {MAX_MESSAGE_SIZE} of server" in diagnostic, diagnostic
    else:
        assert re.search(rf"helpdesk ingest: the message is \d+ bytes, over max_message_size "
                         rf"\({MAX_MESSAGE_SIZE} bytes\); not stored", diagnostic), diagnostic
    assert re.search(r"to=<support@example\.com>.*dsn=5\.3\.4, status=bounced", postfix.log())
    w.wait_queue_empty()
    assert w.inbound() == stored  # the oversize mail was not stored
    assert w.messages_per_ticket() == {1: 3, 2: 1}
    # And as an operator sees it.
    listed = json.loads(w.gateway.cli("tickets", "list", "--json").stdout)["tickets"]
    assert sorted((t["number"], t["customer"]) for t in listed) == [(1, alice), (2, bob)]

    # Nothing else left Postfix: no mail for the gateway went anywhere else.
    assert [m.rcpt_tos for m in w.outside.messages] == [[carol]]
    acknowledged = [m.rcpt_tos for m in w.relay.messages if m.message["Auto-Submitted"]]
    assert [alice] in acknowledged and [bob] in acknowledged, acknowledged


def test_listener_refuses_an_oversize_mail_with_an_enhanced_status_code(tmp_path: Path) -> None:
    """A client that sends a mail over max_message_size all the same (it ignored SIZE) gets
    `552 5.3.4`, which its bounce quotes, at the end of DATA, and at MAIL for a SIZE= too large."""
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=None)
    gw = GatewayProcess(config, port).start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.ehlo()
            smtp.esmtp_features.pop("size", None)  # send it without SIZE=, as if it had not seen it
            with pytest.raises(smtplib.SMTPDataError) as err:
                smtp.sendmail("a@customer.example", ["support@example.com"], _big_mail("a@customer.example", OVERSIZE))
            assert err.value.smtp_code == 552
            assert err.value.smtp_error.startswith(b"5.3.4 "), err.value.smtp_error
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.ehlo()
            code, text = smtp.mail("a@customer.example", [f"SIZE={OVERSIZE}"])
            assert (code, text[:6]) == (552, b"5.3.4 "), (code, text)
    finally:
        assert gw.stop() == 0


def test_ingest_refuses_a_mail_over_max_message_size_with_5_3_4(tmp_path: Path) -> None:
    """Without Postfix: what its pipe sees. Exit 65 and `5.3.4 ...` first on stderr, nothing stored;
    a mail at the limit is stored."""
    config = write_config(tmp_path / "config.toml", smtp_port=free_port(), relay_port=None,
                          smtp_extra="enabled = false\n")
    gw = GatewayProcess(config, 0)
    big = b"Subject: big\n\n" + b"x" * MAX_MESSAGE_SIZE
    result = gw.cli("ingest", "--sender=a@customer.example", "--recipient=support@example.com", input=big,
                    check=False)
    assert result.returncode == 65, result
    assert result.stderr.decode().startswith(
        f"5.3.4 helpdesk ingest: the message is {len(big)} bytes, over max_message_size ({MAX_MESSAGE_SIZE} bytes)")
    (tmp_path / "big.eml").write_bytes(big)
    result = gw.cli("ingest", str(tmp_path / "big.eml"), check=False)
    assert result.returncode == 65 and b"big.eml: the message is" in result.stderr, result
    at_limit = big[: MAX_MESSAGE_SIZE]
    result = gw.cli("ingest", "--sender=", "--recipient=support@example.com",
                    "--recipient=support+1-x@example.com", input=at_limit)
    assert result.stdout.decode().startswith("-: stored as inbound 1"), result
    assert json.loads(gw.cli("status", "--json").stdout)["inbound"] == {"pending": 1}
    # The recipe's old form, `--recipient ${recipient}`, for two recipients: kept (75), and the
    # reason Postfix logs says what to write instead.
    result = gw.cli("ingest", "--recipient", "support@example.com", "support+1-x@example.com", input=at_limit,
                    check=False)
    assert result.returncode == 75, result
    assert b"support+1-x@example.com: No such file or directory (a recipient? write --recipient=ADDRESS" \
        in result.stderr, result.stderr

