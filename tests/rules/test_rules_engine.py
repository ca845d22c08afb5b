"""How rule hits add up: priority, cap, stop, declared severity, reply floor, explanations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers import Address, ParsedMail
from rules import (
    PRIORITIES,
    Classification,
    RuleContext,
    RuleOutcome,
    RuleSet,
    classify,
    compile_rules,
)

KNOWN: dict[str, set[str]] = {
    "organisations": {"Acme"},
    "plans": {"basic", "gold"},
    "groups": {"tier1", "tier2", "security"},
    "contacts": {"duty-manager", "ciso"},
}


def make_mail(subject: str = "", text: str = "", *, reply_text: str | None = None) -> ParsedMail:
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
        reply_text=text if reply_text is None else reply_text,
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


def ctx(**overrides: Any) -> RuleContext:
    values: dict[str, Any] = {"plan": "basic", "default_priority": "P3"}
    values.update(overrides)
    return RuleContext(**values)


def rule(name: str, words: list[str], **then: Any) -> dict[str, Any]:
    return {"name": name, "when": {"words": words}, "then": then}


def ruleset(*tables: dict[str, Any]) -> RuleSet:
    return compile_rules(list(tables), **KNOWN)


RULES = ruleset(
    rule("outage", ["outage", "down"], priority="P1", tags=["outage"], notify=["duty-manager"]),
    rule("slow", ["slow"], priority="P2", tags=["performance"], route="tier2"),
    rule("question", ["how do i"], priority="P4", tags=["question"], route="tier1"),
    rule("workaround", ["workaround"], cap="P3", tags=["workaround"]),
    rule("security", ["hacked"], priority="P1", route="security", notify=["ciso", "duty-manager"]),
)


# ---------------------------------------------------------------- priority


def test_default_priority_when_no_rule_sets_one() -> None:
    result = RULES.classify(make_mail("hello", "thanks"), ctx(default_priority="P4"))
    assert result.priority == "P4"
    assert result.priority_trail == ("P4: no rule set a priority; default of plan 'basic'",)


def test_most_urgent_matched_priority_wins_regardless_of_order() -> None:
    result = RULES.classify(make_mail("how do I fix this? it is slow, now down"), ctx())
    assert result.priority == "P1"
    assert result.matched_rules == ("outage", "slow", "question")
    assert result.priority_trail[0] == "P1: most urgent priority of the matched rules (rule 'outage')"


def test_cap_limits_the_priority() -> None:
    result = RULES.classify(make_mail("site down", "but we have a workaround"), ctx())
    assert result.priority == "P3"
    assert result.priority_trail[1] == "P3: capped at P3 by rule 'workaround'"


def test_cap_does_not_raise_a_less_urgent_priority() -> None:
    result = RULES.classify(make_mail("how do I", "use the workaround?"), ctx())
    assert result.priority == "P4"


def test_tags_and_notify_accumulate_in_order_without_duplicates_first_route_wins() -> None:
    result = RULES.classify(make_mail("down and slow, hacked"), ctx())
    assert result.tags == ("outage", "performance")
    assert result.notify == ("duty-manager", "ciso")
    assert result.route == "tier2"


# ---------------------------------------------------------------- stop


def test_stop_skips_later_rules_and_records_them() -> None:
    rules = ruleset(
        rule("vip", ["down"], priority="P2", route="tier2", stop=True),
        rule("outage", ["down"], priority="P1"),
        rule("tag", ["down"], tags=["never"]),
    )
    result = rules.classify(make_mail("down"), ctx())
    assert result.priority == "P2"
    assert result.tags == ()
    assert [o.rule for o in result.outcomes] == ["vip", "outage", "tag"]
    assert result.outcomes[1] == RuleOutcome(
        "outage", False, "not evaluated: rule 'vip' stopped evaluation", evaluated=False
    )
    assert result.outcomes[2].evaluated is False


def test_stop_only_when_the_rule_matches() -> None:
    rules = ruleset(rule("a", ["x"], stop=True), rule("b", ["down"], priority="P1"))
    assert rules.classify(make_mail("down"), ctx()).priority == "P1"


def test_every_rule_has_an_outcome() -> None:
    result = RULES.classify(make_mail("slow"), ctx())
    assert [o.rule for o in result.outcomes] == list(RULES.names)
    assert all(o.reason for o in result.outcomes)
    assert [o.matched for o in result.outcomes] == [False, True, False, False, False]


# ---------------------------------------------------------------- declared severity


def test_untrusted_declaration_is_recorded_only() -> None:
    result = RULES.classify(make_mail("Sev 1: how do I export?"), ctx())
    assert result.priority == "P4"
    assert result.declared_priority == "P1"
    assert result.priority_trail[-1] == (
        "the customer declared P1 ('Sev 1' in subject); not trusted on plan 'basic', recorded only"
    )


def test_trusted_declaration_decides_both_ways() -> None:
    trusted = ctx(plan="gold", declared_priority_trusted=True)
    raised = RULES.classify(make_mail("Sev 1: how do I export?"), trusted)
    assert raised.priority == "P1"
    lowered = RULES.classify(make_mail("P3 - site down in staging"), trusted)
    assert lowered.priority == "P3"
    assert lowered.priority_trail == (
        "P3: the customer declared P3 ('P3' in subject), trusted on plan 'gold'",
        "rules proposed P1 (rule 'outage'); the trusted declaration wins",
    )


def test_without_a_declaration_trust_changes_nothing() -> None:
    result = RULES.classify(make_mail("slow"), ctx(declared_priority_trusted=True))
    assert (result.priority, result.declared_priority) == ("P2", None)


@pytest.mark.parametrize(
    ("words", "declared"),
    [
        ("P1", "P1"),
        ("P 1", "P1"),
        ("Prio 1", "P1"),
        ("Sev 1", "P1"),
        ("Severity 1", "P1"),
        ("Sev1", "P1"),
        ("critical", "P1"),
        ("urgent", "P1"),
        ("Priorität hoch", "P2"),
        ("dringend", "P1"),
        ("urgente", "P1"),
        ("priorité haute", "P2"),
    ],
)
def test_declared_forms(words: str, declared: str) -> None:
    in_subject = RULES.classify(make_mail(f"{words}: help"), ctx())
    in_body = RULES.classify(make_mail("help", f"Hello,\n{words}\nthe portal..."), ctx())
    assert in_subject.declared_priority == in_body.declared_priority == declared


# ---------------------------------------------------------------- replies


def test_reply_never_lowers_the_ticket_priority() -> None:
    reply = make_mail("Re: [#1] x", "how do I clear the cache?")
    result = RULES.classify(reply, ctx(is_reply=True, current_priority="P1"))
    assert result.priority == "P1"
    assert result.priority_trail[-1] == (
        "P1: a reply on a P1 ticket keeps P1 (a reply may raise the priority, never lower it; P4 ignored)"
    )


def test_reply_may_raise() -> None:
    reply = make_mail("Re: [#1] slow", "now it is completely down", reply_text="now it is down")
    result = RULES.classify(reply, ctx(is_reply=True, current_priority="P2"))
    assert result.priority == "P1"


def test_reply_without_a_matching_rule_keeps_the_ticket_priority() -> None:
    # The plan default (P3) must not raise a P4 question because the customer said thanks.
    reply = make_mail("Re: [#1] question", "thanks!")
    result = RULES.classify(reply, ctx(is_reply=True, current_priority="P4"))
    assert result.priority == "P4"
    assert result.priority_trail == ("P4: no rule set a priority; the ticket keeps its priority",)


def test_trusted_declaration_on_a_reply_cannot_lower_either() -> None:
    reply = make_mail("Re: x", "P4 now, thanks")
    trusted = ctx(is_reply=True, current_priority="P2", declared_priority_trusted=True)
    assert RULES.classify(reply, trusted).priority == "P2"


def test_reply_subject_and_quoted_history_do_not_trigger() -> None:
    reply = make_mail("Re: [#1] site down", "all good\n> it is down", reply_text="all good")
    result = RULES.classify(reply, ctx(is_reply=True, current_priority="P3"))
    assert result.priority == "P3"
    assert result.matched_rules == ()


@given(
    current=st.sampled_from(PRIORITIES),
    default=st.sampled_from(PRIORITIES),
    body=st.sampled_from(["down", "slow", "how do I", "workaround down", "Sev 4", "thanks", ""]),
    trusted=st.booleans(),
)
def test_property_a_reply_is_never_less_urgent_than_the_ticket(
    current: str, default: str, body: str, trusted: bool
) -> None:
    context = ctx(
        is_reply=True,
        current_priority=current,
        default_priority=default,
        declared_priority_trusted=trusted,
    )
    result = RULES.classify(make_mail("Re: x", body), context)
    assert PRIORITIES.index(result.priority) <= PRIORITIES.index(current)


@given(subject=st.text(max_size=80), body=st.text(max_size=400))
def test_property_any_text_classifies(subject: str, body: str) -> None:
    result = RULES.classify(make_mail(subject, body), ctx())
    assert result.priority in PRIORITIES
    assert len(result.outcomes) == len(RULES)


# ---------------------------------------------------------------- context and results


def test_context_validates_priorities() -> None:
    with pytest.raises(ValueError, match="default_priority"):
        ctx(default_priority="high")
    with pytest.raises(ValueError, match="current_priority"):
        ctx(current_priority="P0")


def test_top_level_classify() -> None:
    assert classify(make_mail("down"), ctx(), RULES) == RULES.classify(make_mail("down"), ctx())


def test_explanation_lines() -> None:
    result = RULES.classify(make_mail("Sev 2: site down", "we have a workaround"), ctx())
    assert result.explanation() == [
        "priority P3",
        "  P1: most urgent priority of the matched rules (rule 'outage')",
        "  P3: capped at P3 by rule 'workaround'",
        "  the customer declared P2 ('Sev 2' in subject); not trusted on plan 'basic', recorded only",
        "tags: outage, workaround",
        "notify: duty-manager",
        "rules:",
        "  hit  outage: words: 'down' in subject",
        "  miss slow: words: none of 'slow' in subject or body",
        "  miss question: words: none of 'how do i' in subject or body",
        "  hit  workaround: words: 'workaround' in body",
        "  miss security: words: none of 'hacked' in subject or body",
    ]


def test_as_dict_is_plain_data() -> None:
    data = RULES.classify(make_mail("slow"), ctx()).as_dict()
    assert data["priority"] == "P2"
    assert data["route"] == "tier2"
    outcomes = data["outcomes"]
    assert isinstance(outcomes, list)
    assert outcomes[1] == {"rule": "slow", "matched": True, "evaluated": True, "reason": "words: 'slow' in subject"}


def test_classification_is_frozen() -> None:
    result = RULES.classify(make_mail("slow"), ctx())
    assert isinstance(result, Classification)
    with pytest.raises(AttributeError):
        result.priority = "P1"  # type: ignore[misc]
