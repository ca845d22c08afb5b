"""``helpdesk tickets at-risk``: open tickets by their next real deadline, time left across a weekend."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests import worlds
from tests.support import GatewayProcess, customer_mail, free_port, write_config

pytestmark = pytest.mark.slow

POLICY = worlds.world(
    worlds.calendar("office"),
    worlds.plan(calendar="office", priorities={
        "P1": {"first_response": "30m", "calendar": "24x7"},
        "P3": {**worlds.FOUR_BUSINESS_HOURS, "resolution": "5 business days"},
    }),
    worlds.OWN_RULES,
    worlds.rule("outage", ["outage"], priority="P1"),
    worlds.rule("question", ["question"], priority="P3"),
)


def _at(gw: GatewayProcess, clock: Path, when: datetime, *args: str) -> Any:
    clock.write_text(when.isoformat())
    return gw.cli("tickets", "at-risk", *args)


def test_at_risk_in_deadline_order_with_business_time_across_a_weekend(tmp_path: Path) -> None:
    clock = tmp_path / "clock"
    port = free_port()
    config = write_config(tmp_path / "config.toml", smtp_port=port, relay_port=None, extra=POLICY)
    gw = GatewayProcess(config, port, env={"HELPDESK_SECRET": "s", "HELPDESK_CLOCK_FILE": str(clock)})
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # London is on UTC in November
    assert _at(gw, clock, friday).stdout.decode().strip() == "none at risk"
    question = tmp_path / "q.eml"
    question.write_bytes(customer_mail("ann@customer.example", "A question about exports", "A question."))
    gw.cli("ingest", "--process", str(question))
    clock.write_text(datetime(2026, 11, 27, 16, 0, tzinfo=UTC).isoformat())
    outage = tmp_path / "o.eml"
    outage.write_bytes(customer_mail("bob@customer.example", "Total outage", "A total outage since 16:00."))
    gw.cli("ingest", "--process", str(outage))

    rows = json.loads(_at(gw, clock, datetime(2026, 11, 27, 16, 10, tzinfo=UTC), "--json").stdout)
    assert [(r["number"], r["clock"]) for r in rows] == [(2, "first_response"), (1, "first_response")]
    p1, p3 = rows
    assert p1["deadline"] == "2026-11-27T16:30:00+00:00" and p1["wall_seconds_left"] == 20 * 60
    assert p1["business_seconds_left"] is None  # a 24x7 wall-clock target
    # Four business hours from Friday 15:00: two on Friday, two on Monday morning.
    assert p3["deadline"] == "2026-11-30T11:00:00+00:00"
    assert p3["business_seconds_left"] == (50 + 2 * 60) * 60  # 16:10-17:00 Friday, 09:00-11:00 Monday
    assert p3["wall_seconds_left"] == int((datetime(2026, 11, 30, 11, tzinfo=UTC)
                                          - datetime(2026, 11, 27, 16, 10, tzinfo=UTC)).total_seconds())

    # Saturday: the P1 is missed (first, negative), the P3 has lost no business time.
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    rows = json.loads(_at(gw, clock, saturday, "--json").stdout)
    assert rows[0]["number"] == 2 and rows[0]["wall_seconds_left"] < 0
    assert rows[1]["business_seconds_left"] == 2 * 3600  # Monday 09:00-11:00
    text = _at(gw, clock, saturday).stdout.decode()
    assert "2h 00m" in text and "#1" in text and "#2" in text
    # tickets list and show name the next promise, not the scheduler's wake-up.
    listed = {t["number"]: t["due"] for t in json.loads(gw.cli("tickets", "list", "--json").stdout)["tickets"]}
    assert listed == {1: {"clock": "first_response", "deadline": "2026-11-30T11:00:00+00:00"},
                      2: {"clock": "first_response", "deadline": "2026-11-27T16:30:00+00:00"}}
    assert "first_response due 2026-11-30T11:00:00+00:00" in gw.cli("tickets", "list").stdout.decode()
    assert "next promise: first_response due 2026-11-30T11:00:00+00:00" in \
        gw.cli("tickets", "show", "1").stdout.decode()
    # --within: only what falls due within two hours (the missed P1 included).
    rows = json.loads(_at(gw, clock, saturday, "--within", "2h", "--json").stdout)
    assert [r["number"] for r in rows] == [2]
