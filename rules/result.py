"""The result of classifying one mail: priority, tags, route, and the reasons for all of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class RuleOutcome(NamedTuple):
    """What one rule did with one mail.

    ``matched`` is whether all its conditions held; ``reason`` is the evidence (for a hit,
    each condition's reason; for a miss, the first condition that failed).
    ``evaluated`` is false for rules skipped because an earlier rule had ``stop``.
    A NamedTuple rather than a frozen dataclass: one is made per rule per mail, and a
    tuple is several times cheaper to build.
    """

    rule: str
    matched: bool
    reason: str
    evaluated: bool = True

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "matched": self.matched,
            "evaluated": self.evaluated,
            "reason": self.reason,
        }

    def line(self) -> str:
        if not self.evaluated:
            return f"skip {self.rule}: {self.reason}"
        return f"{'hit ' if self.matched else 'miss'} {self.rule}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Classification:
    """The decision about one mail, with everything needed to explain it.

    ``declared_priority`` is the severity the customer declared (normalised to P1..P4),
    whether or not it was trusted. ``priority_trail`` says in words how ``priority`` was
    reached; ``outcomes`` has one entry for every rule in the rule set, in order.
    """

    priority: str
    tags: tuple[str, ...]
    route: str | None
    notify: tuple[str, ...]
    declared_priority: str | None
    outcomes: tuple[RuleOutcome, ...]
    priority_trail: tuple[str, ...] = ()
    # May be critical though not classified P1: the on-call triages it after hours.
    # ``triage_reason`` says why in one line (it goes into the page).
    triage: bool = False
    triage_reason: str | None = None
    # What the impact reading found (scope, state, consequence, workaround, declared
    # severity), one line each, when a rule asked for it (``then.assess``).
    evidence: tuple[str, ...] = ()
    # The open incident (by title) a new ticket joins, when a rule names one.
    incident: str | None = None

    @property
    def matched_rules(self) -> tuple[str, ...]:
        return tuple(o.rule for o in self.outcomes if o.matched)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready data, for ``helpdesk explain --json``."""
        return {
            "priority": self.priority,
            "tags": list(self.tags),
            "route": self.route,
            "notify": list(self.notify),
            "declared_priority": self.declared_priority,
            "priority_trail": list(self.priority_trail),
            "triage": self.triage,
            "triage_reason": self.triage_reason,
            "evidence": list(self.evidence),
            "incident": self.incident,
            "outcomes": [o.as_dict() for o in self.outcomes],
        }

    def explanation(self) -> list[str]:
        """Human lines: the priority and how it was reached, the evidence read, tags, route,
        then every rule."""
        lines = [f"priority {self.priority}"]
        lines.extend(f"  {step}" for step in self.priority_trail)
        if self.triage:
            lines.append(f"triage: {self.triage_reason or 'may be critical'}")
        if self.evidence:
            lines.append("evidence:")
            lines.extend(f"  {line}" for line in self.evidence)
        if self.tags:
            lines.append("tags: " + ", ".join(self.tags))
        if self.route is not None:
            lines.append(f"route: {self.route}")
        if self.notify:
            lines.append("notify: " + ", ".join(self.notify))
        if self.incident:
            lines.append(f"incident: joins the open incident {self.incident!r}")
        lines.append("rules:")
        lines.extend(f"  {o.line()}" for o in self.outcomes)
        return lines
