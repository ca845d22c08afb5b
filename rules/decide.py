"""How the final priority is reached from the rules, the declaration, the plan and the ticket."""

from __future__ import annotations

from rules.actions import Tally
from rules.context import RuleContext
from rules.declared import Declaration
from rules.priority import more_urgent


def decide_priority(tally: Tally, declared: Declaration | None, ctx: RuleContext) -> tuple[str, tuple[str, ...]]:
    """The priority and the steps that led to it, in words.

    In order:
    1. A declaration the plan trusts ("Sev 1", "P3", "urgent") is the priority, both ways:
       on such a plan the customer, who knows their business impact, decides.
    2. Otherwise the most urgent priority proposed by a matched rule; with none, the plan's
       default on a new ticket, or the ticket's current priority on a reply (a "thanks"
       must not move a P4 question up to the default). An untrusted declaration is
       recorded only.
    3. A ``cap`` ("a workaround exists: at most P3") then limits a rule-made priority.
    4. On a reply the result is never less urgent than the ticket's current priority: a
       reply may raise ("now completely down"), never lower; lowering is an agent's
       decision (#priority).
    """
    steps: list[str] = []
    if declared is not None and ctx.declared_priority_trusted:
        priority = declared.priority
        steps.append(f"{priority}: the customer declared {declared.describe()}, trusted on plan {ctx.plan!r}")
        if tally.priority is not None and tally.priority != priority:
            steps.append(
                f"rules proposed {tally.priority} (rule {tally.priority_rule!r}); the trusted declaration wins"
            )
    else:
        if tally.priority is not None:
            priority = tally.priority
            steps.append(f"{priority}: most urgent priority of the matched rules (rule {tally.priority_rule!r})")
        elif ctx.is_reply and ctx.current_priority is not None:
            priority = ctx.current_priority
            steps.append(f"{priority}: no rule set a priority; the ticket keeps its priority")
        else:
            priority = ctx.default_priority
            steps.append(f"{priority}: no rule set a priority; default of plan {ctx.plan!r}")
        if tally.cap is not None and more_urgent(priority, tally.cap):
            priority = tally.cap
            steps.append(f"{priority}: capped at {tally.cap} by rule {tally.cap_rule!r}")
        if declared is not None:
            steps.append(
                f"the customer declared {declared.describe()}; not trusted on plan {ctx.plan!r}, recorded only"
            )
    current = ctx.current_priority
    if ctx.is_reply and current is not None and more_urgent(current, priority):
        steps.append(
            f"{current}: a reply on a {current} ticket keeps {current} "
            f"(a reply may raise the priority, never lower it; {priority} ignored)"
        )
        priority = current
    return priority, tuple(steps)
