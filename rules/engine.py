"""Rules and rule sets: evaluate every rule in order, record hits and misses, decide."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from parsers import ParsedMail
from rules.actions import Actions, Tally
from rules.condition import Condition
from rules.context import RuleContext
from rules.decide import decide_priority
from rules.impact import Assessment, assess
from rules.mailview import MailView
from rules.result import Classification, RuleOutcome
from rules.triage import triage_reason


@dataclass(frozen=True, slots=True)
class Rule:
    """A named list of conditions (all must hold) and the actions taken when they do.

    A rule without conditions matches every mail.
    """

    name: str
    description: str
    conditions: tuple[Condition, ...]
    actions: Actions
    # Per condition, the outcome of a miss there when its reason never varies; built once.
    misses: tuple[RuleOutcome | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        misses = []
        for condition in self.conditions:
            reason = condition.miss_reason()
            misses.append(None if reason is None else RuleOutcome(self.name, False, reason))
        object.__setattr__(self, "misses", tuple(misses))

    def evaluate(self, mail: MailView, ctx: RuleContext) -> RuleOutcome:
        for condition, miss in zip(self.conditions, self.misses, strict=True):
            if not condition.check(mail, ctx):
                return miss or RuleOutcome(self.name, False, condition.reason(mail, ctx, False))
        if not self.conditions:
            return RuleOutcome(self.name, True, "no conditions: matches every mail")
        reasons = "; ".join(c.reason(mail, ctx, True) for c in self.conditions)
        return RuleOutcome(self.name, True, reasons)


class RuleSet:
    """Compiled rules, in the order they are evaluated. Build it with ``compile_rules``."""

    __slots__ = ("rules",)

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.rules)

    def classify(self, mail: ParsedMail, ctx: RuleContext) -> Classification:
        """Evaluate every rule against ``mail`` and decide priority, tags, route, notify."""
        view = MailView(mail, reply=ctx.is_reply)
        tally = Tally()
        outcomes: list[RuleOutcome] = []
        reading: Assessment | None = None
        for rule in self.rules:
            if tally.stopped_by is not None:
                outcomes.append(
                    RuleOutcome(
                        rule.name,
                        False,
                        f"not evaluated: rule {tally.stopped_by!r} stopped evaluation",
                        evaluated=False,
                    )
                )
                continue
            outcome = rule.evaluate(view, ctx)
            if outcome.matched and rule.actions.assess:
                # Read once, however many rules ask for it; the rule proposes its priority.
                reading = reading or assess(view, reply=ctx.is_reply)
                outcome = outcome._replace(reason=f"{outcome.reason}; impact reading: {reading.verdict}")
                tally.apply(rule.name, _with_reading(rule.actions, reading))
            elif outcome.matched:
                tally.apply(rule.name, rule.actions)
            outcomes.append(outcome)
        declared = view.declared
        priority, trail = decide_priority(tally, declared, ctx)
        triage = triage_reason(priority, declared, ctx, reading)
        return Classification(
            priority=priority,
            tags=tuple(tally.tags),
            route=tally.route,
            notify=tuple(tally.notify),
            declared_priority=declared.priority if declared is not None else None,
            outcomes=tuple(outcomes),
            priority_trail=trail,
            triage=triage is not None,
            triage_reason=triage,
            evidence=reading.evidence if reading is not None else (),
            incident=tally.incident,
        )


def _with_reading(actions: Actions, reading: Assessment) -> Actions:
    """A rule's actions with the reading's priority and tags in place of ``assess``."""
    return Actions(
        priority=reading.priority,
        cap=actions.cap,
        tags=(*actions.tags, *reading.tags),
        route=actions.route,
        notify=actions.notify,
        stop=actions.stop,
        incident=actions.incident,
    )


def classify(mail: ParsedMail, ctx: RuleContext, ruleset: RuleSet) -> Classification:
    """``ruleset.classify(mail, ctx)``, for callers who prefer a function."""
    return ruleset.classify(mail, ctx)
