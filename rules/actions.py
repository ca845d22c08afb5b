"""What a matching rule does: its table of actions, and how the actions of many rules add up."""

from __future__ import annotations

from dataclasses import dataclass, field

from rules.priority import more_urgent


@dataclass(frozen=True, slots=True)
class Actions:
    """The ``then`` table of one rule.

    ``priority`` proposes a priority; of all matched rules the most urgent proposal wins.
    ``cap`` limits how urgent the result may be ("a workaround exists: at most P3"); of
    several caps the strictest (least urgent) wins. ``tags`` and ``notify`` accumulate in
    rule order without duplicates; the first matched rule with a ``route`` decides the
    route. ``stop`` ends evaluation after this rule. ``assess`` proposes the priority of the
    impact reading (rules/impact.py) as if the rule had set it, and lists its evidence.
    ``incident`` names an incident (by its title) a new ticket joins while it is open; the first
    matched rule with one decides. The rule only names it: the gateway does the linking.
    """

    priority: str | None = None
    cap: str | None = None
    tags: tuple[str, ...] = ()
    route: str | None = None
    notify: tuple[str, ...] = ()
    stop: bool = False
    assess: bool = False
    incident: str | None = None

    def describe(self) -> str:
        parts: list[str] = []
        if self.priority:
            parts.append(f"priority {self.priority}")
        if self.cap:
            parts.append(f"at most {self.cap}")
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        if self.route:
            parts.append(f"route to {self.route}")
        if self.notify:
            parts.append("notify " + ", ".join(self.notify))
        if self.assess:
            parts.append("priority from the impact reading")
        if self.incident:
            parts.append(f"incident {self.incident!r}")
        if self.stop:
            parts.append("stop")
        return "; ".join(parts) or "nothing"


@dataclass(slots=True)
class Tally:
    """The running sum of the actions of the rules matched so far in one classification."""

    priority: str | None = None
    priority_rule: str | None = None
    cap: str | None = None
    cap_rule: str | None = None
    route: str | None = None
    route_rule: str | None = None
    stopped_by: str | None = None
    incident: str | None = None
    tags: dict[str, None] = field(default_factory=dict)  # an ordered set
    notify: dict[str, None] = field(default_factory=dict)

    def apply(self, rule: str, actions: Actions) -> None:
        if actions.priority is not None and (self.priority is None or more_urgent(actions.priority, self.priority)):
            self.priority, self.priority_rule = actions.priority, rule
        if actions.cap is not None and (self.cap is None or more_urgent(self.cap, actions.cap)):
            self.cap, self.cap_rule = actions.cap, rule
        if actions.route is not None and self.route is None:
            self.route, self.route_rule = actions.route, rule
        if actions.incident is not None and self.incident is None:
            self.incident = actions.incident
        for tag in actions.tags:
            self.tags[tag] = None
        for contact in actions.notify:
            self.notify[contact] = None
        if actions.stop:
            self.stopped_by = rule
