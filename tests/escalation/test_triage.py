"""After-hours triage: a mail the rules flag as possibly critical pages the on-call, who settles it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.tickets import workflow
from gateway.tickets.ack import acknowledge
from gateway.timekeeping.scheduler import SlaScheduler
from gateway.tools.explain import explain, format_explanation
from gateway.tools.rules_evaluate import read_labels
from parsers import ParsedMail
from rules import Classification, RuleContext, RuleSet
from tests.escalation.test_escalation import MONDAY_10AM, Desk, at
from tests.support import HELPDESK, OUTSIDE, ROOT, SHARED, customer_mail, require

PAGE = "on-call-page"
WHY = "a designated contact declares it critical"


class FlaggingRules(RuleSet):
    """The configured rules, plus a triage flag on every mail whose subject says "critical"; this
    stands in for the classifier's own evidence, which these tests do not exercise."""

    def __init__(self, inner: RuleSet) -> None:
        super().__init__(inner.rules)

    def classify(self, mail: ParsedMail, ctx: RuleContext) -> Classification:
        result = super().classify(mail, ctx)
        if "critical" in mail.subject.lower() and result.priority != "P1":
            return replace(result, triage=True, triage_reason=WHY)
        return result


def flagging(desk: Desk) -> Desk:
    desk.app = replace(desk.app, config=replace(desk.app.config, rules=FlaggingRules(desk.app.config.rules)))
    desk.scheduler = SlaScheduler(desk.app)
    return desk


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return flagging(Desk(tmp_path / "desk.sqlite3", at("02:00"), tmp_path))


def test_a_mail_flagged_for_triage_pages_the_on_call_after_hours_saying_why(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Critical: the dashboard", "Please look at the dashboard figures tonight.")
    desk.advance(at("02:20"))
    assert desk.mails(PAGE, "status-paged") == [("02:00", PAGE, "alice@example.com"),
                                                 ("02:15", PAGE, "alice@example.com")]
    page = desk.message(PAGE, "alice@example.com")
    assert "PAGE for triage (P3) after hours" in str(page["Subject"])
    body = page.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "paged as the on-call engineer" in text and "for triage" in text
    assert f"Why: {WHY}." in text
    assert "helpdesk set 1 --priority P1 --by alice" in text
    classified = desk.events("classified")[0].detail
    assert classified["triage"] is True and classified["triage_reason"] == WHY
    paged = desk.events("on-call-paged")
    assert [e.detail["triage"] for e in paged] == [WHY, WHY]


def test_lowering_it_ends_the_pages_and_no_status_notice_goes_to_the_customer(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Critical: the dashboard", "Please look at the dashboard figures tonight.")
    desk.advance(at("02:05"))
    desk.clock.set(at("02:10"))
    desk.act(lambda s, app, t, now: workflow.set_priority(s, app, t, "P4", now, "alice", "not critical"))
    desk.advance(at("04:00"))
    assert desk.mails(PAGE, "status-paged", "escalation") == [("02:00", PAGE, "alice@example.com")]


def test_confirming_it_as_p1_makes_it_critical_from_then_on(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Critical: the dashboard", "Please look at the dashboard figures tonight.")
    desk.advance(at("02:05"))
    desk.clock.set(at("02:10"))
    desk.act(lambda s, app, t, now: workflow.set_priority(s, app, t, "P1", now, "alice", "confirmed"))
    desk.advance(at("02:16"))
    pages = desk.mails(PAGE)
    assert pages[0] == ("02:00", PAGE, "alice@example.com") and ("02:15", PAGE, "alice@example.com") in pages
    later = desk.message(PAGE, "alice@example.com", index=1)
    assert "PAGE P1 after hours" in str(later["Subject"])  # settled: no longer a triage page
    desk.act(lambda s, app, t, now: acknowledge(s, app, t, "alice", now))
    desk.advance(at("02:40"))
    assert max(desk.mails(PAGE))[0] == "02:15"


def test_in_business_hours_nobody_is_paged(tmp_path: Path) -> None:
    desk = flagging(Desk(tmp_path / "desk.sqlite3", MONDAY_10AM, tmp_path))
    desk.mail("Ops <ops@acme.example>", "Critical: the dashboard", "Please look at the dashboard figures tonight.")
    desk.advance(at("11:00", MONDAY_10AM))
    assert desk.mails(PAGE) == []
    assert desk.events("classified")[0].detail["triage"] is True


def test_one_page_per_round_and_ticket_across_wake_ups(desk: Desk) -> None:
    desk.mail("Ops <ops@acme.example>", "Critical: the dashboard", "Please look at the dashboard figures tonight.")
    for _ in range(3):
        desk.scheduler.run_due()
    assert desk.mails(PAGE) == [("02:00", PAGE, "alice@example.com")]


def test_explain_says_a_triage_page_would_go(desk: Desk) -> None:
    raw = customer_mail("Ops <ops@acme.example>", "Critical: the dashboard",
                        "Please look at the dashboard figures tonight.")
    data = explain(desk.app, raw, at=at("02:00"))
    assert data["triage"]["reason"] == WHY
    assert "paged for triage" in data["triage"]["page"]
    assert f"Triage:      {WHY}: the on-call would be paged for triage" in format_explanation(data)
    in_hours = explain(desk.app, raw, at=datetime.fromisoformat("2026-11-23T10:00:00+00:00"))
    assert in_hours["triage"]["page"].startswith("no page: it arrived in business hours")


# Acceptance: labelled-dev's mails sent by a designated contact of the shipped OPS-COM policy at
# 02:00 on a weekday (Tuesday 17 November 2026, Toronto time), through `helpdesk simulate`.
OPSCOM = ROOT / "examples" / "policies" / "opscom.toml"
LABELLED_DEV = SHARED / "labelled-dev"
TUESDAY_2AM = datetime(2026, 11, 17, 2, 0, tzinfo=ZoneInfo("America/Toronto"))
CONTACT = "Parking Office <parking@maple.example>"
_REPLACED = (b"from", b"sender", b"date", b"message-id", b"in-reply-to", b"references")


def resent(raw: bytes, message_id: str) -> bytes:
    """The mail as the designated contact sends it at 02:00: its own From, Date and Message-ID, and
    no threading headers (each mail opens its own ticket). Body and other headers stay as written."""
    cut = min((i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0), default=len(raw))
    kept: list[bytes] = []
    skipping = False
    for line in raw[:cut].splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.split(b":", 1)[0].strip().lower() in _REPLACED
        if not skipping:
            kept.append(line)
    head = (f"From: {CONTACT}\r\nDate: {format_datetime(TUESDAY_2AM)}\r\n"
            f"Message-ID: {message_id}\r\n").encode()
    return head + b"".join(kept) + raw[cut:]


def test_after_hours_every_p1_pages_the_on_call_and_few_minor_mails_do(
        tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    require((LABELLED_DEV / "labels.tsv").exists(), f"{LABELLED_DEV} is absent: no labelled mail to send")
    labels = {row["file"]: row["priority"] for row in read_labels(LABELLED_DEV)}
    chosen = sorted(name for name, p in labels.items() if p in ("P1", "P3", "P4"))
    events = []
    for name in chosen:
        (tmp_path / name).write_bytes(resent((LABELLED_DEV / name).read_bytes(), f"<{name}@maple.example>"))
        events.append(f'[[events]]\nat = "+0m"\nmail = {{ file = "{name}", from = "parking@maple.example" }}\n')
    scenario = tmp_path / "night.toml"
    scenario.write_text(f'config = "{OPSCOM}"\nstart = "{TUESDAY_2AM.isoformat()}"\nuntil = "+15m"\n\n'
                        + "\n".join(events), encoding="utf-8")
    done = subprocess.run([*HELPDESK, "simulate", str(scenario), "--json"], capture_output=True, text=True,
                          cwd=OUTSIDE, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    mail_of = {r["ticket"]: str(r["detail"].get("message_id", "")).strip("<>").partition("@")[0]
               for r in rows if r["type"] == "event" and r["kind"] == "ticket-opened"}
    paged = {mail_of.get(r["ticket"]) for r in rows if r["type"] == "mail" and r["kind"] == PAGE
             and datetime.fromisoformat(r["at"]) <= TUESDAY_2AM + timedelta(minutes=15)}
    p1 = [n for n in chosen if labels[n] == "P1"]
    minor = [n for n in chosen if labels[n] != "P1"]
    why = {mail_of.get(r["ticket"]): r["detail"].get("triage") or "classified P1"
           for r in rows if r["type"] == "event" and r["kind"] == "on-call-paged"}
    silent = [n for n in p1 if n not in paged]
    noisy = [f"{n} ({why.get(n)})" for n in minor if n in paged]
    record_property("p1_not_paged", f"{len(silent)} of {len(p1)}")
    record_property("p3_p4_paged", f"{len(noisy)} of {len(minor)}")
    assert not silent, f"{len(silent)} of {len(p1)} true P1s did not page within 15 minutes: {silent}"
    assert len(noisy) * 20 <= len(minor), f"{len(noisy)} of {len(minor)} P3/P4 mails paged: {noisy}"
