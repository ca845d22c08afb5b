"""The customer's declared severity: rules/declared.py."""

from __future__ import annotations

import pytest

from rules.declared import find_declared, opening_lines


@pytest.mark.parametrize(
    ("subject", "priority"),
    [
        ("P1", "P1"),
        ("P 1 - site down", "P1"),
        ("[P2] export slow", "P2"),
        ("Prio 1", "P1"),
        ("Prio1: login", "P1"),
        ("Priority: 3", "P3"),
        ("Priority P4 - question", "P4"),
        ("Sev 1", "P1"),
        ("Sev1 outage", "P1"),
        ("SEV-2 degraded", "P2"),
        ("Severity 1", "P1"),
        ("Severity Level 2 issue", "P2"),
        ("Sev 0", "P1"),  # counting from zero still means the most urgent
        ("critical", "P1"),
        ("URGENT!!!", "P1"),
        ("Urgent: invoice", "P1"),
        ("Priorität hoch", "P2"),
        ("Priorität: niedrig", "P4"),
        ("dringend - Server", "P1"),
        ("urgente", "P1"),
        ("priorité haute", "P2"),
        ("haute priorité : export", "P2"),
        ("Priority: High", "P2"),
        ("low priority question", "P4"),
        ("Schweregrad 2", "P2"),
    ],
)
def test_declarations_in_the_subject(subject: str, priority: str) -> None:
    declared = find_declared(subject, "")
    assert declared is not None, subject
    assert (declared.priority, declared.where) == (priority, "subject")


@pytest.mark.parametrize(
    "subject",
    [
        "not urgent, but the whole site is down?",
        "nicht dringend",
        "pas urgent",
        "No rush - question about invoices",
        "non-critical display issue",
        "step 1 of the P2P setup",
        "Help with HTTP2",
        "",
        # The negation may stand a few words off, or be written as people write it.
        "This isn't urgent, just a question.",
        "It's no longer urgent.",
        "Not that urgent.",
        "Not too urgent",
        "Nothing urgent, a question about reports.",
        "Not a P1, just a question.",
        "This is not a Sev 1.",
        "Es ist nicht mehr dringend.",
        "No es urgente.",
        "Ce n'est plus urgent",
        "kein P1",
    ],
)
def test_no_declaration(subject: str) -> None:
    assert find_declared(subject, "") is None


def test_negation_skips_to_a_later_real_declaration() -> None:
    declared = find_declared("not urgent for us, but Sev 2 for the team", "")
    assert declared is not None and declared.priority == "P2"


def test_body_opening_lines_count() -> None:
    declared = find_declared("Login problem", "Hello,\n\nSeverity: 2\nwe cannot ...")
    assert declared is not None
    assert (declared.priority, declared.text, declared.where) == ("P2", "Severity: 2", "body")


def test_body_beyond_the_opening_lines_does_not_count() -> None:
    body = "\n".join(f"line {i}" for i in range(10)) + "\nthis is urgent"
    assert find_declared("x", body) is None


def test_subject_wins_over_body() -> None:
    declared = find_declared("Sev 3", "P1 P1 P1")
    assert declared is not None and declared.priority == "P3"


def test_describe_names_the_words_and_place() -> None:
    declared = find_declared("x", "Prio 2 please")
    assert declared is not None
    assert declared.describe() == "P2 ('Prio 2' in body)"


def test_opening_lines_skip_blank_lines() -> None:
    assert opening_lines("\n\na\n\n b\nc\nd\ne\nf\n", count=3) == "a\n b\nc"
