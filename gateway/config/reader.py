"""The one reader of config tables: each value converted once, each problem recorded with its key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.config.values import parse_address

T = TypeVar("T")


class Reader:
    """Reads keys from TOML tables, converting once and recording each problem with its key."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def table(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key.rpartition(".")[2], {})
        if not isinstance(value, dict):
            self.problems.append(f"{key}: must be a table, like [{key}]")
            return {}
        return value

    def get(self, table: dict[str, Any], path: str, default: T, convert: Callable[[Any], T],
            fix: str = "") -> T:
        name = path.rpartition(".")[2]
        if name not in table:
            return default
        try:
            return convert(table[name])
        except (ValueError, TypeError, OverflowError) as exc:
            self.problems.append(f"{path}: {exc}{'; ' + fix if fix else ''}")
            return default

    def unknown(self, table: dict[str, Any], prefix: str, known: set[str]) -> None:
        for key in table:
            if key not in known:
                self.problems.append(
                    f"{prefix}.{key}: unknown key; the keys of [{prefix}] are {', '.join(sorted(known))}")


def read_ca_file(r: Reader, table: dict[str, Any], key: str, base: Path, peer: str) -> Path | None:
    """The PEM file of the CA that signed ``peer``'s certificate (relative to ``base``), or None."""
    name = r.get(table, key, None, as_str)
    path = base / name if name else None
    if path is not None and not path.is_file():
        r.problems.append(f"{key}: {path} is not a readable file; give the PEM file of the "
                          f"certificate authority that signed {peer}'s certificate")
    return path


def as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def as_port(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def as_count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


def one_of(*choices: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(repr(c) for c in choices)}")
        return str(value)
    return convert


def as_zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(as_str(value))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone like 'Europe/London'") from exc


def env_name(value: Any) -> str:
    text = as_str(value)
    if not text.replace("_", "").isalnum():
        raise ValueError("must be the NAME of an environment variable, like HELPDESK_SECRET")
    return text


def as_addresses(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError("must be a list of addresses")
    return tuple(parse_address(v) for v in value)


def as_types(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings like ['.exe', 'application/x-msdownload']")
    return tuple(v.lower() for v in value)
