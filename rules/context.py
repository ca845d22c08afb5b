"""RuleContext: what the gateway knows about the sender and the ticket when a mail arrives."""

from __future__ import annotations

from dataclasses import dataclass

from rules.priority import PRIORITIES, is_priority


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleContext:
    """Facts the rules may test besides the mail itself, computed by the gateway.

    ``after_hours`` comes from the organisation's business calendar at receipt (the rules
    never read a clock). ``declared_priority_trusted`` is a per-plan setting: when true, a
    severity the customer declares ("Sev 1", "P2", "urgent") becomes the priority; when
    false it is only recorded. ``current_priority`` is the ticket's priority before this
    mail and matters only when ``is_reply`` is true: a reply may raise it, never lower it.
    All fields are keyword-only.
    """

    organisation: str | None = None
    plan: str
    vip: bool = False
    is_contact: bool = False
    after_hours: bool = False
    declared_priority_trusted: bool = False
    is_reply: bool = False
    current_priority: str | None = None
    default_priority: str

    def __post_init__(self) -> None:
        # Validated here, once, so the engine never meets a priority it cannot rank.
        if not is_priority(self.default_priority):
            raise ValueError(
                f"RuleContext.default_priority must be one of {', '.join(PRIORITIES)}, got {self.default_priority!r}"
            )
        if self.current_priority is not None and not is_priority(self.current_priority):
            raise ValueError(
                f"RuleContext.current_priority must be one of {', '.join(PRIORITIES)} or None, "
                f"got {self.current_priority!r}"
            )
