"""Conditions on what the gateway knows: organisation, plan, flags, declared severity."""

from __future__ import annotations

from collections.abc import Sequence

from rules.condition import Condition
from rules.context import RuleContext
from rules.mailview import MailView


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values)


class _OneOf(Condition):
    """The context's ``field`` (a name the config gives) is one of the listed names."""

    __slots__ = ("_listed", "names")
    field = ""
    cost = 1

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)
        self._listed = _quoted(sorted(self.names))

    @property
    def description(self) -> str:
        return f"{self.key} is {self._listed}"

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        return getattr(ctx, self.field) in self.names

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        value = getattr(ctx, self.field)
        shown = repr(value) if value is not None else "unknown"
        return f"{self.key}: {shown} {'is' if held else 'is not'} in {self._listed}"


class Organisation(_OneOf):
    """The sender belongs to one of the named organisations."""

    __slots__ = ()
    key = field = "organisation"


class Plan(_OneOf):
    """The organisation's plan is one of the named plans."""

    __slots__ = ()
    key = field = "plan"


# when-key -> (RuleContext attribute, words for true, words for false)
FLAGS: dict[str, tuple[str, str, str]] = {
    "vip": ("vip", "the sender is a VIP", "the sender is not a VIP"),
    "is_contact": (
        "is_contact",
        "the sender is a designated contact",
        "the sender is not a designated contact",
    ),
    "after_hours": (
        "after_hours",
        "received outside business hours",
        "received within business hours",
    ),
    "is_reply": ("is_reply", "a reply on an existing ticket", "a new ticket"),
}


class Flag(Condition):
    """A yes/no fact of the context equals the expected value (vip, is_contact,
    after_hours, is_reply)."""

    __slots__ = ("_attr", "_no", "_yes", "expected", "key")
    cost = 0

    def __init__(self, key: str, expected: bool) -> None:
        self.key = key
        self._attr, self._yes, self._no = FLAGS[key]
        self.expected = expected

    @property
    def description(self) -> str:
        return self._yes if self.expected else self._no

    def miss_reason(self) -> str:
        return f"{self.key} = {str(self.expected).lower()}: {self._no if self.expected else self._yes}"

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        return bool(getattr(ctx, self._attr)) == self.expected

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        actual = bool(getattr(ctx, self._attr))
        return f"{self.key} = {str(self.expected).lower()}: {self._yes if actual else self._no}"


class DeclaredPriority(Condition):
    """The customer declared one of these severities (trusted or not): "Sev 1", "urgent"."""

    __slots__ = ("priorities",)
    key = "declared_priority"
    cost = 30

    def __init__(self, priorities: Sequence[str]) -> None:
        self.priorities = frozenset(priorities)

    @property
    def description(self) -> str:
        return f"customer declared {' or '.join(sorted(self.priorities))}"

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        declared = mail.declared
        return declared is not None and declared.priority in self.priorities

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        declared = mail.declared
        found = declared.describe() if declared is not None else "nothing"
        return f"declared_priority: customer declared {found}; wanted {' or '.join(sorted(self.priorities))}"
