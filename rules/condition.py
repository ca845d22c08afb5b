"""The Condition interface: one small test of a mail and its context, with a reason."""

from __future__ import annotations

from abc import ABC, abstractmethod

from rules.context import RuleContext
from rules.mailview import MailView


class Condition(ABC):
    """One idea, tested against a mail: ``check`` gives the verdict, ``reason`` explains it.

    A condition never acts: what happens when all conditions of a rule hold is the rule's
    table of actions. ``key`` is the ``when`` key it was compiled from. ``cost`` orders
    the conditions of a rule cheapest first (a context flag before a regex), which changes
    nothing about the verdict, because all conditions of a rule must hold.
    """

    __slots__ = ()

    key: str = ""
    cost: int = 0

    @property
    @abstractmethod
    def description(self) -> str:
        """What the condition tests, in words, e.g. "sender matches '*@example.com'"."""

    @abstractmethod
    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        """True when the condition holds for this mail and context."""

    @abstractmethod
    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        """Why it held (``held``) or did not: one line naming the key and the evidence."""

    def miss_reason(self) -> str | None:
        """The reason for a miss when it is the same for every mail, else None.

        A rule builds its miss outcome for such a condition once, at compile time, so the
        common case (a rule that does not match) costs one check and no allocation.
        """
        return None

    @property
    def name(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"
