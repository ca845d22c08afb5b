"""``helpdesk rules evaluate``: how the configured rules do on labelled mail, or on the team's own corrections."""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.processing.classify import classify
from gateway.store.models import Event, Ticket
from parsers import Address, ParseLimitExceeded, parse
from rules import PRIORITIES

LABELS = "labels.tsv"
# Who changes a priority without being an engineer: a customer's reply raising it goes through the rules.
NOT_ENGINEERS = ("rules", "gateway")
# After hours, these page the on-call: a P1, or a mail the rules flag for triage.
PAGES = "P1"


class LabelsError(ValueError):
    """The labelled folder cannot be read: the message says what is wrong and how to fix it."""


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled mail or ticket: the label, the rules' answer, and what they read."""

    name: str
    truth: str
    predicted: str
    rules: tuple[str, ...]
    triage: bool = False
    note: str = ""

    @property
    def pages(self) -> bool:
        return self.predicted == PAGES or self.triage


def read_labels(folder: Path) -> list[dict[str, str]]:
    """The rows of ``labels.tsv``: ``file`` and ``priority`` (optional ``sender``, ``note``)."""
    path = folder / LABELS
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                    for row in csv.DictReader(handle, delimiter="\t")]
    except OSError as exc:
        raise LabelsError(f"{path}: {exc.strerror}; write a tab-separated {LABELS} with the columns "
                          "file and priority") from exc
    for number, row in enumerate(rows, start=2):
        name = row.get("file") or row.get("filename")
        if not name or row.get("priority", "").upper() not in PRIORITIES:
            raise LabelsError(f"{path} line {number}: needs a file name and a priority ({', '.join(PRIORITIES)})")
        row["file"], row["priority"] = name, row["priority"].upper()
    return rows


def folder_cases(app: App, folder: Path, at: datetime | None, sender: str | None = None) -> list[Case]:
    """Classify each labelled mail as processing would: from its own sender (or the label's
    ``sender``, or else ``sender``), read as a new ticket, received at ``at`` or else at its Date."""
    cases = []
    for row in read_labels(folder):
        path = folder / row["file"]
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LabelsError(f"{path}: {exc.strerror}; {LABELS} names a file the folder lacks") from exc
        received = at or app.clock.now()
        try:
            mail = parse(raw, received_at=received, limits=app.limits)
        except ParseLimitExceeded as exc:
            cases.append(Case(row["file"], row["priority"], "-", (), note=f"over the {exc.limit} limit"))
            continue
        if row.get("sender") or sender:
            mail = replace(mail, sender=Address("", row.get("sender") or sender or ""))
        if mail.sender is None:
            cases.append(Case(row["file"], row["priority"], "-", (), note="no usable From"))
            continue
        _info, result = classify(app, mail, at or mail.date)
        cases.append(Case(row["file"], row["priority"], result.priority, result.matched_rules,
                          result.triage, row.get("note", "")))
    return cases


def history_cases(app: App) -> list[Case]:
    """Every ticket whose priority an engineer changed (``#priority``, ``helpdesk set``): the label is the
    last priority an engineer set, the prediction what the rules gave when the ticket opened."""
    cases = []
    with app.db.sessions() as session:
        changes = session.execute(select(Event.ticket_id, Event.actor, Event.detail).where(
            Event.kind == "priority-changed", Event.actor.not_in(NOT_ENGINEERS)).order_by(Event.id)).all()
        last: dict[int, tuple[str, str]] = {}
        for ticket_id, actor, detail in changes:
            if ticket_id is not None and isinstance(detail, dict) and detail.get("new") in PRIORITIES:
                last[ticket_id] = (str(detail["new"]), actor)
        for ticket_id, (label, actor) in sorted(last.items()):
            classified = session.scalar(select(Event.detail).where(
                Event.ticket_id == ticket_id, Event.kind == "classified").order_by(Event.id).limit(1))
            ticket = session.get(Ticket, ticket_id)
            if not isinstance(classified, dict) or ticket is None:
                continue  # opened before the rules recorded their decision: nothing to compare
            matched = tuple(str(o["rule"]) for o in classified.get("rules", [])
                            if isinstance(o, dict) and o.get("matched"))
            cases.append(Case(f"#{ticket_id}", label, str(classified.get("priority")), matched,
                              bool(classified.get("triage")), f"set by {actor}: {ticket.subject}"))
    return cases


def summary(cases: list[Case], source: str) -> dict[str, Any]:
    """Accuracy, recall per priority, the confusion matrix (rows: label), the misses, and paging."""
    right = sum(1 for c in cases if c.truth == c.predicted)
    recall = {}
    for p in PRIORITIES:
        labelled = [c for c in cases if c.truth == p]
        hits = sum(1 for c in labelled if c.predicted == p)
        recall[p] = {"n": len(labelled), "correct": hits,
                     "recall": round(hits / len(labelled), 4) if labelled else None}
    matrix = {t: {p: sum(1 for c in cases if c.truth == t and c.predicted == p) for p in PRIORITIES}
              for t in PRIORITIES}
    critical = [c for c in cases if c.truth == "P1"]
    minor = [c for c in cases if c.truth in ("P3", "P4")]
    return {
        "source": source, "total": len(cases), "correct": right,
        "accuracy": round(right / len(cases), 4) if cases else None,
        "recall": recall, "matrix": matrix,
        "after_hours": {"p1_total": len(critical), "p1_not_paged": [c.name for c in critical if not c.pages],
                        "p3_p4_total": len(minor), "p3_p4_paged": [c.name for c in minor if c.pages],
                        "triage": sum(1 for c in cases if c.triage)},
        "misses": [{"mail": c.name, "label": c.truth, "predicted": c.predicted, "rules": list(c.rules),
                    "triage": c.triage, "note": c.note} for c in cases if c.truth != c.predicted],
    }


def format_summary(data: dict[str, Any]) -> str:
    if not data["total"]:
        return f"{data['source']}: nothing labelled to evaluate"
    lines = [f"{data['source']}: {data['correct']} of {data['total']} right, accuracy {data['accuracy']:.1%}",
             "recall: " + ", ".join(f"{p} {r['correct']}/{r['n']}" for p, r in data["recall"].items()),
             "label\\rules " + " ".join(f"{p:>4}" for p in PRIORITIES)]
    for truth, row in data["matrix"].items():
        lines.append(f"{truth:<11} " + " ".join(f"{row[p]:>4}" for p in PRIORITIES))
    night = data["after_hours"]
    lines.append(f"after hours (P1 or triage pages): {len(night['p1_not_paged'])} of {night['p1_total']} P1 "
                 f"would not page; {len(night['p3_p4_paged'])} of {night['p3_p4_total']} P3/P4 would page; "
                 f"{night['triage']} flagged for triage")
    if data["misses"]:
        lines.append("misses:")
    for m in data["misses"]:
        rules = ", ".join(m["rules"]) or "no rule"
        flag = ", triage" if m["triage"] else ""
        lines.append(f"  {m['mail']}: label {m['label']}, rules {m['predicted']}{flag} ({rules})"
                     + (f" -- {m['note']}" if m["note"] else ""))
    return "\n".join(lines)
