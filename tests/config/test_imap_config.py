"""The [[imap]] accounts: defaults, and problems that name the key and the fix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import load_config
from gateway.config.imap import imap_problems, load_imap_accounts
from gateway.errors import ConfigError

BASE = '[gateway]\nsupport_address = "support@example.com"\n'


def _config(imap: str, tmp_path: Path) -> str:
    return BASE + f'data_dir = "{tmp_path}"\n' + imap


def test_defaults_and_password_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAP_PW", "s3cret")
    config = load_config(None, text=_config("""
[[imap]]
name = "support"
host = "imap.example.com"
username = "support@example.com"
password_env = "IMAP_PW"
[smtp]
max_message_size = "2MB"
""", tmp_path))
    [account] = load_imap_accounts(config)
    assert (account.port, account.security, account.folder, account.done_folder) == (993, "tls", "INBOX", None)
    assert account.idle and account.poll_interval == timedelta(seconds=60)
    assert account.timeout == timedelta(seconds=30) and account.stale_after == timedelta(minutes=10)
    assert account.password == "s3cret" and "s3cret" not in repr(account)
    assert account.max_message_size == 2_000_000


def test_no_imap_section_means_no_accounts(tmp_path: Path) -> None:
    assert load_imap_accounts(load_config(None, text=_config("", tmp_path))) == ()


def test_each_problem_names_its_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAP_PW", "x")
    monkeypatch.delenv("MISSING_PW", raising=False)
    config = load_config(None, text=_config("""
[[imap]]
name = "good"
host = "imap.example.com"
username = "u"
password_env = "IMAP_PW"
security = "starttls"

[[imap]]
name = "good"
host = "imap.example.com"
port = 70000
security = "ssl"
username = "u"
password_env = "MISSING_PW"
folder = "INBOX"
done_folder = "INBOX"
poll_interval = "soon"
stale_after = "30s"
colour = "blue"

[[imap]]
host = "imap.example.com"
username = "u"
password_env = "IMAP_PW"
poll_interval = "5m"
stale_after = "1m"
""", tmp_path))
    problems = imap_problems(config)
    text = "\n".join(problems)
    for expected in ("imap[1].port: must be a port number", "imap[1].security: must be one of",
                     "imap[1].password_env: the environment variable MISSING_PW is not set",
                     "imap[1].done_folder: must differ from folder", "imap[1].poll_interval:",
                     "imap[1].colour: unknown key", "imap[1].name: 'good' is already the name of imap[0]",
                     "imap[2].name: missing", "imap[2].stale_after: must be longer than poll_interval"):
        assert expected in text, expected
    assert not any(p.startswith("imap[0]") for p in problems)
    with pytest.raises(ConfigError):
        load_imap_accounts(config)


def test_a_single_table_is_not_an_account_list(tmp_path: Path) -> None:
    config = load_config(None, text=_config('[imap]\nname = "x"\n', tmp_path))
    assert imap_problems(config) == ["imap: must be an array of tables: write [[imap]] (two brackets) "
                                     "before each account"]


def test_starttls_and_none_default_to_port_143(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAP_PW", "x")
    config = load_config(None, text=_config("""
[[imap]]
name = "a"
host = "h"
username = "u"
password_env = "IMAP_PW"
security = "starttls"
[[imap]]
name = "b"
host = "h"
username = "u"
password_env = "IMAP_PW"
security = "none"
idle = false
done_folder = "Done"
""", tmp_path))
    a, b = load_imap_accounts(config)
    assert (a.port, b.port, b.idle, b.done_folder) == (143, 143, False, "Done")


def test_readers_do_not_need_the_passwords(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ABSENT_PW", raising=False)
    config = load_config(None, text=_config('[[imap]]\nname = "a"\nhost = "h"\nusername = "u"\n'
                                            'password_env = "ABSENT_PW"\n', tmp_path))
    assert imap_problems(config)
    [account] = load_imap_accounts(config, need_passwords=False)
    assert account.name == "a" and account.password == ""


def test_check_config_lists_imap_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAP_PW", "x")
    path = tmp_path / "config.toml"
    path.write_text(_config('[[imap]]\nname = "a"\nhost = "h"\nport = 0\nusername = "u"\n'
                            'password_env = "IMAP_PW"\n', tmp_path))
    assert main(["-c", str(path), "check-config"]) == 2
    assert "imap[0].port: must be a port number from 1 to 65535" in capsys.readouterr().err
