"""The shipped default rules: loadable as TOML, compile alone, and read the seeds' definitions."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest

from parsers import Address, ParsedMail
from rules import (
    RuleContext,
    compile_rules,
    default_rules_path,
    default_rules_text,
    default_ruleset,
    load_default_rule_tables,
)


def make_mail(subject: str, text: str = "") -> ParsedMail:
    """A ParsedMail as the parser would produce it, without going through bytes."""
    return ParsedMail(
        message_id="<test@customer.example>",
        message_id_synthesised=False,
        in_reply_to=(),
        references=(),
        sender=Address("Alice", "alice@customer.example"),
        reply_to=(),
        to=(Address("Support", "support@example.com"),),
        cc=(),
        subject=subject,
        date=datetime(2025, 3, 14, 9, 0, tzinfo=UTC),
        date_fallback=False,
        text=text,
        reply_text=text,
        html=None,
        attachments=(),
        forwarded=(),
        headers=(("Subject", subject),),
        defects=(),
        has_tnef=False,
        body_hash="0" * 64,
        raw_size=len(text),
        content_type="text/plain",
    )


CTX = RuleContext(plan="standard", default_priority="P3")
DEFAULTS = default_ruleset()


def priority_of(subject: str, text: str = "") -> str:
    return DEFAULTS.classify(make_mail(subject, text), CTX).priority


def test_path_text_and_tables_agree() -> None:
    path = default_rules_path()
    assert path.name == "default_rules.toml" and path.is_file()
    assert path.read_text(encoding="utf-8") == default_rules_text()
    tables = load_default_rule_tables()
    assert tables == tomllib.loads(default_rules_text())["rules"]
    assert all(t["name"] and t["description"] for t in tables)


def test_defaults_compile_next_to_a_gateways_own_names() -> None:
    tables = [
        {"name": "vip", "when": {"vip": True}, "then": {"route": "vip-desk"}},
        *load_default_rule_tables(),
    ]
    ruleset = compile_rules(tables, organisations={"Acme"}, plans={"gold"}, groups={"vip-desk"}, contacts=set())
    assert ruleset.names[0] == "vip" and len(ruleset) == len(tables)


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        ("Website down", "", "P1"),
        ("", "Our shop went down at 9:00 and is still down.", "P1"),
        ("", "Total outage, no one can log in.", "P1"),
        ("Login", "Everyone gets locked out after the update.", "P1"),
        ("Datenverlust", "Alle Aufträge von gestern sind weg.", "P1"),
        ("Störung", "Totalausfall der Telefonie an allen Standorten.", "P1"),
        ("Urgence", "Panne générale : plus rien ne fonctionne.", "P1"),
        ("Account hacked", "Someone changed our admin password.", "P1"),
        ("Reports", "Reports fail for the whole team and there is no workaround.", "P1"),
        ("Slow", "The app is very slow today.", "P2"),
        ("", "Das System ist völlig überlastet.", "P2"),
        ("", "Le réseau est très lent depuis ce matin.", "P2"),
        ("Errors", "Some users get an error when saving.", "P2"),
        ("Calls", "Calls drop intermittently.", "P2"),
        ("Site down", "The site is down but we switched to the backup site as a workaround.", "P2"),
        ("Export", "The export does not work; we copy the data by hand as a workaround.", "P3"),
        ("Label", "Minor typo on the login page.", "P3"),
        ("", "L'export ne fonctionne plus.", "P3"),
        ("Question", "How do I add a user? When I scroll down I only see groups.", "P4"),
        ("Quote", "The price went down last year; can you send a quote?", "P4"),
        ("Feature request", "It would be nice to have a dark mode.", "P4"),
        ("Frage", "Wie kann ich die Rechnung herunterladen?", "P4"),
        ("Formation", "Pourriez-vous nous envoyer un devis pour une formation ?", "P4"),
        ("Download", "Where can I download the invoice?", "P4"),
    ],
)
def test_default_rules_read_the_severity_definitions(subject: str, text: str, expected: str) -> None:
    assert priority_of(subject, text) == expected


def test_a_workaround_keeps_an_outage_at_p2_and_asks_for_triage() -> None:
    # The seeds: P1 "there is no workaround". With one in use the business runs, badly:
    # a P2, which the on-call still looks at, because the evidence of an outage is there.
    result = DEFAULTS.classify(
        make_mail("Site down", "The site is down but we switched to the backup site as a workaround."), CTX
    )
    assert (result.priority, result.triage) == ("P2", True)
    assert result.triage_reason is not None and "workaround" in result.triage_reason


def test_the_defaults_are_one_rule_that_asks_for_the_impact_reading() -> None:
    assert DEFAULTS.names == ("read-impact",)
    rule = next(iter(DEFAULTS))
    assert rule.actions.assess and not rule.conditions


def test_not_urgent_but_down_is_still_an_outage() -> None:
    result = DEFAULTS.classify(make_mail("not urgent, but", "the whole site is down for everyone?"), CTX)
    assert result.priority == "P1"
    assert result.declared_priority is None  # "not urgent" declares nothing


def test_no_workaround_is_not_a_workaround() -> None:
    assert priority_of("Payments failing", "Card payments fail. There is no workaround.") == "P1"
    assert priority_of("Export", "Kein Workaround möglich, die Produktion steht.") == "P1"


def test_critical_and_urgent_are_declarations_not_rules() -> None:
    result = DEFAULTS.classify(make_mail("CRITICAL", "typo in the footer"), CTX)
    assert (result.priority, result.declared_priority) == ("P3", "P1")
