"""What contrib/ ships for running the gateway as a service is valid as its tools read it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import HELPDESK, ROOT


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run installs systemd")
        pytest.skip("systemd-analyze is not installed: cannot verify contrib/helpdesk.service")
    # The unit names the console script where README installs it; here, the one under test.
    helpdesk = HELPDESK[0] if len(HELPDESK) == 1 else str(Path(HELPDESK[0]).with_name("helpdesk"))
    if not Path(helpdesk).exists():
        pytest.skip(f"no console script at {helpdesk} to put in the unit")
    text = (ROOT / "contrib" / "helpdesk.service").read_text(encoding="utf-8")
    assert "/opt/helpdesk/bin/helpdesk -c /etc/helpdesk/config.toml run" in text
    unit = tmp_path / "helpdesk.service"
    unit.write_text(text.replace("/opt/helpdesk/bin/helpdesk", helpdesk), encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "helpdesk.service" not in result.stderr, result.stderr  # no warning about the unit itself
