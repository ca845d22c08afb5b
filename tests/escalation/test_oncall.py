"""Who is on call at an instant: weekly handovers in a time zone, across DST, with explicit ranges."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.cli import main
from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.time.rotation import OnCall

LONDON = ZoneInfo("Europe/London")
CHICAGO = ZoneInfo("America/Chicago")

CONTACTS = """
[gateway]
support_address = "support@example.com"
timezone = "Europe/London"

[contacts.alice]
name = "Alice"
address = "alice@example.com"

[contacts.bob]
name = "Bob"
address = "bob@example.com"

[contacts.carol]
name = "Carol"
address = "carol@example.com"
timezone = "America/New_York"

[contacts.dan]
name = "Dan"
address = "dan@example.com"
"""

LONDON_ROTATION = CONTACTS + """
[oncall]
timezone = "Europe/London"
handover = "mon 09:00"
start = 2026-11-02
rotation = ["alice", "bob"]
overrides = [{from = "2026-12-24T18:00", to = "2026-12-27T09:00", contact = "carol"}]
"""


def oncall(text: str) -> OnCall:
    rotation = load_config(None, text=text).escalation.oncall
    assert rotation is not None
    return rotation


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def who(rotation: OnCall, at: datetime) -> str | None:
    shift = rotation.shift_at(at)
    return shift.contact if shift else None


@pytest.mark.parametrize(("at", "expected"), [
    (datetime(2026, 11, 2, 9, 0, tzinfo=LONDON), "alice"),             # the first handover
    (datetime(2026, 11, 9, 8, 59, 59, tzinfo=LONDON), "alice"),        # a second before the next
    (datetime(2026, 11, 9, 9, 0, tzinfo=LONDON), "bob"),               # handover is inclusive
    (datetime(2026, 11, 15, 23, 0, tzinfo=LONDON), "bob"),             # Sunday night: still Bob
    (datetime(2026, 11, 16, 9, 0, tzinfo=LONDON), "alice"),            # and round again
    (datetime(2026, 11, 22, 2, 0, tzinfo=LONDON), "alice"),
    (datetime(2026, 11, 2, 8, 59, tzinfo=LONDON), "bob"),              # before the start: read backwards
    (datetime(2026, 12, 24, 17, 59, tzinfo=LONDON), "bob"),            # override starts at 18:00
    (datetime(2026, 12, 24, 18, 0, tzinfo=LONDON), "carol"),
    (datetime(2026, 12, 27, 8, 59, tzinfo=LONDON), "carol"),
    (datetime(2026, 12, 27, 9, 0, tzinfo=LONDON), "bob"),              # override ends: rotation again
])
def test_weekly_rotation_with_an_override(at: datetime, expected: str) -> None:
    assert who(oncall(LONDON_ROTATION), at) == expected


def test_a_shift_states_since_and_until_cut_by_overrides() -> None:
    rotation = oncall(LONDON_ROTATION)
    shift = rotation.shift_at(datetime(2026, 11, 22, 2, 0, tzinfo=LONDON))
    assert shift is not None and shift.source == "rotation"
    assert (shift.since, shift.until) == (utc(2026, 11, 16, 9), utc(2026, 11, 23, 9))
    before = rotation.shift_at(datetime(2026, 12, 24, 12, 0, tzinfo=LONDON))
    assert before is not None and before.until == utc(2026, 12, 24, 18)      # Carol takes over at 18:00
    after = rotation.shift_at(datetime(2026, 12, 27, 10, 0, tzinfo=LONDON))
    assert after is not None and (after.contact, after.since, after.until) == (
        "bob", utc(2026, 12, 27, 9), utc(2026, 12, 28, 9))


def test_spring_forward_week_is_167_hours_and_handover_follows_the_wall_clock() -> None:
    # BST starts Sunday 28 March 2027: Monday 09:00 is 09:00Z before it and 08:00Z after it.
    rotation = oncall(LONDON_ROTATION)
    shift = rotation.shift_at(utc(2027, 3, 25, 12))
    assert shift is not None
    assert shift.since == utc(2027, 3, 22, 9) and shift.until == utc(2027, 3, 29, 8)
    assert (shift.until - shift.since).total_seconds() == 167 * 3600
    assert who(rotation, utc(2027, 3, 29, 7, 59)) == shift.contact
    assert who(rotation, utc(2027, 3, 29, 8, 0)) != shift.contact  # 09:00 BST, not 09:00 UTC


def test_fall_back_week_is_169_hours() -> None:
    # BST ends Sunday 25 October 2026: Monday 19 Oct 09:00 is 08:00Z, Monday 26 Oct 09:00 is 09:00Z.
    rotation = oncall(LONDON_ROTATION)
    shift = rotation.shift_at(utc(2026, 10, 22, 12))
    assert shift is not None
    assert shift.since is not None and shift.until is not None
    assert (shift.until - shift.since).total_seconds() == 169 * 3600
    assert who(rotation, utc(2026, 10, 26, 8, 30)) == shift.contact    # 08:30 GMT: not handed over yet


def test_handover_inside_the_dst_gap_and_the_repeated_hour() -> None:
    text = LONDON_ROTATION.replace('handover = "mon 09:00"', 'handover = "sun 01:30"')
    rotation = oncall(text)
    # 28 March 2027 01:30 does not exist in London: read with the offset before the change (01:30Z).
    before, after = rotation.shift_at(utc(2027, 3, 28, 1, 29)), rotation.shift_at(utc(2027, 3, 28, 1, 30))
    assert before is not None and after is not None and before.contact != after.contact
    assert after.since == utc(2027, 3, 28, 1, 30)
    # 25 October 2026 01:30 happens twice: the first (BST, 00:30Z) is the handover.
    first = rotation.shift_at(utc(2026, 10, 25, 0, 30))
    assert first is not None and first.since == utc(2026, 10, 25, 0, 30)
    assert who(rotation, utc(2026, 10, 25, 0, 29)) != first.contact
    assert who(rotation, utc(2026, 10, 25, 1, 30)) == first.contact    # the second 01:30 changes nothing


def test_the_rotation_zone_decides_not_the_asker_s() -> None:
    text = CONTACTS + """
[oncall]
timezone = "America/Chicago"
handover = "fri 17:00"
start = "2026-10-30"
rotation = ["alice", "bob", "dan"]
"""
    rotation = oncall(text)
    # Alice from Friday 30 October 17:00, Bob from Friday 6 November 17:00 (Chicago). Saturday
    # 09:30 in Sydney is still Friday 16:30 in Chicago: before that handover, so still Alice.
    sydney = datetime(2026, 11, 7, 9, 30, tzinfo=ZoneInfo("Australia/Sydney"))
    assert sydney.astimezone(CHICAGO).hour == 16
    assert who(rotation, sydney) == "alice"
    assert who(rotation, datetime(2026, 11, 6, 17, 0, tzinfo=CHICAGO)) == "bob"
    assert who(rotation, datetime(2026, 11, 20, 17, 0, tzinfo=CHICAGO)) == "alice"
    # US DST ended Sunday 1 November 2026: the handovers either side are 22:00Z and 23:00Z.
    shift = rotation.shift_at(datetime(2026, 11, 2, 12, 0, tzinfo=CHICAGO))
    assert shift is not None and (shift.since, shift.until) == (utc(2026, 10, 30, 22), utc(2026, 11, 6, 23))


def test_explicit_ranges_only_with_a_fallback_and_the_first_listed_range_wins() -> None:
    text = CONTACTS + """
[oncall]
timezone = "America/Chicago"
overrides = [
    {from = "2026-11-20T18:00", to = "2026-11-23T08:00", contact = "dan"},
    {from = "2026-11-22T00:00-06:00", to = "2026-11-22T12:00-06:00", contact = "carol"},
]
fallback = "alice"
"""
    rotation = oncall(text)
    assert who(rotation, datetime(2026, 11, 22, 6, 0, tzinfo=CHICAGO)) == "dan"
    assert who(rotation, datetime(2026, 11, 23, 8, 0, tzinfo=CHICAGO)) == "alice"
    fallback = rotation.shift_at(utc(2027, 1, 1))
    assert fallback is not None and (fallback.source, fallback.since, fallback.until) == ("fallback", None, None)
    assert who(oncall(text.replace('fallback = "alice"\n', "")), utc(2027, 1, 1)) is None


@pytest.mark.parametrize(("table", "problem"), [
    ('rotation = ["alice", "zed"]\nhandover = "mon 09:00"\nstart = 2026-11-02',
     "oncall.rotation[1]: 'zed' is neither"),
    ('rotation = ["alice"]\nhandover = "monday at nine"\nstart = 2026-11-02', "oncall.handover: 'monday at nine'"),
    ('rotation = ["alice"]', "oncall: a rotation needs start"),
    ('overrides = [{from = "2026-12-27T09:00", to = "2026-12-24T18:00", contact = "alice"}]',
     "oncall.overrides[0]: to must come after from"),
    ('overrides = [{from = "2026-12-24", contact = "alice"}]', "oncall.overrides[0]: needs from, to and contact"),
    ('timezone = "Mars/Olympus"\nfallback = "alice"', "oncall.timezone: 'Mars/Olympus'"),
    ('fallback = "alice"\nweekly = true', "oncall.weekly: unknown key"),
    ("", "oncall: names nobody"),
])
def test_config_problems_name_the_key(table: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, text=CONTACTS + "\n[oncall]\n" + table + "\n")
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_helpdesk_oncall_prints_who_and_until_when(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(LONDON_ROTATION, encoding="utf-8")
    assert main(["-c", str(config), "oncall", "--at", "2026-12-25T12:00"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "carol: Carol <carol@example.com>",
        "  on call at Friday 25 December 2026 12:00 GMT (override)",
        "  from Thursday 24 December 2026 18:00 GMT until Sunday 27 December 2026 09:00 GMT"]
    assert main(["-c", str(config), "oncall", "--at", "2026-11-22T02:00:00+00:00", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"at": "2026-11-22T02:00:00+00:00", "contact": "alice", "name": "Alice",
                    "address": "alice@example.com", "source": "rotation", "since": "2026-11-16T09:00:00+00:00",
                    "until": "2026-11-23T09:00:00+00:00", "timezone": "Europe/London"}


def test_helpdesk_oncall_reads_the_clock_file_and_says_when_there_is_no_rotation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.clock import write_clock_file
    clock = tmp_path / "clock"
    write_clock_file(clock, datetime(2026, 11, 10, 12, 0, tzinfo=LONDON))
    monkeypatch.setenv("HELPDESK_CLOCK_FILE", str(clock))
    config = tmp_path / "config.toml"
    config.write_text(LONDON_ROTATION, encoding="utf-8")
    assert main(["-c", str(config), "oncall"]) == 0
    assert capsys.readouterr().out.startswith("bob: Bob <bob@example.com>")
    config.write_text(CONTACTS, encoding="utf-8")
    assert main(["-c", str(config), "oncall"]) == 1
    assert "no [oncall] table" in capsys.readouterr().err
