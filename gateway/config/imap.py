"""The ``[[imap]]`` accounts of the config, validated once into typed values."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.config import Config, Reader, as_bool, as_port, as_str, env_name, one_of, read_ca_file
from gateway.config.imap_oauth import OAUTH2_KEYS, OAuth2Settings, read_oauth2
from gateway.config.values import parse_interval
from gateway.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEYS = {"name", "host", "port", "security", "username", "password_env", "folder", "done_folder",
         "idle", "poll_interval", "timeout", "stale_after", "ca_file", "auth"} | OAUTH2_KEYS


@dataclass(frozen=True)
class ImapAccount:
    """One mailbox the gateway polls. The password is read from ``password_env`` at start;
    with ``oauth2`` set, the login is by an OAuth2 access token instead."""

    name: str
    host: str
    port: int
    security: str
    username: str
    password_env: str
    password: str = field(repr=False, compare=False)
    folder: str = "INBOX"
    done_folder: str | None = None
    idle: bool = True
    poll_interval: timedelta = timedelta(seconds=60)
    timeout: timedelta = timedelta(seconds=30)
    stale_after: timedelta = timedelta(minutes=10)
    ca_file: Path | None = None
    max_message_size: int = 25 * 1000**2
    oauth2: OAuth2Settings | None = None


def _folder(value: Any) -> str:
    text = as_str(value)
    if not text.strip() or any(ch in text for ch in "\r\n\0"):
        raise ValueError("must be a folder name like \"INBOX\" or \"Support/Done\"")
    return text


def _positive_interval(value: Any) -> timedelta:
    interval = parse_interval(value)
    if interval <= timedelta(0):
        raise ValueError("must be longer than 0, like 30s")
    return interval


def _account(r: Reader, table: dict[str, Any], key: str, config: Config,
             need_password: bool) -> ImapAccount | None:
    before = len(r.problems)
    r.unknown(table, key, _KEYS)
    auth = r.get(table, f"{key}.auth", "password", one_of("password", "oauth2"))
    needed = [("name", '"support"'), ("host", '"imap.example.com"'), ("username", '"support@example.com"')]
    if auth == "password":
        needed.append(("password_env", '"HELPDESK_IMAP_PASSWORD"'))
        r.unused(table, key, OAUTH2_KEYS, 'only used with auth = "oauth2"; set that, or remove the key')
    else:
        r.unused(table, key, {"password_env"}, 'not used with auth = "oauth2" (the login is by access token); '
                 "remove it")
    for required, example in needed:
        r.require(table, f"{key}.{required}", f"set it, like {required} = {example}")
    name = r.get(table, f"{key}.name", "", as_str)
    if name and not _NAME.match(name):
        r.problems.append(f"{key}.name: {name!r} is not a usable account name; use up to 64 letters, "
                          "digits, '.', '_' or '-' (it is part of every stored message's source key)")
    security = r.get(table, f"{key}.security", "tls", one_of("tls", "starttls", "none"))
    password_env = r.get(table, f"{key}.password_env", "", env_name)
    if need_password and password_env and password_env not in os.environ:
        r.problems.append(f"{key}.password_env: the environment variable {password_env} is not set; "
                          "export it with the mailbox password")
    folder = r.get(table, f"{key}.folder", "INBOX", _folder)
    done_folder = r.get(table, f"{key}.done_folder", None, _folder)
    if done_folder is not None and done_folder == folder:
        r.problems.append(f"{key}.done_folder: must differ from folder ({folder!r}); "
                          "leave it out to mark stored mail \\Seen instead")
    poll_interval = r.get(table, f"{key}.poll_interval", timedelta(seconds=60), _positive_interval)
    stale_after = r.get(table, f"{key}.stale_after", timedelta(minutes=10), _positive_interval)
    if stale_after <= poll_interval:
        r.problems.append(f"{key}.stale_after: must be longer than poll_interval "
                          f"({poll_interval.total_seconds():g}s), like stale_after = \"10m\"")
    base = config.path.parent if config.path else Path.cwd()
    username = r.get(table, f"{key}.username", "", as_str)
    oauth2 = read_oauth2(r, table, key, base, username, need_password) if auth == "oauth2" else None
    ca_path = read_ca_file(r, table, f"{key}.ca_file", base, "the server")
    account = ImapAccount(
        name=name,
        host=r.get(table, f"{key}.host", "", as_str),
        port=r.get(table, f"{key}.port", 993 if security == "tls" else 143, as_port),
        security=security,
        username=username,
        password_env=password_env,
        password=os.environ.get(password_env, "") if password_env else "",
        folder=folder,
        done_folder=done_folder,
        idle=r.get(table, f"{key}.idle", True, as_bool),
        poll_interval=poll_interval,
        timeout=r.get(table, f"{key}.timeout", timedelta(seconds=30), _positive_interval),
        stale_after=stale_after,
        ca_file=ca_path,
        max_message_size=config.smtp.max_message_size,
        oauth2=oauth2,
    )
    return account if len(r.problems) == before else None


def imap_problems(config: Config) -> list[str]:
    """Every problem of the ``[[imap]]`` accounts, each naming its key and the fix."""
    try:
        load_imap_accounts(config)
    except ConfigError as exc:
        return exc.problems
    return []


def load_imap_accounts(config: Config, *, need_passwords: bool = True) -> tuple[ImapAccount, ...]:
    """The configured accounts (none when there is no ``[[imap]]``); raise ConfigError if invalid.

    ``need_passwords=False`` is for readers such as ``helpdesk status``, which never log in and
    may run in a shell without the secrets.
    """
    data = config.raw.get("imap", [])
    if isinstance(data, dict):
        raise ConfigError(["imap: must be an array of tables: write [[imap]] (two brackets) "
                           "before each account"])
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise ConfigError(["imap: must be an array of tables, one [[imap]] per account"])
    r = Reader()
    accounts: list[ImapAccount] = []
    for index, table in enumerate(data):
        account = _account(r, table, f"imap[{index}]", config, need_passwords)
        if account is not None:
            accounts.append(account)
    seen: dict[str, int] = {}
    for index, table in enumerate(data):
        name = table.get("name")
        if isinstance(name, str) and name in seen:
            r.problems.append(f"imap[{index}].name: {name!r} is already the name of imap[{seen[name]}]; "
                              "each account needs its own name")
        elif isinstance(name, str):
            seen[name] = index
    if r.problems:
        raise ConfigError(r.problems)
    return tuple(accounts)
