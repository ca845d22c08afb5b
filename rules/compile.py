"""compile_rules: rule tables from TOML -> a RuleSet, refusing anything that cannot work."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from rules.actions import Actions
from rules.condition import Condition
from rules.context_conditions import FLAGS, DeclaredPriority, Flag, Organisation, Plan
from rules.engine import Rule, RuleSet
from rules.mail_conditions import HasAttachment, Header, HeaderTest, Sender, SenderDomain
from rules.near import Near, NearTest
from rules.priority import more_urgent
from rules.schema import (
    Problem,
    did_you_mean,
    read_bool,
    read_header_tests,
    read_known,
    read_near_tables,
    read_priorities,
    read_priority,
    read_regex,
    read_strings,
    read_words,
)
from rules.text_conditions import NotWords, Regex, Words
from rules.words import WordMatcher, normalise


class RuleConfigError(ValueError):
    """The rule tables are wrong. ``problems`` has one line per problem, each naming the
    rule, the key and the fix; the message is those lines joined."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class Known:
    """The names in config that rules may refer to."""

    organisations: frozenset[str]
    plans: frozenset[str]
    groups: frozenset[str]
    contacts: frozenset[str]


Builder = Callable[[object, str, Known], Condition]


def _words(key: str) -> Builder:
    return lambda value, path, known: Words(key, read_words(value, path))


def _flag(key: str) -> Builder:
    return lambda value, path, known: Flag(key, read_bool(value, path))


CONDITIONS: dict[str, Builder] = {
    "words": _words("words"),
    "subject_words": _words("subject_words"),
    "body_words": _words("body_words"),
    "not_words": lambda v, p, k: NotWords(read_words(v, p)),
    "regex": lambda v, p, k: Regex(
        [read_regex(x, p, Regex.FLAGS) for x in read_strings(v, p, what="a pattern", example="regex = '^ERROR'")]
    ),
    "sender": lambda v, p, k: Sender(
        read_strings(v, p, what="an address pattern", example='sender = ["*@example.com"]')
    ),
    "sender_domain": lambda v, p, k: SenderDomain(
        read_strings(v, p, what="a domain", example='sender_domain = ["example.com"]')
    ),
    "organisation": lambda v, p, k: Organisation(
        read_known(v, p, k.organisations, what="organisation", section="the organisations")
    ),
    "plan": lambda v, p, k: Plan(read_known(v, p, k.plans, what="plan", section="the plans")),
    "header": lambda v, p, k: Header([HeaderTest(n, pat) for n, pat in read_header_tests(v, p, Regex.FLAGS)]),
    "near": lambda v, p, k: Near(
        [NearTest(WordMatcher(first), WordMatcher(second), within) for first, second, within in read_near_tables(v, p)]
    ),
    "has_attachment": lambda v, p, k: HasAttachment(read_bool(v, p)),
    "declared_priority": lambda v, p, k: DeclaredPriority(read_priorities(v, p)),
    **{key: _flag(key) for key in FLAGS},
}
ACTIONS = ("priority", "cap", "tags", "route", "notify", "stop", "assess", "incident")
RULE_KEYS = ("name", "description", "when", "then")


def _read_actions(then: dict[str, Any], known: Known) -> Actions:
    for key in then:
        if key not in ACTIONS:
            raise Problem(
                f"then.{key}",
                f"unknown action{did_you_mean(key, ACTIONS)}",
                f"use one of {', '.join(ACTIONS)}",
            )
    if not then:
        raise Problem(
            "then",
            "is empty: the rule would do nothing",
            'give at least one action, e.g. then = { priority = "P2" }',
        )
    priority = read_priority(then["priority"], "then.priority") if "priority" in then else None
    cap = read_priority(then["cap"], "then.cap") if "cap" in then else None
    if priority is not None and cap is not None and more_urgent(priority, cap):
        raise Problem("then.cap", f"caps the rule's own priority {priority} at {cap}", "remove one of priority and cap")
    tags = read_strings(then["tags"], "then.tags", what="a tag", example='tags = ["outage"]') if "tags" in then else []
    route = None
    if "route" in then:
        if not isinstance(then["route"], str):
            raise Problem("then.route", f"{then['route']!r} is not one group name", 'write route = "tier2"')
        route = read_known(then["route"], "then.route", known.groups, what="group", section="the groups")[0]
    notify = (
        read_known(then["notify"], "then.notify", known.contacts, what="contact", section="the contacts")
        if "notify" in then
        else []
    )
    stop = read_bool(then["stop"], "then.stop") if "stop" in then else False
    assess = read_bool(then["assess"], "then.assess") if "assess" in then else False
    if assess and priority is not None:
        raise Problem("then.assess", "and then.priority both set the priority", "remove one of assess and priority")
    return Actions(priority, cap, tuple(dict.fromkeys(tags)), route, tuple(dict.fromkeys(notify)), stop, assess,
                   _read_incident(then))


def _read_incident(then: dict[str, Any]) -> str | None:
    """``incident = "Voice platform outage"``: the title of the open incident a new ticket joins."""
    if "incident" not in then:
        return None
    value = then["incident"]
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 200:
        raise Problem("then.incident", f"{value!r} is not an incident's title",
                      'write incident = "Voice platform outage" (the title it was opened with)')
    return " ".join(value.split())


def _check_satisfiable(when: dict[str, Any]) -> None:
    """Refuse ``words`` that are all listed in ``not_words`` too: such a rule never matches."""
    if "not_words" not in when:
        return
    excluded = {normalise(w) for w in when["not_words"]}
    for key in ("words", "subject_words", "body_words"):
        if key in when and {normalise(w) for w in when[key]} <= excluded:
            raise Problem(
                f"when.{key}",
                "every word is also in not_words, so the rule never matches",
                f"remove them from {key} or from not_words",
            )


def _read_conditions(when: dict[str, Any], known: Known, problems: list[Problem]) -> list[Condition]:
    conditions: list[Condition] = []
    for key, value in when.items():
        builder = CONDITIONS.get(key)
        try:
            if builder is None:
                raise Problem(
                    f"when.{key}",
                    f"unknown condition{did_you_mean(key, CONDITIONS)}",
                    f"use one of {', '.join(sorted(CONDITIONS))}",
                )
            conditions.append(builder(value, f"when.{key}", known))
        except Problem as problem:
            problems.append(problem)
    if not problems:
        try:
            _check_satisfiable(when)
        except Problem as problem:
            problems.append(problem)
    # Cheapest first: the verdict is the same (all must hold), the misses are cheaper.
    conditions.sort(key=lambda c: c.cost)
    return conditions


def _compile_one(table: object, known: Known) -> Rule | list[Problem]:
    """The compiled rule, or every problem found in it."""
    if not isinstance(table, dict):
        return [Problem("rule", f"{table!r} is not a table", "write each rule as [[rules]] with name, when and then")]
    problems: list[Problem] = []
    for key in table:
        if key not in RULE_KEYS:
            hint = " (conditions go under [rules.when])" if key in CONDITIONS else ""
            hint = hint or (" (actions go under [rules.then])" if key in ACTIONS else "")
            problems.append(
                Problem(
                    key,
                    f"unknown rule key{did_you_mean(key, RULE_KEYS)}{hint}",
                    f"a rule has only {', '.join(RULE_KEYS)}",
                )
            )
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem("name", "is missing or empty", 'give the rule a name = "short-name"'))
    description = table.get("description", "")
    if not isinstance(description, str):
        problems.append(Problem("description", "is not a string", 'write description = "..."'))
    when = table.get("when", {})
    conditions: list[Condition] = []
    if isinstance(when, dict):
        conditions = _read_conditions(when, known, problems)
    else:
        problems.append(Problem("when", "is not a table", "write [rules.when] with its conditions"))
    then = table.get("then")
    actions = Actions()
    if isinstance(then, dict):
        try:
            actions = _read_actions(then, known)
        except Problem as problem:
            problems.append(problem)
    else:
        problems.append(Problem("then", "is missing or not a table", "write [rules.then] with its actions"))
    if problems or not isinstance(name, str) or not isinstance(description, str):
        return problems
    return Rule(name.strip(), description.strip(), tuple(conditions), actions)


def _label(index: int, table: object) -> str:
    name = table.get("name") if isinstance(table, dict) else None
    if isinstance(name, str) and name.strip():
        return f"rule {name.strip()!r} (rules[{index}])"
    return f"rules[{index}] (no name)"


def compile_rules(
    tables: list[dict[str, Any]],
    *,
    organisations: Collection[str],
    plans: Collection[str],
    groups: Collection[str],
    contacts: Collection[str],
) -> RuleSet:
    """Check and compile rule tables, in order, into a RuleSet.

    All problems are collected before raising, so ``check-config`` can show each on its
    own line. Raises RuleConfigError.
    """
    known = Known(frozenset(organisations), frozenset(plans), frozenset(groups), frozenset(contacts))
    if not isinstance(tables, list):
        raise RuleConfigError([f"rules: {tables!r} is not a list. Fix: write each rule as [[rules]]"])
    problems: list[str] = []
    compiled: list[Rule] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        label = _label(index, table)
        rule = _compile_one(table, known)
        if isinstance(rule, list):
            problems.extend(f"{label}: {p.key}: {p.message}. Fix: {p.fix}." for p in rule)
            continue
        if rule.name in seen:
            problems.append(
                f"{label}: name: {rule.name!r} is already used by rules[{seen[rule.name]}]. "
                "Fix: give every rule its own name, so each decision can be explained."
            )
            continue
        seen[rule.name] = index
        compiled.append(rule)
    if problems:
        raise RuleConfigError(problems)
    return RuleSet(compiled)
