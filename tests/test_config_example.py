"""The shipped example config is valid, documents the default rules, and errors name key and fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError
from rules import load_default_rule_tables

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_loads_and_carries_the_default_rules() -> None:
    config = load_config(ROOT / "config.example.toml")
    data = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    assert data["rules"] == load_default_rule_tables()
    assert len(config.rules) == len(data["rules"])
    assert config.smtp.port == 2525 and config.outbound.transport == "directory"


@pytest.mark.parametrize("policy", sorted((ROOT / "examples" / "policies").glob("*.toml")), ids=lambda p: p.stem)
def test_example_policies_load(policy: Path) -> None:
    load_config(policy)


@pytest.mark.parametrize(("text", "expected"), [
    ('[gateway]\nsupport_address = "nope"', "gateway.support_address: 'nope' is not an address"),
    ('[gateway]\nsupport_address = "s@e.com"\n[smtp]\nport = 99999', "smtp.port: must be a port number"),
    ('[gateway]\nsupport_address = "s@e.com"\ntimezone = "Mars/Base"', "gateway.timezone: 'Mars/Base'"),
    ('[gateway]\nsupport_address = "s@e.com"\n[smtpp]\nport = 1', "smtpp: unknown section"),
    ('[gateway]\nsupport_address = "s@e.com"\n[outbound]\ntransport = "smtp"', "outbound.host: transport is"),
    ('[gateway]\nsupport_address = "s@e.com"\n[plans.x.priorities.P1]\nfirst_response = "soon"',
     "plans.x.priorities.P1.first_response: cannot read duration 'soon'"),
    ('[gateway]\nsupport_address = "s@e.com"\n[[customers]]\nname = "A"\nplan = "gold"',
     "customers[0].plan: no plan named 'gold'"),
    ('[gateway]\nsupport_address = "s@e.com"\n[[rules]]\nname = "r"\n'
     'when = { regex = "(x" }\nthen = { priority = "P1" }', "rule 'r'"),
])
def test_config_errors_name_the_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, text=text)
    assert any(expected in problem for problem in err.value.problems), err.value.problems


def test_check_config_exits_2_listing_each_problem(tmp_path: Path) -> None:
    import subprocess
    import sys
    bad = tmp_path / "bad.toml"
    bad.write_text('[gateway]\nsupport_address = "x"\n[smtp]\nport = 0\nlmtp = "yes"\n')
    result = subprocess.run([sys.executable, "-m", "gateway", "-c", str(bad), "check-config"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("gateway.support_address:") for line in lines)
    assert any(line.startswith("smtp.port:") for line in lines)
    assert any(line.startswith("smtp.lmtp:") for line in lines)
