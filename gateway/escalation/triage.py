"""After-hours triage: a mail the rules say may be critical pages the on-call, who confirms or lowers it.

The rules flag a mail for triage when it may be critical without being classified P1 (a designated
contact declares it critical, or the evidence of total impact is there but the verdict is not
sure). Outside business hours, on a plan whose escalation policy pages the on-call, such a ticket
pages the on-call at once instead of waiting for the morning; the page says why. The on-call
settles it with ``#priority`` (P1 confirms it, anything else lowers it): from then on the ticket
pages, or not, on its priority alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.config import Config
from gateway.config.escalation import Tier


def triage_reason(classified: Any) -> str | None:
    """The reason recorded with the ticket's classification when the rules flagged it, else None."""
    if not isinstance(classified, dict) or not classified.get("triage"):
        return None
    return str(classified.get("triage_reason") or "may be critical")


def paging_tier(config: Config, plan: str) -> Tier | None:
    """The tier that pages the on-call after hours under ``plan``, if its escalation policy has one."""
    name = config.policy.plan(plan).escalation
    policy = config.escalation.policies.get(name) if name else None
    return next((t for t in policy.tiers if t.pages), None) if policy is not None else None


def triage_page(config: Config, plan: str, timezone: str | None, at: datetime, priority: str) -> str:
    """What a mail flagged for triage arriving at ``at`` would do, in words, for ``helpdesk explain``."""
    tier = paging_tier(config, plan)
    if tier is None:
        return "no page: the plan's escalation policy pages nobody after hours"
    calendar = config.policy.calendar(config.policy.plan(plan).calendar, timezone)
    if calendar.is_open(at):
        return "no page: it arrived in business hours, an engineer triages it then"
    if priority in tier.priorities:
        return f"no triage page: as {priority} it pages the on-call anyway (tier {tier.name})"
    return f"the on-call would be paged for triage at once (tier {tier.name}); #priority confirms or lowers it"
