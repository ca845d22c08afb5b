"""Whether a mail not classified P1 may still be critical: the on-call triages it."""

from __future__ import annotations

from rules.context import RuleContext
from rules.declared import Declaration
from rules.impact import Assessment


def triage_reason(
    priority: str, declared: Declaration | None, ctx: RuleContext, reading: Assessment | None
) -> str | None:
    """One line for the page, or None when there is nothing to triage.

    A P1 is paged as a P1. Otherwise: a designated contact who declares it critical is
    taken at their word until someone has looked (the seeds: a designated contact must be
    reachable for Severity 1), unless the mail's own words show it is minor (a question or
    request, a fault that stops nothing, one person, a workaround: a reading of P3 or P4);
    a declaration is evidence, not the verdict, in both directions. Evidence of total impact
    the reading was not sure of pages too.
    """
    if priority == "P1":
        return None
    minor = reading is not None and reading.priority in ("P3", "P4")
    if declared is not None and declared.priority == "P1" and ctx.is_contact and not minor:
        return f"a designated contact declared {declared.describe()}; classified {priority}"
    if reading is not None and reading.triage_reason is not None:
        return f"may be critical: {reading.triage_reason}; classified {priority}"
    return None
