"""The shipped example config is valid, documents the default rules, and errors name key and fix."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError
from rules import load_default_rule_tables
from tests.support import HELPDESK

ROOT = Path(__file__).resolve().parents[2]


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


def test_a_bad_calendar_is_one_problem_not_two() -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    start = text.index("[calendars.business]")
    zone_line = text.index("timezone", start)
    broken = text[:zone_line] + 'timezone = "Europe/Londn"\n' + text[text.index("\n", zone_line) + 1:]
    with pytest.raises(ConfigError) as err:
        load_config(None, text=broken)
    assert len(err.value.problems) == 1, err.value.problems
    assert err.value.problems[0].startswith("calendars.business.timezone:")


def test_check_config_exits_2_listing_each_problem(tmp_path: Path) -> None:
    import subprocess
    bad = tmp_path / "bad.toml"
    bad.write_text('[gateway]\nsupport_address = "x"\n[smtp]\nport = 0\nlmtp = "yes"\n')
    result = subprocess.run([*HELPDESK, "-c", str(bad), "check-config"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("gateway.support_address:") for line in lines)
    assert any(line.startswith("smtp.port:") for line in lines)
    assert any(line.startswith("smtp.lmtp:") for line in lines)


@pytest.mark.parametrize(("text", "expected"), [
    ('[gateway]\nsupport_address = "s@e.com"\nmessage_id_domain = "exa mple.com"',
     "gateway.message_id_domain: 'exa mple.com' is not a domain name"),
    ('[gateway]\nsupport_address = "s@e.com"\n[database]\nurl = "not a url"', "database.url: 'not a url'"),
    ('[gateway]\nsupport_address = "s@e.com"\n[database]\nurl = "mysql://root@localhost/db"',
     "database.url: 'mysql://root@localhost/db': the gateway runs on sqlite or postgresql"),
    ('[gateway]\nsupport_address = "s@e.com"\n[processing]\npoll_interval = inf', "processing.poll_interval:"),
    ('[gateway]\nsupport_address = "s@e.com"\n[sla]\nsweep_interval = "100000000000d"', "sla.sweep_interval:"),
])
def test_values_that_would_fail_later_are_refused_now(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, text=text)
    assert any(expected in problem for problem in err.value.problems), err.value.problems


def _helpdesk(config: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*HELPDESK, "-c", str(config), *args], input=stdin,
                          capture_output=True, cwd=ROOT, timeout=60, env=dict(os.environ))


def test_check_config_compiles_the_html_templates_and_tries_the_data_dir(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "acknowledgement.html").write_text("<p>{% if ticket.number %}unclosed</p>\n")
    config = tmp_path / "c.toml"
    config.write_text(f'[gateway]\nsupport_address = "s@example.com"\ndata_dir = "/proc/helpdesk"\n'
                      f'[templates]\ndirectory = "{templates}"\n')
    result = _helpdesk(config, "check-config")
    assert result.returncode == 2
    problems = result.stderr.decode().splitlines()
    assert any(p.startswith("templates: acknowledgement.html:") for p in problems), problems
    assert any(p.startswith("gateway.data_dir: /proc/helpdesk cannot be written") for p in problems), problems


def test_ingest_with_a_config_it_cannot_load_asks_the_mta_to_retry(tmp_path: Path) -> None:
    """Exit 2 would have Postfix bounce the customer's mail; 75 keeps it queued for the fix."""
    half_edited = tmp_path / "c.toml"
    half_edited.write_text('[gateway\nsupport_address = "s@example.com"\n')
    assert _helpdesk(half_edited, "ingest", stdin=b"Subject: hi\r\n\r\nhello\r\n").returncode == 75
    assert _helpdesk(tmp_path / "missing.toml", "ingest", stdin=b"Subject: hi\r\n\r\nhello\r\n").returncode == 75


def test_ingest_needs_no_relay_password_in_its_environment(tmp_path: Path) -> None:
    """A Postfix pipe runs with a bare environment: the relay's password is the sender's
    business (`run` and `check-config` insist on it), not the pipe's."""
    config = tmp_path / "c.toml"
    config.write_text(f'[gateway]\nsupport_address = "s@example.com"\ndata_dir = "{tmp_path / "var"}"\n'
                      '[outbound]\ntransport = "smtp"\nhost = "127.0.0.1"\nusername = "u"\n'
                      'password_env = "HELPDESK_TEST_UNSET_PASSWORD"\n')
    assert _helpdesk(config, "ingest", stdin=b"Subject: hi\r\n\r\nhello\r\n").returncode == 0
    checked = _helpdesk(config, "check-config")
    assert checked.returncode == 2 and b"outbound.password_env: the environment variable" in checked.stderr


@pytest.mark.parametrize("args", [["explain", "missing.eml"], ["explain", "--at", "monday", "x.eml"],
                                  ["simulate", "missing.toml"], ["tickets", "show", "99999999999999999999"],
                                  ["held", "drop", "-5"]])
def test_mistyped_commands_get_a_line_not_a_traceback(tmp_path: Path, args: list[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[gateway]\nsupport_address = "s@example.com"\ndata_dir = "{tmp_path / "var"}"\n')
    (tmp_path / "x.eml").write_bytes(b"Subject: hi\r\n\r\nhello\r\n")
    result = subprocess.run([*HELPDESK, "-c", str(config), *args], capture_output=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr and result.stderr.strip(), result.stderr


def test_a_secret_file_left_empty_by_a_crash_is_replaced_not_used(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty key would make every reply token forgeable (an HMAC anyone can compute)."""
    from gateway.outbound.reply_token import load_secret
    monkeypatch.delenv("HELPDESK_TEST_SECRET", raising=False)
    (tmp_path / "reply-token.secret").write_bytes(b"")
    secret = load_secret("HELPDESK_TEST_SECRET", tmp_path)
    assert len(secret) >= 32
    assert (tmp_path / "reply-token.secret").read_bytes().strip() == secret
    assert load_secret("HELPDESK_TEST_SECRET", tmp_path) == secret  # kept from then on
