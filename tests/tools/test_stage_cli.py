"""``helpdesk set N --escalate STAGE``: the operator's way to what an engineer's #escalate does."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.processing.test_stages import config_text
from tests.support import HELPDESK, ROOT, customer_mail


def _helpdesk(tmp: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*HELPDESK, "-c", str(tmp / "config.toml"), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={**os.environ, "HELPDESK_CLOCK_FILE": str(tmp / "clock")})
    assert done.returncode == code, done.stderr
    return done


def test_set_escalate_enters_a_stage_of_the_plan_or_says_which_there_are(tmp_path: Path) -> None:
    # The database is the gateway's own choice: SQLite in its data directory.
    (tmp_path / "config.toml").write_text(config_text(tmp_path), encoding="utf-8")
    (tmp_path / "clock").write_text("2026-11-23T10:00:00+00:00")
    mail = tmp_path / "outage.eml"
    mail.write_bytes(customer_mail("Alice <alice@acme.example>", "Everything down", "Everything is down."))
    _helpdesk(tmp_path, "db", "upgrade")
    _helpdesk(tmp_path, "ingest", str(mail), "--process")
    refused = _helpdesk(tmp_path, "set", "1", "--escalate", "legal", "--by", "dana", code=2)
    assert "plan 'standard' has no stage 'legal'; its stages are: development (Product Development)" in refused.stderr
    (tmp_path / "clock").write_text("2026-11-23T11:00:00+00:00")
    _helpdesk(tmp_path, "set", "1", "--escalate", "development", "--by", "dana")
    _helpdesk(tmp_path, "set", "1", "--escalate", "development", "--by", "dana")
    events = json.loads(_helpdesk(tmp_path, "tickets", "show", "1", "--json").stdout)["events"]
    (entered,) = [e for e in events if e["kind"] == "stage-entered"]
    assert entered["detail"]["clocks"] == {"workaround": "2026-11-25T11:00:00+00:00"}
    assert [e["kind"] for e in events].count("stage-repeated") == 1
    shown = json.loads(_helpdesk(tmp_path, "tickets", "show", "1", "--json").stdout)
    assert (shown["stages"], shown["stage_at"]) == (["development"], "2026-11-23T11:00:00+00:00")
    assert "escalated to development (last at 2026-11-23T11:00:00+00:00)" in \
        _helpdesk(tmp_path, "tickets", "show", "1").stdout
