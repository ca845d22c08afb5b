"""`helpdesk explain` as a support lead uses it: rules, priority, plan, promise; nothing written."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

from tests import worlds
from tests.support import HELPDESK, ROOT, customer_mail


def config_text(var: Path, **gateway_keys: str) -> str:
    """Acme on the gold plan (P1 answered in 15 minutes), Alice its designated contact."""
    return worlds.world(
        worlds.gateway(var, name=None, timezone=None, **gateway_keys),
        worlds.UK_CALENDAR,
        worlds.plan("gold", priorities={"P1": {"first_response": "15m", "calendar": "24x7"}}),
        worlds.plan(),
        worlds.acme("alice", plan="gold"),
        "# Who `helpdesk set --by` names must be someone the config knows.",
        worlds.DANA_CONTACT,
    )


def _explain(tmp: Path, mail: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp / "config.toml"
    config.write_text(config_text(tmp / "var"), encoding="utf-8")
    return subprocess.run([*HELPDESK, "-c", str(config), "explain", str(mail), *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)


def test_explain_shows_rules_priority_plan_and_writes_nothing(tmp_path: Path) -> None:
    mail = tmp_path / "outage.eml"
    mail.write_bytes(customer_mail("Alice <alice@acme.example>", "Production down",
                                   "Our whole site is down for everyone since 9am. No workaround."))
    text = _explain(tmp_path, mail, "--at", "2026-11-22T02:00:00+00:00").stdout
    assert "Priority:    P1" in text
    assert "Acme, plan gold, designated contact" in text
    assert "first_response 15 minutes -> due 2026-11-22T02:15:00+00:00" in text
    assert "hit " in text and "miss " in text  # every rule, with why
    data = json.loads(_explain(tmp_path, mail, "--json", "--at", "2026-11-22T02:00:00+00:00").stdout)
    assert data["outcome"] == "ticket" and data["acknowledge"] is True
    assert data["priority"] == "P1" and data["sender"]["plan"] == "gold"
    hits = [o["rule"] for o in data["classification"]["outcomes"] if o["matched"]]
    assert hits, data["classification"]
    db = sqlite3.connect(tmp_path / "var" / "helpdesk.sqlite3")
    assert db.execute("SELECT count(*) FROM inbound_messages").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0


def test_explain_a_bounce_says_screened_and_no_acknowledgement(tmp_path: Path) -> None:
    mail = tmp_path / "bounce.eml"
    mail.write_bytes(customer_mail("MAILER-DAEMON@mx.example", "Undelivered Mail Returned to Sender",
                                   "This is the mail system at host mx.example. I'm sorry to have to inform you..."))
    data = json.loads(_explain(tmp_path, mail, "--json").stdout)
    assert data["outcome"] == "screened" and data["screening"]["verdict"] == "bounce"
    assert data["acknowledge"] is False


def _helpdesk(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clock = {"HELPDESK_CLOCK_FILE": str(tmp / "clock")} if (tmp / "clock").exists() else {}
    return subprocess.run([*HELPDESK, "-c", str(tmp / "config.toml"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=True,
                          env={**os.environ, **clock})


def _open_outage_ticket(tmp_path: Path) -> None:
    """Ticket 1, opened at 10:00 by Acme's designated contact: the website is down for everyone."""
    (tmp_path / "config.toml").write_text(config_text(tmp_path / "var"), encoding="utf-8")
    (tmp_path / "clock").write_text("2026-11-23T10:00:00+00:00")
    first = tmp_path / "first.eml"
    first.write_bytes(customer_mail("Alice <alice@acme.example>", "Our website is down for everyone",
                                    "Our website is down for everyone since 9am.", message_id="<w1@acme.example>"))
    _helpdesk(tmp_path, "ingest", str(first), "--process")


def test_explain_says_what_processing_then_does_with_replies(tmp_path: Path) -> None:
    """A reply keeps the priority an engineer set (its quoted history is not read again); a
    reply to a closed ticket opens a follow-up, read on its own words and acknowledged."""
    _open_outage_ticket(tmp_path)
    _helpdesk(tmp_path, "set", "1", "--priority", "P3", "--reason", "one browser's cache", "--by", "dana")
    reply = tmp_path / "reply.eml"
    reply.write_bytes(customer_mail("Alice <alice@acme.example>", "Re: Our website is down for everyone",
                                    "Thanks, clearing the cache fixed it.\n\n> Our website is down for everyone.",
                                    in_reply_to="<w1@acme.example>"))
    told = json.loads(_helpdesk(tmp_path, "explain", str(reply), "--json").stdout)
    assert (told["outcome"], told["priority"], told["acknowledge"]) == ("reply", "P3", False)
    _helpdesk(tmp_path, "ingest", str(reply), "--process")
    assert json.loads(_helpdesk(tmp_path, "tickets", "show", "1", "--json").stdout)["priority"] == "P3"

    _helpdesk(tmp_path, "set", "1", "--status", "closed", "--by", "dana")
    (tmp_path / "clock").write_text("2026-11-30T10:00:00+00:00")
    thanks = tmp_path / "thanks.eml"
    thanks.write_bytes(customer_mail("Alice <alice@acme.example>", "Re: Our website is down for everyone",
                                     "Thanks for closing this. All good here.\n\n> Our website is down for everyone.",
                                     in_reply_to="<w1@acme.example>"))
    told = json.loads(_helpdesk(tmp_path, "explain", str(thanks), "--json").stdout)
    assert (told["outcome"], told["acknowledge"], told["thread"]["follow_up_of"]) == ("ticket", True, 1)
    assert told["priority"] != "P1"
    _helpdesk(tmp_path, "ingest", str(thanks), "--process")
    follow_up = json.loads(_helpdesk(tmp_path, "tickets", "show", "2", "--json").stdout)
    assert follow_up["priority"] == told["priority"]


def test_explain_of_a_reply_shows_the_tickets_own_clocks(tmp_path: Path) -> None:
    _open_outage_ticket(tmp_path)
    (tmp_path / "clock").write_text("2026-11-23T10:05:00+00:00")
    reply = tmp_path / "reply.eml"
    reply.write_bytes(customer_mail("Alice <alice@acme.example>", "Re: Our website is down for everyone",
                                    "Still down, any news?", in_reply_to="<w1@acme.example>"))
    told = json.loads(_helpdesk(tmp_path, "explain", str(reply), "--json").stdout)
    assert (told["outcome"], told["priority"]) == ("reply", "P1")
    # The ticket's first response is due 15 minutes after its first mail, not after this reply.
    assert told["sla"]["first_response"] == {"target": "15 minutes", "deadline": "2026-11-23T10:15:00+00:00",
                                             "state": "running"}
    text = _helpdesk(tmp_path, "explain", str(reply)).stdout
    assert "first_response 15 minutes -> due 2026-11-23T10:15:00+00:00 (running, the ticket's own clock)" in text


def test_explain_says_a_stranger_is_held_where_the_directory_holds_them(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(config_text(tmp_path / "var", unknown_senders="hold"), encoding="utf-8")
    mail = tmp_path / "stranger.eml"
    mail.write_bytes(customer_mail("someone@elsewhere.example", "Question", "Hello"))
    told = json.loads(_helpdesk(tmp_path, "explain", str(mail), "--json").stdout)
    assert (told["outcome"], told["acknowledge"]) == ("held", False)


def test_what_a_customer_wrote_cannot_drive_the_operators_terminal(tmp_path: Path) -> None:
    """Escape sequences and bidi overrides in a subject or body are shown as escapes."""
    (tmp_path / "config.toml").write_text(config_text(tmp_path / "var"), encoding="utf-8")
    mail = tmp_path / "m.eml"
    mail.write_bytes("From: alice@acme.example\r\nSubject: Invoice \u202efdp.exe\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                     "line one \x1b[2J\x1b[31mRED\x1b[0m\r\n\x1b[1A\x1b[2K  status resolved\r\n".encode())
    _helpdesk(tmp_path, "ingest", str(mail), "--process")
    for args in (["tickets", "list"], ["tickets", "show", "1"], ["explain", str(mail)]):
        shown = _helpdesk(tmp_path, *args).stdout
        assert "\x1b" not in shown and "\u202e" not in shown, args
    assert "\\u001b[31mRED" in _helpdesk(tmp_path, "tickets", "show", "1").stdout  # still readable
