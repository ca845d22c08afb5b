"""Every scenario in examples/scenarios runs on the simulator, and its timeline keeps the seed's promises.

The expected instants are written by hand in each scenario's [[expect]] tables from the SLA
document the policy comes from, not from the program's output.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from gateway.tools.simulate import format_timeline, simulate

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "examples" / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_keeps_the_promises(scenario: Path) -> None:
    spec = tomllib.loads(scenario.read_text(encoding="utf-8"))
    assert spec.get("expect"), f"{scenario.name} states no expectations"
    rows = simulate(scenario, None)
    shown = format_timeline(rows)
    for expect in spec["expect"]:
        at = datetime.fromisoformat(expect["at"])
        if "mail" in expect:
            hits = [r for r in rows if r["type"] == "mail" and r["kind"] == expect["mail"]
                    and datetime.fromisoformat(r["at"]) == at and r["state"] != "suppressed"]
            if "to" in expect:
                hits = [r for r in hits if expect["to"] in r["to"]]
            assert hits, f"no {expect['mail']} mail at {at.isoformat()}:\n{shown}"
            if "text" in expect:
                # As a reader takes it: paragraphs are wrapped, so words, not line breaks, count.
                said = " ".join(expect["text"].split())
                assert any(said in " ".join((r["text"] + " " + r["subject"]).split()) for r in hits), \
                    f"{expect['mail']} at {at} does not say {expect['text']!r}: {hits[0]['text']}"
        else:
            hits = [r for r in rows if r["type"] == "event" and r["kind"] == expect["event"]
                    and datetime.fromisoformat(r["at"]) == at]
            if "clock" in expect:
                hits = [r for r in hits if r["detail"].get("clock") == expect["clock"]]
            for key, value in expect.get("detail", {}).items():
                hits = [r for r in hits if r["detail"].get(key) == value]
            assert hits, f"no {expect['event']} event at {at.isoformat()} like {expect}:\n{shown}"
    counts = Counter(r["kind"] for r in rows if r["type"] == "mail" and r["state"] != "suppressed")
    for kind, n in spec.get("expect_count", {}).items():
        assert counts.get(kind, 0) == n, f"{kind}: {counts.get(kind, 0)} mails, expected {n}:\n{shown}"
    events = Counter(r["kind"] for r in rows if r["type"] == "event")
    for kind, n in spec.get("expect_event_count", {}).items():
        assert events.get(kind, 0) == n, f"{kind}: {events.get(kind, 0)} events, expected {n}:\n{shown}"
