"""Each condition on its own, compiled from the TOML shape the gateway passes in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from parsers import Address, Attachment, ForwardedMessage, ParsedMail
from rules import RuleContext, RuleSet, compile_rules

ORGS = {"Acme", "Globex"}
PLANS = {"basic", "gold"}
GROUPS = {"tier1", "tier2"}
CONTACTS = {"duty-manager", "account-manager"}


def make_mail(
    subject: str = "",
    text: str = "",
    *,
    reply_text: str | None = None,
    sender: str | None = "alice@customer.example",
    headers: tuple[tuple[str, str], ...] = (),
    attachments: tuple[Attachment, ...] = (),
    forwarded: tuple[ForwardedMessage, ...] = (),
) -> ParsedMail:
    """A ParsedMail as the parser would produce it, without going through bytes."""
    return ParsedMail(
        message_id="<test@customer.example>",
        message_id_synthesised=False,
        in_reply_to=(),
        references=(),
        sender=Address("Alice", sender) if sender is not None else None,
        reply_to=(),
        to=(Address("Support", "support@example.com"),),
        cc=(),
        subject=subject,
        date=datetime(2025, 3, 14, 9, 0, tzinfo=UTC),
        date_fallback=False,
        text=text,
        reply_text=text if reply_text is None else reply_text,
        html=None,
        attachments=attachments,
        forwarded=forwarded,
        headers=(("Subject", subject), *headers),
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


def one_rule(**when: Any) -> RuleSet:
    table = {"name": "r", "when": when, "then": {"priority": "P1"}}
    return compile_rules([table], organisations=ORGS, plans=PLANS, groups=GROUPS, contacts=CONTACTS)


def hit(ruleset: RuleSet, mail: ParsedMail, context: RuleContext | None = None) -> bool:
    outcome = ruleset.classify(mail, context or ctx()).outcomes[0]
    assert outcome.reason  # hits and misses both explain themselves
    return outcome.matched


def attachment(name: str, *, inline: bool = False) -> Attachment:
    return Attachment(name, "application/pdf", 3, "0" * 64, b"pdf", None, inline)


# ---------------------------------------------------------------- text


def test_words_in_subject_or_body() -> None:
    rules = one_rule(words=["outage", "down for everyone"])
    assert hit(rules, make_mail("Outage!", "hi"))
    assert hit(rules, make_mail("hi", "it is down for\neveryone"))
    assert not hit(rules, make_mail("download", "scroll down"))


def test_words_non_ascii() -> None:
    rules = one_rule(words=["Störung", "überlastet", "réseau", "ne fonctionne plus"])
    assert hit(rules, make_mail("STÖRUNG", ""))
    assert hit(rules, make_mail("", "Server überlastet"))
    assert hit(rules, make_mail("", "panne du Réseau"))
    assert hit(rules, make_mail("", "la caisse ne fonctionne plus"))
    assert not hit(rules, make_mail("Störungsmeldung", "réseaux"))


def test_subject_words_only_look_at_the_subject() -> None:
    rules = one_rule(subject_words=["down"])
    assert hit(rules, make_mail("site down", ""))
    assert not hit(rules, make_mail("hello", "site down"))


def test_body_words_only_look_at_the_body() -> None:
    rules = one_rule(body_words=["down"])
    assert hit(rules, make_mail("hello", "site down"))
    assert not hit(rules, make_mail("site down", "hello"))


def test_not_words_is_a_negative_condition() -> None:
    rules = one_rule(words=["down"], not_words=["workaround"])
    assert hit(rules, make_mail("site down", ""))
    assert not hit(rules, make_mail("site down", "but we have a workaround"))
    reason = rules.classify(make_mail("site down", "a workaround"), ctx()).outcomes[0].reason
    assert reason == "not_words: 'workaround' found in body"


def test_words_on_a_reply_see_only_the_new_part() -> None:
    rules = one_rule(words=["outage"])
    reply = make_mail(
        "Re: [#7] Outage",
        "thanks, all fine now\n\n> the outage is still going on",
        reply_text="thanks, all fine now",
    )
    assert not hit(rules, reply, ctx(is_reply=True))
    # The same mail opening a new ticket: everything the customer sent counts.
    assert hit(rules, reply, ctx(is_reply=False))


def test_a_reply_with_no_words_of_its_own_gives_the_rules_nothing_to_read() -> None:
    """A screenshot and the quoted history: the history was read when it was new, and reading
    it again would raise a ticket an engineer has deliberately lowered."""
    rules = one_rule(words=["outage"])
    mail = make_mail("Re: x", "> outage everywhere", reply_text="")
    assert not hit(rules, mail, ctx(is_reply=True))


@pytest.mark.parametrize(("text", "counts"), [
    ("Not an outage, just a question about reports.", False),
    ("There was no data loss, just asking.", False),
    ("This isn't an outage.", False),
    ("Kein Ausfall, nur eine Frage.", False),
    ("Ce n'est pas une panne.", False),
    ("No, it is an outage for everyone.", True),  # the clause after the comma stands
    ("Not slow: a complete outage.", True),
    ("We cannot work, outage since 9am.", True),
])
def test_a_word_the_customer_negates_does_not_count(text: str, counts: bool) -> None:
    rules = one_rule(words=["outage", "data loss", "Ausfall", "panne"])
    assert hit(rules, make_mail("Question", text), ctx()) is counts


def test_forwarded_messages_are_read() -> None:
    rules = one_rule(words=["outage"])
    forwarded = ForwardedMessage("alert", None, None, "Monitoring: total outage")
    assert hit(rules, make_mail("Fwd: alert", "see below", forwarded=(forwarded,)))


def test_regex_over_subject_and_body() -> None:
    rules = one_rule(regex=[r"error\s+5\d\d", r"^ORA-\d+"])
    assert hit(rules, make_mail("Error 503 everywhere", ""))
    assert hit(rules, make_mail("db", "log:\nora-00600 internal"))  # IGNORECASE, MULTILINE
    assert not hit(rules, make_mail("error 404", ""))
    reason = rules.classify(make_mail("Error 503", ""), ctx()).outcomes[0].reason
    assert reason == "regex: matched 'Error 503'"


def test_regex_can_be_case_sensitive() -> None:
    rules = one_rule(regex="(?-i:DOWN)")
    assert hit(rules, make_mail("DOWN", ""))
    assert not hit(rules, make_mail("down", ""))


# ---------------------------------------------------------------- envelope


def test_sender_glob_patterns() -> None:
    rules = one_rule(sender=["*@acme.example", "ceo@*"])
    assert hit(rules, make_mail(sender="Bob@ACME.example"))
    assert hit(rules, make_mail(sender="ceo@globex.example"))
    assert not hit(rules, make_mail(sender="bob@acme.example.net"))
    assert not hit(rules, make_mail(sender=None))


def test_sender_domain_includes_subdomains() -> None:
    rules = one_rule(sender_domain="acme.example")
    assert hit(rules, make_mail(sender="a@acme.example"))
    assert hit(rules, make_mail(sender="a@eu.ACME.example"))
    assert not hit(rules, make_mail(sender="a@notacme.example"))
    assert not hit(rules, make_mail(sender=None))


def test_header_pattern_and_presence() -> None:
    rules = one_rule(header={"name": "X-Priority", "pattern": "^1"})
    assert hit(rules, make_mail(headers=(("X-Priority", "1 (Highest)"),)))
    assert hit(rules, make_mail(headers=(("x-priority", "1"),)))  # names ignore case
    assert not hit(rules, make_mail(headers=(("X-Priority", "3"),)))
    assert not hit(rules, make_mail())
    present = one_rule(header=[{"name": "X-Monitoring"}, {"name": "Importance", "pattern": "high"}])
    assert hit(present, make_mail(headers=(("X-Monitoring", ""),)))
    assert hit(present, make_mail(headers=(("Importance", "High"),)))


def test_has_attachment_ignores_inline_parts() -> None:
    rules = one_rule(has_attachment=True)
    assert hit(rules, make_mail(attachments=(attachment("log.pdf"),)))
    assert not hit(rules, make_mail(attachments=(attachment("logo.png", inline=True),)))
    assert hit(one_rule(has_attachment=False), make_mail())


# ---------------------------------------------------------------- context


def test_organisation_and_plan() -> None:
    assert hit(one_rule(organisation="Acme"), make_mail(), ctx(organisation="Acme"))
    assert not hit(one_rule(organisation=["Acme"]), make_mail(), ctx(organisation="Globex"))
    assert not hit(one_rule(organisation="Acme"), make_mail(), ctx(organisation=None))
    assert hit(one_rule(plan=["gold"]), make_mail(), ctx(plan="gold"))
    assert not hit(one_rule(plan="gold"), make_mail(), ctx(plan="basic"))


@pytest.mark.parametrize("key", ["vip", "is_contact", "after_hours", "is_reply"])
def test_flags(key: str) -> None:
    assert hit(one_rule(**{key: True}), make_mail(), ctx(**{key: True}))
    assert not hit(one_rule(**{key: True}), make_mail(), ctx(**{key: False}))
    assert hit(one_rule(**{key: False}), make_mail(), ctx(**{key: False}))


def test_declared_priority_condition_sees_untrusted_declarations() -> None:
    rules = one_rule(declared_priority=["P1", "p2"])
    assert hit(rules, make_mail("Sev 1: down"), ctx(declared_priority_trusted=False))
    assert hit(rules, make_mail("x", "Priority: high"))
    assert not hit(rules, make_mail("P3 question"))
    assert not hit(rules, make_mail("hello"))


def test_all_conditions_must_hold() -> None:
    rules = one_rule(words=["down"], vip=True, sender_domain="acme.example")
    mail = make_mail("site down", sender="a@acme.example")
    assert hit(rules, mail, ctx(vip=True))
    assert not hit(rules, mail, ctx(vip=False))
    assert not hit(rules, make_mail("site down", sender="a@b.example"), ctx(vip=True))


def test_a_rule_without_conditions_matches_everything() -> None:
    rules = compile_rules(
        [{"name": "all", "then": {"tags": ["seen"]}}],
        organisations=(),
        plans=(),
        groups=(),
        contacts=(),
    )
    result = rules.classify(make_mail("anything"), ctx())
    assert result.tags == ("seen",)
    assert result.outcomes[0].reason == "no conditions: matches every mail"


def test_hit_reason_lists_every_condition() -> None:
    rules = one_rule(words=["down"], vip=True)
    reason = rules.classify(make_mail("site down"), ctx(vip=True)).outcomes[0].reason
    assert reason == "vip = true: the sender is a VIP; words: 'down' in subject"


def test_miss_reason_names_the_failed_condition() -> None:
    rules = one_rule(words=["down"], plan="gold")
    reason = rules.classify(make_mail("site down"), ctx(plan="basic")).outcomes[0].reason
    assert reason == "plan: 'basic' is not in 'gold'"


# ---------------------------------------------------------------- near


def test_near_needs_both_in_order_in_one_sentence_within_reach() -> None:
    rules = one_rule(near={"words": ["everyone", "all users"], "followed_by": ["cannot", "locked out"]})
    assert hit(rules, make_mail("", "Everyone here cannot log in"))
    assert hit(rules, make_mail("", "all users are\nlocked out"))  # a line break is no stop
    assert not hit(rules, make_mail("", "Everyone is fine. Bob cannot log in."))  # two sentences
    assert not hit(rules, make_mail("", "I cannot say everyone agrees"))  # wrong order
    far = "everyone " + "word " * 20 + "cannot"
    assert not hit(rules, make_mail("", far))  # default within = 60 characters
    assert hit(one_rule(near={"words": ["everyone"], "followed_by": ["cannot"], "within": 200}), make_mail("", far))


def test_near_finds_a_later_pair_when_the_first_is_too_far() -> None:
    rules = one_rule(near={"words": ["users"], "followed_by": ["error"], "within": 10})
    text = "users " + "x" * 40 + ". Some users get an error"
    assert hit(rules, make_mail("", text))


def test_near_does_not_pair_subject_with_body() -> None:
    rules = one_rule(near={"words": ["everyone"], "followed_by": ["cannot"]})
    assert not hit(rules, make_mail("everyone", "cannot"))
    assert hit(rules, make_mail("everyone cannot log in", ""))


def test_near_list_means_any() -> None:
    rules = one_rule(
        near=[
            {"words": ["everyone"], "followed_by": ["cannot"]},
            {"words": ["fails"], "followed_by": ["for everyone"]},
        ]
    )
    assert hit(rules, make_mail("", "Login fails for everyone"))
    reason = rules.classify(make_mail("", "Login fails for everyone"), ctx()).outcomes[0].reason
    assert reason == "near: 'fails for everyone' in body"


def test_near_with_non_ascii_phrases_and_wildcards() -> None:
    rules = one_rule(near={"words": ["einige* Benutzer*"], "followed_by": ["Fehlermeldung"]})
    assert hit(rules, make_mail("", "Bei einigen Benutzern kommt eine Fehlermeldung."))
    assert not hit(rules, make_mail("", "Einige Benutzer sind zufrieden. Fehlermeldung?"))


# ---------------------------------------------------------------- shared work


def test_rules_sharing_a_regex_agree() -> None:
    rules = compile_rules(
        [
            {"name": "a", "when": {"regex": r"error\s+5\d\d"}, "then": {"tags": ["a"]}},
            {"name": "b", "when": {"regex": r"error\s+5\d\d", "vip": True}, "then": {"tags": ["b"]}},
        ],
        organisations=ORGS,
        plans=PLANS,
        groups=GROUPS,
        contacts=CONTACTS,
    )
    result = rules.classify(make_mail("Error 503"), ctx(vip=True))
    assert result.tags == ("a", "b")
    assert result.outcomes[0].reason == result.outcomes[1].reason.split("; ")[1]


def test_precomputed_miss_reason_matches_the_condition() -> None:
    rules = one_rule(words=["outage"], vip=True)
    miss_words = rules.classify(make_mail("hello"), ctx(vip=True)).outcomes[0]
    miss_flag = rules.classify(make_mail("outage"), ctx(vip=False)).outcomes[0]
    assert miss_words.reason == "words: none of 'outage' in subject or body"
    assert miss_flag.reason == "vip = true: the sender is not a VIP"
