"""The shipped default rules against hand-labelled support mails (tests/data/labelled)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

import parsers
import rules
from rules import PRIORITIES, Classification, RuleContext

LABELLED = Path(__file__).parent / "data" / "labelled"
RECEIVED = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
MIN_ACCURACY = 0.90


def _labels() -> list[tuple[str, str, str]]:
    with (LABELLED / "labels.tsv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        return [(row["filename"], row["priority"], row["why"]) for row in reader]


@cache
def _ruleset() -> rules.RuleSet:
    return rules.default_ruleset()


def _classify(name: str) -> Classification:
    mail = parsers.parse((LABELLED / name).read_bytes(), received_at=RECEIVED)
    # What the gateway would know for an unknown organisation on a plan whose default is
    # P3 and whose customers' declared severities are not trusted. A mail with
    # In-Reply-To is threaded to its ticket, so it is a reply; its current priority is not
    # known here, so no floor applies and the mail is judged on its own words.
    ctx = RuleContext(
        plan="standard",
        default_priority="P3",
        declared_priority_trusted=False,
        is_reply=bool(mail.in_reply_to),
    )
    return _ruleset().classify(mail, ctx)


def confusion_matrix(pairs: list[tuple[str, str]]) -> str:
    """Rows are the true priority, columns the predicted one."""
    header = "true\\pred " + " ".join(f"{p:>4}" for p in PRIORITIES) + "   n"
    lines = [header]
    for true in PRIORITIES:
        counts = [sum(1 for t, p in pairs if t == true and p == pred) for pred in PRIORITIES]
        lines.append(f"{true:<10}" + " ".join(f"{c:>4}" for c in counts) + f" {sum(counts):>3}")
    return "\n".join(lines)


def test_labelled_set_is_big_and_complete() -> None:
    labels = _labels()
    names = {name for name, _, _ in labels}
    files = {p.name for p in LABELLED.glob("*.eml")}
    assert len(labels) >= 80
    assert names == files, f"unlabelled: {files - names}, missing: {names - files}"
    assert {priority for _, priority, _ in labels} == set(PRIORITIES)


def test_default_rules_accuracy(record_property: Callable[[str, object], None]) -> None:
    labels = _labels()
    pairs: list[tuple[str, str]] = []
    wrong: list[str] = []
    for name, truth, why in labels:
        result = _classify(name)
        pairs.append((truth, result.priority))
        if result.priority != truth:
            hits = ", ".join(result.matched_rules) or "no rule"
            wrong.append(f"  {name}: true {truth}, got {result.priority} ({hits}) -- {why}")
    correct = sum(1 for truth, predicted in pairs if truth == predicted)
    accuracy = correct / len(pairs)
    matrix = confusion_matrix(pairs)
    report = (
        f"default rules on {len(pairs)} labelled mails: accuracy {accuracy:.1%} "
        f"({correct}/{len(pairs)})\n{matrix}\nmisclassified:\n" + "\n".join(wrong)
    )
    print("\n" + report)
    record_property("accuracy", f"{accuracy:.4f}")
    record_property("confusion_matrix", matrix)
    record_property("misclassified", "\n".join(wrong))
    under_prioritised_p1 = [
        (name, result)
        for (name, truth, _), (_, result) in zip(labels, pairs, strict=True)
        if truth == "P1" and result in ("P3", "P4")
    ]
    assert not under_prioritised_p1, f"true P1 classified below P2: {under_prioritised_p1}\n{report}"
    assert accuracy >= MIN_ACCURACY, report


@pytest.mark.parametrize("name", [n for n, p, _ in _labels() if p == "P1"])
def test_no_true_p1_below_p2(name: str) -> None:
    result = _classify(name)
    assert result.priority in ("P1", "P2"), "\n".join(result.explanation())
