"""`helpdesk maintenance` as an operator types it, and [maintenance] errors that name the key and the fix."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.clock import write_clock_file
from gateway.config import load_config
from gateway.errors import ConfigError
from tests import worlds

POLICY = Path(__file__).resolve().parents[2] / "examples" / "policies" / "ipscape.toml"


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: str) -> Path:
    text = POLICY.read_text(encoding="utf-8").replace(
        'default_plan = "standard"\n', f'default_plan = "standard"\ndata_dir = "{tmp_path}"\n', 1)
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    clock = tmp_path / "clock"
    write_clock_file(clock, datetime.fromisoformat(now))
    monkeypatch.setenv("HELPDESK_CLOCK_FILE", str(clock))
    return config


def test_schedule_refuse_list_show_cancel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, monkeypatch, "2026-12-09T10:00:00+11:00")
    base = ["-c", str(config), "maintenance"]
    window = ["--start", "2026-12-12T22:00", "--end", "2026-12-13T02:00", "--title", "Core switch", "--by", "sam"]
    assert main([*base, "schedule", "--kind", "with-downtime", *window]) == 1
    err = capsys.readouterr().err
    assert "refused: Maintenance - with downtime needs 5 business days notice" in err and "--force" in err
    assert main([*base, "schedule", "--kind", "with-downtime", *window, "--force", "--text", "Calls stop."]) == 0
    out = capsys.readouterr().out
    assert "maintenance #1 scheduled: Core switch (with-downtime) - inside its lead time, forced" in out
    assert "notice sent now to 3 status contact(s)" in out
    assert "not told (no status_contacts): Fabrikam Health" in out
    assert main([*base, "list", "--json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert (page["total"], page["maintenance"][0]["starts_at"]) == (1, "2026-12-12T11:00:00+00:00")
    assert main([*base, "cancel", "1", "--by", "sam", "--reason", "Postponed."]) == 0
    assert "cancellation sent to 3 status contact(s)" in capsys.readouterr().out
    assert main([*base, "show", "1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "cancelled"
    assert sorted(m["kind"] for m in shown["mail"]) == ["maintenance-cancelled"] * 3 + ["maintenance-notice"] * 3
    assert main([*base, "cancel", "1", "--by", "sam"]) == 1
    assert "maintenance #1 is cancelled: nothing to cancel" in capsys.readouterr().err


def problems(extra: str) -> list[str]:
    text = worlds.world(worlds.gateway("/tmp/x"), worlds.UK_CALENDAR, worlds.plan(), extra)
    with pytest.raises(ConfigError) as caught:
        load_config(None, text=text)
    return caught.value.problems


def test_config_errors_name_the_key_and_the_fix() -> None:
    assert problems('[maintenance]\ncalendar = "moon"') == [
        "maintenance.calendar: no calendar named 'moon'; define [calendars.moon] or use one of 24x7, uk"]
    assert problems('[maintenance.kinds.planned]\nnotice = "soon"')[0].startswith("maintenance.kinds.planned.notice:")
    assert problems('[maintenance.kinds.planned]\ntitle = "Planned"') == [
        'maintenance.kinds.planned.notice: missing; write how long before the start customers are told, like '
        'notice = "5 business days" (or "none")']
    assert problems('[maintenance.kinds.quiet]\nnotice = "none"\nminimum = "1 hour"') == [
        'maintenance.kinds.quiet.minimum: a kind with notice = "none" sends no notice; remove minimum']
    assert problems('[maintenance.kinds.x]\nnotice = "1 day"\nlead = "2 days"') == [
        "maintenance.kinds.x.lead: unknown key; the keys are downtime, minimum, notice, title"]
    defaults = load_config(None, text=worlds.world(worlds.gateway("/tmp/x"))).maintenance.kinds
    assert list(defaults) == ["no-downtime", "with-downtime", "emergency-no-downtime", "emergency-with-downtime"]
