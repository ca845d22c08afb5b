"""A policy's own [[rules]] add to the shipped default rules, or replace them when it says so."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.app import build_app
from gateway.clock import FakeClock
from gateway.config import Config, load_config
from gateway.errors import ConfigError
from gateway.tools.rules_evaluate import folder_cases, summary
from rules import load_default_rule_tables
from tests.support import HELPDESK, OUTSIDE, ROOT, SHARED, require

NOON = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
BASE = '[gateway]\nsupport_address = "support@example.com"\n'
OWN = """
[[rules]]
name = "gates"
description = "Parking gates down: P1."
when = { words = ["gates are down"] }
then = { priority = "P1" }
"""
DEFAULTS = [t["name"] for t in load_default_rule_tables()]
POLICIES = sorted((ROOT / "examples" / "policies").glob("*.toml"))
LABELLED_DEV = SHARED / "labelled-dev"


def names(text: str) -> list[str]:
    return list(load_config(None, text=text).rules.names)


def test_without_rules_of_its_own_a_config_classifies_with_the_defaults() -> None:
    assert names(BASE) == DEFAULTS


def test_its_own_rules_come_first_then_the_defaults() -> None:
    assert names(BASE + OWN) == ["gates", *DEFAULTS]


def test_a_rule_named_like_a_default_takes_its_place() -> None:
    own = OWN.replace('"gates"', f'"{DEFAULTS[-1]}"')
    assert names(BASE + own) == [DEFAULTS[-1], *DEFAULTS[:-1]]
    assert names(BASE + OWN + own) == ["gates", DEFAULTS[-1], *DEFAULTS[:-1]]


def test_replace_keeps_its_own_rules_alone() -> None:
    assert names(BASE + '[rule_set]\nmode = "replace"\n' + OWN) == ["gates"]
    assert names(BASE + '[rule_set]\nmode = "add"\n' + OWN) == ["gates", *DEFAULTS]


def test_its_own_rule_can_stop_before_the_defaults_are_read() -> None:
    config = load_config(None, text=BASE + OWN.replace('priority = "P1"', 'priority = "P1", stop = true'))
    outcomes = evaluate(config, "Subject: gates\n\nThe gates are down and the system is down.\n")
    assert outcomes[0] == ("gates", True)
    assert all(not evaluated for _name, evaluated in outcomes[1:])


def evaluate(config: Config, text: str) -> list[tuple[str, bool]]:
    import parsers
    from rules import RuleContext
    mail = parsers.parse(("From: a@b.example\n" + text).encode(), received_at=FakeClock(NOON).now())
    result = config.rules.classify(mail, RuleContext(plan="standard", default_priority="P3"))
    return [(o.rule, o.evaluated) for o in result.outcomes]


@pytest.mark.parametrize(("text", "problem"), [
    (BASE + '[rule_set]\nmode = "merge"\n' + OWN,
     'rule_set.mode: \'merge\' is neither "add" nor "replace"; write mode = "add"'),
    (BASE + '[rule_set]\nmode = "replace"\n', 'rule_set.mode: "replace" but the config has no [[rules]]'),
    (BASE + '[rule_set]\nmood = "add"\n', "rule_set.mood: unknown key"),
    ('rule_set = "replace"\n' + BASE, "rule_set: must be a table"),
])
def test_mistakes_name_the_key_and_the_fix(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, text=text)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_check_config_reports_the_mode(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(BASE + f'data_dir = "{tmp_path}"\n[rule_set]\nmode = "both"\n' + OWN, encoding="utf-8")
    done = subprocess.run([*HELPDESK, "-c", str(config), "check-config"], capture_output=True, text=True,
                          cwd=OUTSIDE, timeout=120, check=False)
    assert done.returncode == 2
    assert "rule_set.mode: 'both' is neither" in done.stderr


def accuracy(text: str, tmp_path: Path) -> float:
    config = load_config(None, text=text)
    config = replace(config, gateway=replace(config.gateway, data_dir=tmp_path))
    result = summary(folder_cases(build_app(config, FakeClock(NOON)), LABELLED_DEV, None), "labelled-dev")
    assert isinstance(result["accuracy"], float)
    return result["accuracy"]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_each_example_policy_classifies_as_well_as_the_defaults_do(policy: Path, tmp_path: Path) -> None:
    require((LABELLED_DEV / "labels.tsv").exists(), f"{LABELLED_DEV} is absent: no labelled mail to measure")
    text = policy.read_text(encoding="utf-8")
    cut = text.index("\n[[rules]]\n")
    without = text[:cut]
    assert "[[rules]]" not in without and "\n[rule_set]" not in text  # its own rules are its last tables
    assert accuracy(text, tmp_path) >= accuracy(without, tmp_path)
