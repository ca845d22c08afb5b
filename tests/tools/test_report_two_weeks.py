"""``report sla`` over two simulated weeks: every figure worked out by hand, and counted again from the events.

The scenario is examples/scenarios/report-two-weeks.toml: ten tickets at ipSCAPE, four organisations
in three time zones, the "standard" plan (Sydney business hours for P2 and P3, 24x7 for P1) and a
"premium" 24x7 plan. It runs on the simulator; ``helpdesk report sla --json`` then runs as a
manager runs it, a command against the simulation's database, with the clock at the simulation's
end (Monday 30 November 08:00 Sydney).

Each run of each clock, by hand. Sydney time (AEDT, +11:00); "business" is Monday to Friday
09:00-18:00 Sydney; minutes taken leave paused time out ("wall" is elapsed time, "business" the open
hours of the clock's calendar, given only for business-time targets); a run counts in the period
in which it was settled: when it stopped, or when it breached.

#1 Contoso, standard P3, Mon 16 10:00. First response: 4 business hours, due 14:00; answered
   11:00: met, 60 wall, 60 business.
#2 Tailspin (London), standard P2, mailed 09:30 GMT = Mon 16 20:30, after hours.
   First response: 60 business minutes from Tue 09:00: due Tue 10:00; answered 09:40: met,
   wall 20:30 -> 09:40 = 13 h 10 = 790, business 09:00-09:40 = 40.
   Workaround: 4 business hours, due Tue 13:00; resolved 12:50: met, wall 20:30 -> 12:50 = 16 h 20
   = 980, business 09:00-12:50 = 230.
   Updates, every 60 business minutes: 20:30 -> 09:40 (the answer; 790 wall, 40 business),
   09:40 -> 10:40, 10:40 -> 11:40, 11:40 -> 12:40 (notices; 60 each), 12:40 -> 12:50 (the reply
   that resolves; 10). That reply re-arms the clock and the resolution stops it at once: no promise.
#3 Contoso, standard P2, Wed 18 10:00. First response due 11:00, answered 10:30: met, 30/30.
   Workaround due 14:00. Resolved 11:00 with 3 business hours left; the customer writes back at
   11:30: reopened, due 11:30 + 3 h = 14:30. Breached 14:30 (missed, settled then); resolved 15:00:
   wall 10:00 -> 15:00 = 300 less the 30 resolved = 270, business the same (all in hours);
   late 30 wall, 30 business.
   Updates: 10:00 -> 10:30 (30), 10:30 -> 11:00 (30), 11:00 -> 12:30 less 11:00-11:30 resolved (60),
   12:30 -> 13:30, 13:30 -> 14:30 (notices, 60 each), 14:30 -> 15:00 (30): all met, wall = business.
#4 Fabrikam, standard P3, Fri 20 16:00. First response due Mon 23 11:00 (Fri 16-18, Mon 09-11).
   Pending Fri 17:00 with 3 business hours left (Fri 17-18, Mon 09-11); the customer answers
   Mon 08:00, before opening: due 09:00 + 3 h = Mon 12:00 (the pause moved it an hour). Breached
   Mon 12:00 (week 2); answered 15:00: wall Fri 16:00 -> Mon 15:00 = 71 h = 4260 less the pause
   Fri 17:00 -> Mon 08:00 = 63 h = 3780: 480; business Fri 16-18 + Mon 09-15 = 8 h = 480 less the
   paused Fri 17-18 = 60: 420; late 12:00 -> 15:00 = 180 wall, 180 business. At the end of week 1
   (Mon 23 00:00) it is paused.
#5 Wingtip (Auckland), premium P1, Sat 21 01:00 (03:00 NZDT). First response 30 minutes, due
   01:30, breached; answered 01:50: missed, 50 wall, late 20 (no business time: 24x7 target).
   Resolution 4 hours, due 05:00; resolved 04:00: met, 180 wall.
#6 Contoso, standard P1, Sun 22 20:00, 24x7. First response due 20:15, answered 20:10: met, 10.
   Workaround 2 hours, due 22:00; resolved 21:00: met, 60. Updates every 30 minutes: 20:00 -> 20:10
   (10), 20:10 -> 20:40 (notice, 30), 20:40 -> 21:00 (20).
#7 Tailspin, standard P3, mailed Tue 24 08:00 GMT = Tue 19:00: due Wed 13:00. Raised to P2 Wed
   09:15: the P3 promise is replaced, not missed; the P2 clocks run from 09:15 (first response and
   first update 10:15, workaround 13:15). Answered 10:00: met, 45/45. Resolved 11:50: workaround
   met, 155/155. Updates: 09:15 -> 10:00 (45), 10:00 -> 11:00 (notice, 60), 11:00 -> 11:50 (50).
#8 Wingtip, premium P2, Thu 26 22:00. First response 2 hours, due Fri 00:00; answered 23:30: met,
   90. Resolution 1 day, due Fri 22:00; resolved Fri 10:00: met, 12 h = 720.
#9 Wingtip, premium P3, Fri 27 09:00. First response 8 hours, due 17:00, never given: missed at
   17:00, no time taken, late to the period's end Mon 30 00:00 = 7 h + 48 h = 3300 wall.
   Resolution 3 days, due Mon 30 09:00: running at the end.
#10 Fabrikam, standard P3, Sun 29 15:00: due Mon 30 13:00 (09:00 + 4 h): running at the end.

Medians of an even count are the mean of the middle two; p90 is the nearest rank (the smallest
value with at least 90% of them at or below it: rank ceil(0.9 n)); means are rounded to 0.1.
"""

from __future__ import annotations

import json
import math
import statistics
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import Event, Ticket
from gateway.tools.simulate import Simulation
from tests.support import ROOT, GatewayProcess

SCENARIO = ROOT / "examples" / "scenarios" / "report-two-weeks.toml"
FORTNIGHT = ("2026-11-16", "2026-11-30")
WEEK_1 = ("2026-11-16", "2026-11-23")
WEEK_2 = ("2026-11-23", "2026-11-30")
CLOCKS = ("first_response", "update", "workaround", "resolution")
NO_TIME = {"median": None, "mean": None, "p90": None}
CONTOSO, FABRIKAM, TAILSPIN, WINGTIP = ("Contoso Contact Centre", "Fabrikam Health", "Tailspin Toys",
                                        "Wingtip Airlines")


def row(clock: str, due: int, met: int, missed: int, running: int, paused: int, compliance: float | None,
        wall: tuple[float, float, float], business: tuple[float, float, float] | None = None,
        **group: str) -> dict[str, Any]:
    """A row of the report as written by hand: wall and business (median, mean, p90) in minutes."""
    def figures(values: tuple[float, float, float] | None) -> dict[str, float | None]:
        return dict(zip(("median", "mean", "p90"), values, strict=True)) if values else NO_TIME
    return {**group, "clock": clock, "due": due, "met": met, "missed": missed, "running": running,
            "paused": paused, "compliance": compliance, "wall_minutes": figures(wall),
            "business_minutes": figures(business)}


# The breaches, by deadline (stored and shown in UTC).
B3_WORKAROUND = {"ticket": 3, "clock": "workaround", "priority": "P2", "plan": "standard", "organisation": CONTOSO,
                 "engineer": None, "target": "4 business hours", "deadline": "2026-11-18T03:30:00+00:00",
                 "settled": True, "late_wall_minutes": 30.0, "late_business_minutes": 30.0}
B5_FIRST = {"ticket": 5, "clock": "first_response", "priority": "P1", "plan": "premium", "organisation": WINGTIP,
            "engineer": None, "target": "30 minutes", "deadline": "2026-11-20T14:30:00+00:00",
            "settled": True, "late_wall_minutes": 20.0, "late_business_minutes": None}
B4_FIRST = {"ticket": 4, "clock": "first_response", "priority": "P3", "plan": "standard", "organisation": FABRIKAM,
            "engineer": None, "target": "4 business hours", "deadline": "2026-11-23T01:00:00+00:00",
            "settled": True, "late_wall_minutes": 180.0, "late_business_minutes": 180.0}
B9_FIRST = {"ticket": 9, "clock": "first_response", "priority": "P3", "plan": "premium", "organisation": WINGTIP,
            "engineer": None, "target": "8 hours", "deadline": "2026-11-27T06:00:00+00:00",
            "settled": False, "late_wall_minutes": 3300.0, "late_business_minutes": None}

# Two weeks, by clock.
# First responses settled: #1 60/60, #2 790/40, #3 30/30, #6 10 (24x7), #7 45/45, #8 90 (24x7) met;
# #4 480/420, #5 50 (24x7) and #9 (not given: no time) missed; #10 running. 9 due, 6 met: 66.7%.
# Wall: 10 30 45 50 60 90 480 790: median (50+60)/2 = 55, mean 1555/8 = 194.375 -> 194.4, p90
# rank 8 = 790. Business: 30 40 45 60 420: median 45, mean 595/5 = 119, p90 rank 5 = 420.
# Updates, 17 all met: #2 790 60 60 60 10, #3 30 30 60 60 60 30, #6 10 30 20, #7 45 60 50.
# Wall sorted: 10 10 20 30 30 30 30 45 50 60 60 60 60 60 60 60 790: median (9th) 50, mean
# (980+270+60+155)/17 = 1465/17 = 86.18 -> 86.2, p90 rank 16 = 60. Business (all but #6): 40 60 60
# 60 10, 30 30 60 60 60 30, 45 60 50: sorted 10 30 30 30 40 45 50 60x7: median (50+60)/2 = 55, mean
# 655/14 = 46.79 -> 46.8, p90 rank 13 = 60.
# Workarounds: #2 980/230, #6 60, #7 155/155 met; #3 270/270 missed: 75%. Wall 60 155 270 980:
# median (155+270)/2 = 212.5, mean 1465/4 = 366.25 (a tie, rounded half to even: 366.2), p90 980.
# Business 155 230 270: median 230, mean 655/3 = 218.3, p90 rank 3 = 270.
# Resolutions: #5 180, #8 720 met; #9 running. Median and mean 450, p90 rank 2 = 720.
TWO_WEEKS = [
    row("first_response", 9, 6, 3, 1, 0, 66.7, (55.0, 194.4, 790.0), (45.0, 119.0, 420.0)),
    row("update", 17, 17, 0, 0, 0, 100.0, (50.0, 86.2, 60.0), (55.0, 46.8, 60.0)),
    row("workaround", 4, 3, 1, 0, 0, 75.0, (212.5, 366.2, 980.0), (230.0, 218.3, 270.0)),
    row("resolution", 2, 2, 0, 1, 0, 100.0, (450.0, 450.0, 720.0)),
]
# Premium (Wingtip): first responses #5 50 missed, #8 90 met, #9 missed: 1 of 3, 33.3%; wall 50 90:
# median and mean 70, p90 rank 2 = 90. Resolutions as above.
# Standard: first responses #1 60/60, #2 790/40, #3 30/30, #4 480/420 (missed), #6 10, #7 45/45, #10
# running: 5 of 6, 83.3%; wall 10 30 45 60 480 790: median (45+60)/2 = 52.5, mean 1415/6 = 235.8,
# p90 rank 6 = 790; business as for all (every business-time first response is standard's).
# Updates and workarounds are all standard's.
BY_PLAN = [
    row("first_response", 3, 1, 2, 0, 0, 33.3, (70.0, 70.0, 90.0), plan="premium"),
    row("resolution", 2, 2, 0, 1, 0, 100.0, (450.0, 450.0, 720.0), plan="premium"),
    row("first_response", 6, 5, 1, 1, 0, 83.3, (52.5, 235.8, 790.0), (45.0, 119.0, 420.0), plan="standard"),
    row("update", 17, 17, 0, 0, 0, 100.0, (50.0, 86.2, 60.0), (55.0, 46.8, 60.0), plan="standard"),
    row("workaround", 4, 3, 1, 0, 0, 75.0, (212.5, 366.2, 980.0), (230.0, 218.3, 270.0), plan="standard"),
]
# Contoso (#1 #3 #6): first responses 60/60, 30/30, 10: all met; wall 10 30 60: median 30, mean
# 33.3, p90 rank 3 = 60; business 30 60: 45, 45, p90 rank 2 = 60. Updates #3 30 30 60 60 60 30 and
# #6 10 30 20: wall sorted 10 20 30 30 30 30 60 60 60: median 30, mean 330/9 = 36.7, p90 rank 9 = 60;
# business (#3) 30 30 30 60 60 60: median 45, mean 45, p90 rank 6 = 60. Workarounds #6 60 met,
# #3 270/270 missed: 50%, wall median and mean (60+270)/2 = 165, p90 270; business 270.
# Fabrikam (#4 #10): #4's first response missed (480/420), #10's running: 0%.
# Tailspin (#2 #7): first responses 790/40 and 45/45: wall median and mean 417.5, p90 790; business
# 42.5, 42.5, 45. Updates #2 790 60 60 60 10 and #7 45 60 50: wall sorted 10 45 50 60 60 60 60 790:
# median 60, mean 1135/8 = 141.875 -> 141.9, p90 rank 8 = 790; business 10 40 45 50 60 60 60 60:
# median 55, mean 385/8 = 48.1, p90 60. Workarounds 980/230 and 155/155: wall 567.5, 567.5, 980;
# business 192.5, 192.5, 230.
# Wingtip: as premium.
BY_ORGANISATION = [
    row("first_response", 3, 3, 0, 0, 0, 100.0, (30.0, 33.3, 60.0), (45.0, 45.0, 60.0), organisation=CONTOSO),
    row("update", 9, 9, 0, 0, 0, 100.0, (30.0, 36.7, 60.0), (45.0, 45.0, 60.0), organisation=CONTOSO),
    row("workaround", 2, 1, 1, 0, 0, 50.0, (165.0, 165.0, 270.0), (270.0, 270.0, 270.0), organisation=CONTOSO),
    row("first_response", 1, 0, 1, 1, 0, 0.0, (480.0, 480.0, 480.0), (420.0, 420.0, 420.0), organisation=FABRIKAM),
    row("first_response", 2, 2, 0, 0, 0, 100.0, (417.5, 417.5, 790.0), (42.5, 42.5, 45.0), organisation=TAILSPIN),
    row("update", 8, 8, 0, 0, 0, 100.0, (60.0, 141.9, 790.0), (55.0, 48.1, 60.0), organisation=TAILSPIN),
    row("workaround", 2, 2, 0, 0, 0, 100.0, (567.5, 567.5, 980.0), (192.5, 192.5, 230.0), organisation=TAILSPIN),
    row("first_response", 3, 1, 2, 0, 0, 33.3, (70.0, 70.0, 90.0), organisation=WINGTIP),
    row("resolution", 2, 2, 0, 1, 0, 100.0, (450.0, 450.0, 720.0), organisation=WINGTIP),
]
# Week 1 (known until Mon 23 00:00): first responses #1 60/60, #2 790/40, #3 30/30, #6 10 met, #5 50
# missed; #4 paused. 4 of 5, 80%; wall 10 30 50 60 790: median 50, mean 940/5 = 188, p90 rank 5 = 790;
# business 30 40 60: median 40, mean 43.3, p90 rank 3 = 60. Updates of #2, #3 and #6 (14): wall sorted
# 10 10 20 30 30 30 30 60x6 790: median (30+60)/2 = 45, mean 1310/14 = 93.6, p90 rank 13 = 60;
# business (11) 10 30 30 30 40 60x6: median 60, mean 500/11 = 45.5, p90 rank 10 = 60. Workarounds
# #2 980/230 and #6 60 met, #3 270/270 missed: 66.7%; wall 60 270 980: median 270, mean 1310/3 =
# 436.7, p90 980; business 230 270: 250, 250, 270. Resolutions: #5 180.
WEEK_1_ROWS = [
    row("first_response", 5, 4, 1, 0, 1, 80.0, (50.0, 188.0, 790.0), (40.0, 43.3, 60.0)),
    row("update", 14, 14, 0, 0, 0, 100.0, (45.0, 93.6, 60.0), (60.0, 45.5, 60.0)),
    row("workaround", 3, 2, 1, 0, 0, 66.7, (270.0, 436.7, 980.0), (250.0, 250.0, 270.0)),
    row("resolution", 1, 1, 0, 0, 0, 100.0, (180.0, 180.0, 180.0)),
]
# Week 2: #4's first response, started in week 1, settles here (missed Mon 12:00, 480/420); #7
# 45/45 and #8 90 met; #9 missed; #10 running: 2 of 4, 50%; wall 45 90 480: median 90, mean 615/3 =
# 205, p90 480; business 45 420: 232.5, 232.5, 420. Updates of #7: 45 60 50: median 50, mean 51.7,
# p90 60. Workaround of #7: 155. Resolutions: #8 720 met, #9 running.
WEEK_2_ROWS = [
    row("first_response", 4, 2, 2, 1, 0, 50.0, (90.0, 205.0, 480.0), (232.5, 232.5, 420.0)),
    row("update", 3, 3, 0, 0, 0, 100.0, (50.0, 51.7, 60.0), (50.0, 51.7, 60.0)),
    row("workaround", 1, 1, 0, 0, 0, 100.0, (155.0, 155.0, 155.0), (155.0, 155.0, 155.0)),
    row("resolution", 1, 1, 0, 1, 0, 100.0, (720.0, 720.0, 720.0)),
]


@dataclass
class Fortnight:
    events: list[tuple[int, str, datetime, dict[str, Any]]]  # ticket, kind, at, detail
    tickets: dict[int, dict[str, str]]  # plan and organisation
    gateway: GatewayProcess
    zone: Any
    printed: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)

    def report(self, period: tuple[str, str], *by: str) -> dict[str, Any]:
        """``helpdesk report sla --from --to [--by] --json``, run once for each question."""
        args = ("report", "sla", "--from", period[0], "--to", period[1], "--json", *(("--by", *by) if by else ()))
        if args not in self.printed:
            self.printed[args] = json.loads(self.gateway.cli(*args).stdout)
        return self.printed[args]


def _toml(value: Any) -> str:
    """A config value as TOML: strings quoted as JSON does (TOML reads the same escapes), tables inline."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _merged(data: dict[str, Any], add: dict[str, Any]) -> dict[str, Any]:
    """The scenario's [add] tables on the policy's: lists extended, tables merged."""
    out = dict(data)
    for key, value in add.items():
        if isinstance(value, list):
            out[key] = [*out.get(key, []), *value]
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _config(sim: Simulation, directory: Path) -> Path:
    """The scenario's config (its policy and [add] tables) on the simulation's database."""
    spec = tomllib.loads(SCENARIO.read_text(encoding="utf-8"))
    data = _merged(tomllib.loads((SCENARIO.parent / spec["config"]).read_text(encoding="utf-8")), spec["add"])
    data["gateway"] = {**data["gateway"], "data_dir": str(directory / "var")}
    data["database"] = {"url": sim.app.config.database.url}
    path = directory / "config.toml"
    path.write_text("\n".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in data.items()) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fortnight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fortnight]:
    directory = tmp_path_factory.mktemp("two-weeks")
    sim = Simulation(SCENARIO, None)
    try:
        sim.run()
        with sim.app.db.sessions() as session:
            events = [(e.ticket_id, e.kind, e.at, e.detail or {}) for e in session.scalars(
                select(Event).where(Event.ticket_id.is_not(None)).order_by(Event.ticket_id, Event.at, Event.id))]
            tickets = {t.id: {"plan": t.plan, "organisation": t.organisation or "(none)"}
                       for t in session.scalars(select(Ticket))}
        clock = directory / "clock"
        clock.write_text(sim.clock.now().isoformat())
        gateway = GatewayProcess(_config(sim, directory), 0, env={"HELPDESK_CLOCK_FILE": str(clock)})
        yield Fortnight(events, tickets, gateway, sim.app.config.gateway.timezone)
    finally:
        sim.close()


def test_the_scenario_is_the_one_worked_out_by_hand(fortnight: Fortnight) -> None:
    assert len(fortnight.tickets) == 10
    assert {d["clock"] for _, kind, _, d in fortnight.events if kind == "sla-clock-started"} == set(CLOCKS)
    assert {t["plan"] for t in fortnight.tickets.values()} == {"standard", "premium"}
    assert fortnight.tickets[7]["organisation"] == TAILSPIN and fortnight.tickets[9]["plan"] == "premium"


def test_the_two_weeks_by_clock(fortnight: Fortnight) -> None:
    data = fortnight.report(FORTNIGHT)
    assert (data["from"], data["to"], data["by"]) == ("2026-11-16T00:00:00+11:00", "2026-11-30T00:00:00+11:00",
                                                      "clock")
    assert data["rows"] == TWO_WEEKS
    # By deadline: #3's workaround (Wed 18 14:30), #5's first response (Sat 21 01:30), #4's (Mon 23
    # 12:00), #9's (Fri 27 17:00, still not given). #7's replaced P3 promise is none of them.
    assert data["breaches"] == [B3_WORKAROUND, B5_FIRST, B4_FIRST, B9_FIRST]


def test_the_two_weeks_by_plan_and_by_organisation(fortnight: Fortnight) -> None:
    by_plan = fortnight.report(FORTNIGHT, "plan")
    assert by_plan["rows"] == BY_PLAN
    assert by_plan["breaches"] == [B3_WORKAROUND, B5_FIRST, B4_FIRST, B9_FIRST]
    assert fortnight.report(FORTNIGHT, "organisation")["rows"] == BY_ORGANISATION


def test_a_run_started_in_week_1_counts_in_week_2_where_it_was_settled(fortnight: Fortnight) -> None:
    first, second = fortnight.report(WEEK_1), fortnight.report(WEEK_2)
    assert first["rows"] == WEEK_1_ROWS
    assert first["breaches"] == [B3_WORKAROUND, B5_FIRST]
    assert second["rows"] == WEEK_2_ROWS
    assert second["breaches"] == [B4_FIRST, B9_FIRST]
    # The weeks add up to the fortnight.
    for one, two, both in zip(WEEK_1_ROWS, WEEK_2_ROWS, TWO_WEEKS, strict=True):
        assert (one["due"] + two["due"], one["met"] + two["met"]) == (both["due"], both["met"])


# ---- the same figures, counted again from the tickets' events (not through gateway/reports/) ----

@dataclass
class Promise:
    ticket: int
    clock: str
    start: datetime
    deadline: datetime | None
    end: datetime | None = None
    met: bool = False
    breached: datetime | None = None
    paused: datetime | None = None
    pauses: list[tuple[datetime, datetime]] = field(default_factory=list)

    def settled(self, known: datetime) -> tuple[str, datetime | None]:
        if self.breached is not None:
            return "missed", self.breached
        if self.end is not None:
            return ("met" if self.met else "missed"), self.end
        if self.paused is not None:
            return "paused", None
        if self.deadline is not None and self.deadline < known:
            return "missed", self.deadline
        return "running", None

    def wall_minutes(self) -> float | None:
        if self.end is None:
            return None
        return ((self.end - self.start).total_seconds() - sum((b - a).total_seconds() for a, b in self.pauses)) / 60


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def promises_from_events(fortnight: Fortnight, known: datetime) -> list[Promise]:
    """Every promise the events record up to ``known``: started, paused, resumed (or reopened),
    re-armed (an update given or a notice sent), breached, stopped; a promise replaced by a
    priority change before it breached was never due, and one ended as it began promised nothing."""
    kept: list[Promise] = []
    open_now: dict[tuple[int, str], Promise] = {}

    def replaced(p: Promise, at: datetime) -> None:
        if p.breached is not None:
            close(p, at, False)
        else:
            kept.remove(p)

    def close(p: Promise, at: datetime, met: bool) -> None:
        if p.paused is not None:
            p.pauses.append((p.paused, at))
            p.paused = None
        p.end, p.met = at, met and p.breached is None
        if p.end == p.start and not p.pauses:
            kept.remove(p)

    def begin(ticket: int, clock: str, at: datetime, deadline: datetime | None) -> None:
        old = open_now.pop((ticket, clock), None)
        if old is not None and old.end is None:
            replaced(old, at)
        open_now[(ticket, clock)] = Promise(ticket, clock, at, deadline)
        kept.append(open_now[(ticket, clock)])

    for ticket, kind, at, d in fortnight.events:
        if at > known:
            continue
        p = open_now.get((ticket, d.get("clock", "")))
        if kind == "priority-changed":
            for (number, clock), q in list(open_now.items()):
                if number == ticket and q.end is None:
                    del open_now[(number, clock)]
                    replaced(q, at)
        elif kind == "sla-clock-started":
            begin(ticket, d["clock"], at, _when(d.get("deadline")))
        elif kind == "sla-clock-restarted" and p is not None:
            close(p, at, bool(d["met"]))
            begin(ticket, d["clock"], at, _when(d.get("deadline")))
        elif kind == "sla-update-notice":
            update = open_now[(ticket, "update")]
            close(update, at, at == _when(d["deadline"]))  # the simulator wakes at each deadline
            begin(ticket, "update", _when(d["deadline"]) or at, _when(d.get("next")))
        elif kind == "sla-breach" and p is not None:
            p.breached = p.breached or at
        elif kind == "sla-clock-paused" and p is not None:
            p.paused = at
        elif kind == "sla-clock-resumed" and p is not None:
            if p.end is not None:  # reopened: settled at the stop, owed again from now
                if p not in kept:
                    kept.append(p)
                p.pauses.append((p.end, at))
                p.end = None
            elif p.paused is not None:
                p.pauses.append((p.paused, at))
                p.paused = None
            p.deadline = _when(d.get("deadline"))
        elif kind == "sla-clock-stopped" and p is not None and p.end is None:
            close(p, at, bool(d["met"]))
    return kept


def counted_from_events(fortnight: Fortnight, period: tuple[str, str], by: str | None) -> dict[str, Any]:
    start, end = (datetime.fromisoformat(day).replace(tzinfo=fortnight.zone) for day in period)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    breaches = []
    for p in promises_from_events(fortnight, end):
        outcome, at = p.settled(end)
        if outcome in ("met", "missed") and not (at is not None and start <= at < end):
            continue
        group = fortnight.tickets[p.ticket][by] if by else ""
        r = rows.setdefault((group, p.clock), {"due": 0, "met": 0, "missed": 0, "running": 0, "paused": 0,
                                               "wall": []})
        r[outcome] += 1
        if outcome in ("met", "missed"):
            r["due"] += 1
            if p.wall_minutes() is not None:
                r["wall"].append(p.wall_minutes())
        if outcome == "missed":
            breaches.append((p.ticket, p.clock))
    return {"rows": rows, "breaches": sorted(breaches)}


def _p90(values: list[float]) -> float:
    return sorted(values)[math.ceil(0.9 * len(values)) - 1]


@pytest.mark.parametrize(("period", "by"), [(FORTNIGHT, None), (FORTNIGHT, "plan"), (FORTNIGHT, "organisation"),
                                            (WEEK_1, None), (WEEK_2, None)],
                         ids=["fortnight", "fortnight-by-plan", "fortnight-by-organisation", "week-1", "week-2"])
def test_the_events_say_the_same(fortnight: Fortnight, period: tuple[str, str], by: str | None) -> None:
    data = fortnight.report(period, *((by,) if by else ()))
    counted = counted_from_events(fortnight, period, by)
    assert {(r.get(by, "") if by else "", r["clock"]) for r in data["rows"]} == set(counted["rows"])
    for r in data["rows"]:
        mine = counted["rows"][(r.get(by, "") if by else "", r["clock"])]
        assert {k: r[k] for k in ("due", "met", "missed", "running", "paused")} == \
            {k: mine[k] for k in ("due", "met", "missed", "running", "paused")}, r
        wall = mine["wall"]
        figures = {"median": round(statistics.median(wall), 1), "mean": round(statistics.mean(wall), 1),
                   "p90": round(_p90(wall), 1)} if wall else NO_TIME
        assert r["wall_minutes"] == figures, r
    assert sorted((b["ticket"], b["clock"]) for b in data["breaches"]) == counted["breaches"]
    # And every breach the report lists is one the clocks recorded as an sla-breach event.
    recorded = {(t, d["clock"]) for t, kind, _, d in fortnight.events if kind == "sla-breach"}
    assert {(b["ticket"], b["clock"]) for b in data["breaches"]} <= recorded

