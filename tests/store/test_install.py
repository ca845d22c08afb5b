"""What users install: the wheel carries every subpackage, template, migration and default rule."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import HELPDESK, OUTSIDE, ROOT


def test_ci_runs_the_installed_wheel_not_the_checkout() -> None:
    if not os.environ.get("HELPDESK_BIN"):
        if os.environ.get("CI"):
            pytest.fail("CI must set HELPDESK_BIN to the console script of the installed wheel")
        pytest.skip("HELPDESK_BIN not set: the end-to-end tests run this checkout (python -m gateway)")
    python = Path(HELPDESK[0]).parent / "python"
    probe = ("import gateway, parsers, rules, gateway.sla, gateway.escalation, gateway.outbound.templating as t, "
             "gateway.store.migrations.versions as v, pathlib;"
             "print(gateway.__file__); print(t.packaged_templates_dir()); print(pathlib.Path(v.__file__).parent);"
             "print(rules.default_rules_path())")
    shown = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=OUTSIDE,
                           timeout=60, check=True)
    paths = [Path(line) for line in shown.stdout.split()]
    assert len(paths) == 4
    for path in paths:
        assert path.exists(), path
        assert ROOT not in path.resolve().parents, f"{path} comes from the source tree, not the wheel"
    templates = paths[1]
    assert (templates / "acknowledgement.txt").is_file()
    assert sorted(p.name for p in paths[2].glob("0*.py")) == sorted(
        p.name for p in (ROOT / "gateway" / "store" / "migrations" / "versions").glob("0*.py"))
