"""The impact reading: a priority from scope, state, consequence, workaround and declared
severity, the way a support lead weighs them (impact x urgency), with its reasons.

The seeds' definitions: P1 the business is not operational, a critical function cannot be
performed and there is no workaround; P2 degraded or severely limited, or a part of the
business unable to work; P3 impaired with a workaround, a non-critical function, one user;
P4 a question, a request, information. A declared severity is evidence, not the verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules.declared import Declaration
from rules.evidence import Evidence, read_evidence
from rules.mailview import MailView
from rules.own_words import customer_body
from rules.words import normalise

# How each kind of evidence is named in ``explain``, in the order it is listed.
_LABELS = (
    ("all", "scope: all of a group"), ("everyone", "scope: everyone"), ("nobody", "scope: nobody"),
    ("none", "scope: not one"), ("some", "scope: part of a group"), ("one_place", "scope: one site"),
    ("share", "scope: a share"), ("one", "scope: one"), ("others_fine", "scope: the others are fine"),
    ("only", "scope: only"), ("total", "state: total"), ("stopped", "state: stopped"),
    ("intensifier", "state: complete"), ("degraded", "state: degraded"), ("fault", "state: a fault"),
    ("minor", "state: minor"), ("business", "consequence"), ("deadline", "consequence: deadline"),
    ("workaround", "workaround"), ("no_workaround", "no workaround"), ("security", "security incident"),
    ("data_loss", "data loss"), ("question", "request: question"), ("commercial", "request: commercial"),
    ("training", "request: training"), ("feature", "request: feature"), ("admin", "request: admin"),
    ("closing", "request: close or resolved"),
)  # fmt: skip
_TAGS = {"P1": "outage", "P2": "degraded"}
# Tags the tickets carried under the keyword rules, kept for reports and views.
_KIND_TAGS = (
    ("security", "security"), ("data_loss", "data-loss"), ("workaround", "workaround"), ("question", "question"),
    ("commercial", "commercial"), ("training", "training"), ("feature", "feature-request"), ("closing", "resolved"),
    ("close_request", "resolved"),
)  # fmt: skip
_SUBJECT_CHARS = 300  # a subject states the problem in a line; a 100 kB one is not read whole
_REPLY_SUBJECT = re.compile(r"\s*(?:re|aw|antw|sv|vs|r|res|rif|resp)\s?(?:\[\d+\])?\s?:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Assessment:
    """The reading's priority (None when the mail says nothing it can weigh), why, the
    evidence found, and whether the on-call should triage it as possibly critical."""

    priority: str | None
    verdict: str
    evidence: tuple[str, ...]
    tags: tuple[str, ...]
    triage_reason: str | None


def _ask(steps: list[str], question: str, held: bool) -> bool:
    """Record one question of the weighing and its answer, as ``explain`` lists them."""
    steps.append(f"{'hit ' if held else 'miss'} {question}")
    return held


def _weigh(ev: Evidence, declared: Declaration | None, steps: list[str]) -> tuple[str | None, str, str | None]:
    """(priority, why, triage reason) from the evidence; each question asked goes in ``steps``."""
    critical_declared = declared is not None and declared.priority in ("P1", "P2")
    if _ask(steps, "a security incident?", ev.security):
        return "P1", "a security incident", None
    if _ask(steps, "data being lost?", ev.data_loss):
        return "P1", "data being lost", None
    if _ask(steps, "resolved, or a follow-up of an incident that is over?", ev.recovered and not ev.total_now):
        if ev.group_stop or (ev.degraded and ev.stopped):
            return "P2", "works again in part; a part is still affected, or it keeps recurring", None
        if (ev.stopped or ev.fault or ev.degraded) and not ev.close_request:
            return "P3", "the incident is over; what is left is a follow-up or a remaining fault", None
        return "P4", "resolved: the customer confirms it works or asks to close", None
    urgent = ev.hard_stop or ev.deadline or ev.no_workaround or critical_declared
    business_critical = (ev.business_stop and urgent) or (ev.stopped and ev.deadline and critical_declared)
    total = ev.total_stop or (business_critical and not (ev.group_stop or ev.single_stop))
    if _ask(steps, "a total stop, or a critical business function stopped?", total):
        what = "a total stop" if ev.total_stop else "a critical business function stopped"
        if _ask(steps, "a way round it in use?", (ev.workaround or ev.manual) and not ev.no_workaround):
            how = "people work round it by hand" if ev.manual else "a workaround is in use"
            return "P2", f"{what}, but {how}", f"{what}; {how}"
        return "P1", f"{what}, nothing said of a way round it", None
    if _ask(steps, "something stopped?", ev.stopped):
        if _ask(steps, "said of a part: some users, a site, a share?", ev.group_stop or ev.partial_share):
            reason = f"{'declared critical, ' if critical_declared else ''}a stop for a part of the business"
            triage = reason if ev.business_stop and (ev.deadline or critical_declared) else None
            return "P2", "a part of the business cannot work", triage
        if ev.business_stop and ev.workaround and not ev.manual:
            return "P3", "a business function has stopped; a workaround is in use", None
        if ev.business_stop:
            triage = "a business function has stopped; scope not stated"
            return "P2", "a business function has stopped; scope not stated", triage
        if ev.single_stop or ev.narrow or ev.single:
            return "P3", "one person, device or function is affected", None
        if ev.others:
            return "P2", "a part of the business cannot work; the others are fine", None
        if ev.manual and not ev.workaround:
            return "P2", "a function has stopped and people work round it by hand", None
        if critical_declared or ev.hard_stop:
            reason = "declared critical and a function has stopped"
            if not critical_declared:
                reason = "a function has stopped completely"
            return "P2", f"{reason}; scope not stated", reason
        return "P3", "a function has stopped; nothing says it stops the business", None
    if _ask(steps, "degraded: slow, late, intermittent?", ev.degraded):
        if not ev.wide and (ev.single_stop or ev.narrow or ev.minor or ev.single):
            return "P3", "degraded for one person or function", None
        return "P2", "degraded: slow, late or intermittent", None
    if _ask(steps, "a fault that stops nothing?", ev.fault or ev.minor):
        if ev.requests and not ev.fault:
            return "P4", "a request; the only fault words call it minor", None
        return "P3", "a fault without a stop: impaired, not stopped", None
    if ev.requests:
        return "P4", "a request, not a fault: " + ", ".join(ev.requests), None
    return None, "nothing to weigh: no scope, state or request found", None


def assess(view: MailView, *, reply: bool) -> Assessment:
    """Read the subject (not on a reply) and the customer's own words, and weigh them."""
    declared = view.declared
    body = customer_body(view.mail, reply=reply)
    # "Re: Site down" repeats the ticket's first subject: history, like the quoted text.
    subject = "" if _REPLY_SUBJECT.match(view.subject) else view.subject[:_SUBJECT_CHARS]
    text = normalise(f"{subject}\n\n{body}" if subject else body)
    ev = read_evidence(text)
    steps: list[str] = []
    priority, why, triage = _weigh(ev, declared, steps)
    evidence = [f"{label}: {ev.found[kind]!r}" for kind, label in _LABELS if kind in ev.found]
    evidence.extend(f"weighed: {step}" for step in steps)
    if declared is not None:
        evidence.append(f"declared: {declared.describe()} (evidence, not the verdict)")
    verdict = f"{priority}: {why}" if priority is not None else why
    tags = ((_TAGS[priority],) if priority in _TAGS else ()) + tuple(
        dict.fromkeys(tag for kind, tag in _KIND_TAGS if kind in ev.found)
    )
    return Assessment(priority, verdict, tuple(evidence), tags, triage)
