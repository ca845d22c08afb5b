"""After-hours triage: a mail the rules flag as possibly critical pages the on-call, who settles it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from gateway import workflow
from gateway.escalation.ack import acknowledge
from gateway.explain import explain, format_explanation
from gateway.sla.scheduler import SlaScheduler
from parsers import ParsedMail
from rules import Classification, RuleContext, RuleSet
from tests.support import customer_mail
from tests.test_escalation import MONDAY_10AM, Desk, at

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
