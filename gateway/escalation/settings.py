"""Escalation policies and the on-call rotation, read from [escalation.NAME] and [oncall]."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.staff import Staff


@dataclass(frozen=True)
class EscalationSettings:
    policies: Mapping[str, Any] = field(default_factory=dict)
    oncall: Any = None


def load_escalation(data: Mapping[str, Any], staff: Staff, plans: set[str], problems: list[str]) -> EscalationSettings:
    """Not configurable yet: an [escalation] or [oncall] table is reported, not silently ignored."""
    for key in ("escalation", "oncall"):
        if data.get(key):
            problems.append(f"{key}: escalation policies and on-call rotations are not supported by this version")
    return EscalationSettings()
