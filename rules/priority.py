"""Priorities P1..P4: validation, ordering by urgency, and the most/least urgent of several."""

from __future__ import annotations

from collections.abc import Iterable

# P1 is the most urgent. The SLA seeds all use this order (P1 "business not operational"
# down to P4 "information or assistance"), so the rank is simply the digit.
PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")
_RANK = {p: i for i, p in enumerate(PRIORITIES, start=1)}


def is_priority(value: object) -> bool:
    return isinstance(value, str) and value in _RANK


def normalise_priority(value: object) -> str | None:
    """``"p1"``, ``" P1 "`` -> ``"P1"``; anything that is not one of P1..P4 -> None."""
    if not isinstance(value, str):
        return None
    cleaned = value.strip().upper()
    return cleaned if cleaned in _RANK else None


def rank(priority: str) -> int:
    """1 for P1 (most urgent) .. 4 for P4. Raises KeyError for anything else."""
    return _RANK[priority]


def more_urgent(a: str, b: str) -> bool:
    """True when ``a`` is strictly more urgent than ``b``."""
    return _RANK[a] < _RANK[b]


def most_urgent(priorities: Iterable[str]) -> str | None:
    best: str | None = None
    for p in priorities:
        if best is None or _RANK[p] < _RANK[best]:
            best = p
    return best


def least_urgent(priorities: Iterable[str]) -> str | None:
    worst: str | None = None
    for p in priorities:
        if worst is None or _RANK[p] > _RANK[worst]:
            worst = p
    return worst
