"""Benchmark: classify the real corpus with 200 compiled rules; print classifications/s.

Run from the project root:  .venv/bin/python bench/rules.py [--rules 200] [--passes 3]

The corpus (../shared/corpus/messages/*.eml) is parsed once, up front, and not timed; only
``RuleSet.classify`` is. The rule set is the shipped defaults plus generated rules of the
shapes a real config has: word lists, phrases, regexes, sender patterns and domains,
organisation/plan/VIP conditions, header tests, with tags, routes and notifications.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, Python puts bench/ first on sys.path, where this very file would shadow
# the `rules` package and bench/calendar.py the standard library's `calendar`. Put the
# project root there instead.
ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
else:
    sys.path.insert(0, str(ROOT))

import parsers  # noqa: E402
from rules import RuleContext, RuleSet, compile_rules, load_default_rule_tables  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "messages"
RECEIVED = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)

VOCABULARY = (
    "invoice order ticket refund password login export import report dashboard queue agent "
    "calendar booking payment checkout cart webhook api token certificate backup restore "
    "sync integration salesforce outlook teams sso saml ldap printer scanner mobile android "
    "iphone firewall vpn dns smtp bounce spam attachment pdf csv excel upload download "
    "licence renewal contract migration upgrade release patch hotfix recording voicemail "
    "transfer ivr routing skill wallboard latency jitter timeout crash freeze error warning "
    "Rechnung Bestellung Passwort Anmeldung Kalender Zahlung Drucker Zertifikat Sicherung "
    "facture commande mot_de_passe connexion calendrier paiement imprimante certificat"
).split()
PHRASES = [
    "cannot print", "does not sync", "password reset", "two factor", "out of office",
    "wrong total", "missing invoice", "call quality", "screen freezes", "keeps logging out",
    "kann nicht drucken", "Passwort zurücksetzen", "ne se synchronise pas", "mot de passe",
]
REGEXES = [
    r"\b(?:order|invoice|ticket)\s*#?\s*\d{4,}",
    r"error\s+(?:code\s+)?[A-Z]{2,4}-?\d{3,5}",
    r"\bHTTP\s+5\d\d\b",
    r"^\s*Sent from my (?:iPhone|iPad)",
    r"\b(?:ORA|SQL)-\d{4,5}\b",
    r"\bv?\d+\.\d+\.\d+\b",
    r"(?:down|offline)\s+since\s+\d{1,2}[:.]\d{2}",
    r"\b[A-Z]{2}\d{2}(?:\s?\d{4}){4}",
]
ORGANISATIONS = [f"Customer {i}" for i in range(60)]
PLANS = ["lite", "standard", "premium", "enterprise"]
GROUPS = ["tier1", "tier2", "billing", "security", "voice", "integrations"]
CONTACTS = ["duty-manager", "account-manager", "head-of-operations", "ciso"]


def generated_rule(rng: random.Random, index: int) -> dict[str, Any]:
    when: dict[str, Any] = {}
    shape = index % 6
    if shape in (0, 1, 2):
        words = rng.sample(VOCABULARY, rng.randint(3, 25)) + rng.sample(PHRASES, rng.randint(0, 3))
        when[rng.choice(["words", "words", "subject_words", "body_words"])] = words
    if shape in (1, 3):
        when["regex"] = rng.sample(REGEXES, rng.randint(1, 2))
    if shape in (2, 4):
        n = rng.randrange(60)
        when[rng.choice(["sender", "sender_domain"])] = (
            [f"*@customer{n}.example", f"*@*.customer{n}.example"]
            if "sender" not in when
            else f"customer{n}.example"
        )
    if shape == 4:
        when["organisation"] = rng.sample(ORGANISATIONS, 2)
    if shape == 5:
        when["plan"] = rng.choice(PLANS)
        when["vip"] = True
        when["header"] = {"name": "X-Priority", "pattern": "^[12]"}
    if rng.random() < 0.2:
        when["not_words"] = rng.sample(VOCABULARY, 3)
    then: dict[str, Any] = {"tags": [f"t{index}"]}
    if rng.random() < 0.5:
        then["priority"] = rng.choice(["P1", "P2", "P3", "P4"])
    if rng.random() < 0.3:
        then["route"] = rng.choice(GROUPS)
    if rng.random() < 0.1:
        then["notify"] = [rng.choice(CONTACTS)]
    return {"name": f"generated-{index}", "description": "generated", "when": when, "then": then}


def build_ruleset(total: int) -> RuleSet:
    rng = random.Random(42)
    tables = load_default_rule_tables()
    tables += [generated_rule(rng, i) for i in range(max(0, total - len(tables)))]
    return compile_rules(
        tables[:total],
        organisations=set(ORGANISATIONS),
        plans=set(PLANS),
        groups=set(GROUPS),
        contacts=set(CONTACTS),
    )


def load_corpus() -> list[parsers.ParsedMail]:
    mails: list[parsers.ParsedMail] = []
    failed = 0
    for path in sorted(CORPUS.glob("*.eml")):
        try:
            mails.append(parsers.parse(path.read_bytes(), received_at=RECEIVED))
        except Exception:  # a corpus message the parser rejects is not what we measure
            failed += 1
    print(f"corpus: {len(mails)} messages parsed ({failed} rejected by the parser), not timed")
    return mails


def contexts(mails: list[parsers.ParsedMail]) -> list[RuleContext]:
    rng = random.Random(7)
    return [
        RuleContext(
            organisation=rng.choice([*ORGANISATIONS[:5], None]),
            plan=rng.choice(PLANS),
            vip=rng.random() < 0.1,
            after_hours=rng.random() < 0.3,
            is_reply=bool(mail.in_reply_to),
            current_priority="P3" if mail.in_reply_to else None,
            default_priority="P3",
        )
        for mail in mails
    ]


def run(ruleset: RuleSet, mails: list[parsers.ParsedMail], passes: int) -> None:
    ctxs = contexts(mails)
    timings = []
    for _ in range(passes):
        start = time.perf_counter()
        for mail, ctx in zip(mails, ctxs, strict=True):
            ruleset.classify(mail, ctx)
        timings.append(time.perf_counter() - start)
    best = min(timings)
    per_mail_us = best / len(mails) * 1e6
    print(
        f"{len(ruleset):>4} rules: {len(mails) / best:>8,.0f} classifications/s, "
        f"{per_mail_us:>7.1f} µs per classification, {per_mail_us / len(ruleset):.2f} µs per rule "
        f"(best of {passes}; median {statistics.median(timings):.3f}s per pass)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    mails = load_corpus()
    start = time.perf_counter()
    ruleset = build_ruleset(args.rules)
    print(f"compile: {len(ruleset)} rules in {(time.perf_counter() - start) * 1e3:.1f} ms")
    run(build_ruleset(len(load_default_rule_tables())), mails, args.passes)
    run(ruleset, mails, args.passes)


if __name__ == "__main__":
    main()
