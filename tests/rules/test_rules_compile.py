"""compile_rules refuses rule tables that cannot work, naming the rule, the key and the fix."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from rules import RuleConfigError, compile_rules

KNOWN: dict[str, set[str]] = {
    "organisations": {"Acme", "Globex"},
    "plans": {"basic", "gold"},
    "groups": {"tier1", "tier2"},
    "contacts": {"duty-manager"},
}


def compile_one(when: dict[str, Any] | None = None, **rule: Any) -> None:
    table: dict[str, Any] = {"name": "outage", "then": {"priority": "P1"}}
    if when is not None:
        table["when"] = when
    table.update(rule)
    compile_rules([table], **KNOWN)


def error_of(when: dict[str, Any] | None = None, **rule: Any) -> str:
    with pytest.raises(RuleConfigError) as caught:
        compile_one(when, **rule)
    return str(caught.value)


def test_error_is_a_value_error() -> None:
    assert issubclass(RuleConfigError, ValueError)


def test_bad_regex_names_rule_key_position_and_fix() -> None:
    message = error_of({"regex": ["ok", "(unclosed"]})
    assert message.startswith("rule 'outage' (rules[0]): when.regex: bad regular expression")
    assert "'(unclosed'" in message and "position 0" in message
    assert "Fix:" in message


def test_bad_header_pattern() -> None:
    message = error_of({"header": {"name": "X-Priority", "pattern": "[1"}})
    assert "rule 'outage' (rules[0]): when.header.pattern: bad regular expression" in message


def test_unknown_condition_suggests_the_right_key() -> None:
    message = error_of({"word": ["down"]})
    assert "when.word: unknown condition (did you mean 'words'?)" in message
    assert "Fix: use one of" in message


def test_condition_written_outside_when() -> None:
    message = error_of(words=["down"])
    assert "words: unknown rule key" in message and "conditions go under [rules.when]" in message


def test_unknown_organisation_is_refused() -> None:
    message = error_of({"organisation": "Acme Ltd"})
    assert "rule 'outage' (rules[0]): when.organisation: unknown organisation 'Acme Ltd'" in message
    assert "did you mean 'Acme'?" in message
    assert "'Acme', 'Globex'" in message  # the names it knows


def test_unknown_plan_group_contact() -> None:
    assert "unknown plan 'platinum'" in error_of({"plan": ["gold", "platinum"]})
    assert "then.route: unknown group 'tier3'" in error_of(then={"route": "tier3"})
    assert "then.notify: unknown contact 'cto'" in error_of(then={"notify": ["cto"]})


@pytest.mark.parametrize("value", ["P5", "high", 1, "", None])
def test_bad_priority(value: object) -> None:
    message = error_of(then={"priority": value})
    assert "then.priority:" in message and "is not a priority" in message
    assert "'P1', 'P2', 'P3', 'P4'" in message


def test_priority_is_normalised() -> None:
    compile_one(then={"priority": " p2 "})


def test_bad_declared_priority() -> None:
    assert "when.declared_priority: 'Sev1' is not a priority" in error_of({"declared_priority": ["P1", "Sev1"]})


def test_missing_name_is_reported_by_index() -> None:
    with pytest.raises(RuleConfigError) as caught:
        compile_rules([{"name": "ok", "then": {"priority": "P1"}}, {"then": {"priority": "P2"}}], **KNOWN)
    assert str(caught.value).startswith("rules[1] (no name): name: is missing or empty")


def test_duplicate_names() -> None:
    table = {"name": "same", "then": {"priority": "P1"}}
    with pytest.raises(RuleConfigError, match=r"rules\[1\]\): name: 'same' is already used by rules\[0\]"):
        compile_rules([table, dict(table)], **KNOWN)


def test_words_must_be_a_list() -> None:
    message = error_of({"words": "down, outage"})
    assert "when.words: must be a non-empty list" in message
    assert 'words = ["outage", "down for everyone"]' in message


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"words": []}, "when.words: must be a non-empty list"),
        ({"words": ["do*wn"]}, "'*' inside a word"),
        ({"vip": "yes"}, "when.vip: 'yes' is not true or false"),
        ({"sender": []}, "when.sender: must be"),
        ({"regex": ""}, "when.regex: '' is not a non-empty string"),
        ({"header": {"name": "X-A", "pattern": ""}}, "the empty pattern matches every mail"),
        ({"header": {"pattern": "x"}}, "when.header: name None is not a header name"),
        ({"header": {"name": "X-A", "regex": "x"}}, "when.header: unknown key 'regex'"),
        ({"words": ["down"], "not_words": ["DOWN", "slow"]}, "never matches"),
    ],
)
def test_bad_condition_values(when: dict[str, Any], expected: str) -> None:
    assert expected in error_of(when)


@pytest.mark.parametrize(
    ("then", "expected"),
    [
        ({}, "then: is empty"),
        ({"prio": "P1"}, "then.prio: unknown action (did you mean 'priority'?)"),
        ({"stop": 1}, "then.stop: 1 is not true or false"),
        ({"priority": "P1", "cap": "P3"}, "then.cap: caps the rule's own priority P1 at P3"),
        ({"route": ["tier1"]}, "then.route: ['tier1'] is not one group name"),
        ({"tags": [""]}, "then.tags:"),
    ],
)
def test_bad_actions(then: dict[str, Any], expected: str) -> None:
    assert expected in error_of(then=then)


def test_missing_then() -> None:
    with pytest.raises(RuleConfigError, match="then: is missing or not a table"):
        compile_rules([{"name": "x", "when": {"vip": True}}], **KNOWN)


def test_every_problem_is_reported_on_its_own_line() -> None:
    tables: list[dict[str, Any]] = [
        {"name": "a", "when": {"regex": "(", "plan": "nope"}, "then": {"priority": "P9"}},
        {"name": "b", "when": {"vip": True}, "then": {"route": "tier1"}},
        "not a table",  # type: ignore[list-item]
    ]
    with pytest.raises(RuleConfigError) as caught:
        compile_rules(tables, **KNOWN)
    problems = caught.value.problems
    assert len(problems) == 4
    assert all(p.startswith("rule 'a' (rules[0]): ") for p in problems[:3])
    assert problems[3].startswith("rules[2] (no name): rule: 'not a table' is not a table")
    assert str(caught.value) == "\n".join(problems)


def test_tables_must_be_a_list() -> None:
    with pytest.raises(RuleConfigError, match="is not a list"):
        compile_rules({"name": "x"}, **KNOWN)  # type: ignore[arg-type]


def test_compiles_the_documented_toml_shape() -> None:
    config = tomllib.loads(
        """
        [[rules]]
        name = "vip-outage"
        description = "A VIP of Acme reports an outage"
        [rules.when]
        words = ["outage", "Störung"]
        not_words = ["workaround"]
        regex = ['(?i)error\\s+5\\d\\d']
        sender = ["*@acme.example"]
        sender_domain = "acme.example"
        organisation = "Acme"
        plan = ["gold"]
        vip = true
        header = { name = "X-Priority", pattern = "^1" }
        has_attachment = false
        after_hours = true
        declared_priority = ["P1", "P2"]
        is_reply = false
        [rules.then]
        priority = "P1"
        tags = ["vip", "outage"]
        route = "tier2"
        notify = ["duty-manager"]
        stop = true
        """
    )
    ruleset = compile_rules(config["rules"], **KNOWN)
    assert ruleset.names == ("vip-outage",)
    rule = ruleset.rules[0]
    assert len(rule.conditions) == 13
    assert [c.cost for c in rule.conditions] == sorted(c.cost for c in rule.conditions)
    assert rule.actions.describe() == ("priority P1; tags vip, outage; route to tier2; notify duty-manager; stop")


@pytest.mark.parametrize(
    ("near", "expected"),
    [
        ({"words": ["a"]}, "when.near: followed_by is missing"),
        ({"words": ["a"], "followed_by": "b"}, "when.near.followed_by: must be a non-empty list"),
        ({"words": ["a"], "followed_by": ["b"], "within": -1}, "when.near.within: -1 is not"),
        ({"words": ["a"], "followed_by": ["b"], "within": True}, "when.near.within: True is not"),
        ({"words": ["a"], "followed_by": ["b"], "near": 3}, "unknown key 'near'"),
        ({"word": ["a"], "followed_by": ["b"]}, "unknown key 'word' (did you mean 'words'?)"),
        ([], "when.near: is an empty list"),
    ],
)
def test_bad_near(near: object, expected: str) -> None:
    assert expected in error_of({"near": near})
