"""The one reader of config tables: each value converted once, each problem recorded with its key."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.config.values import parse_address

T = TypeVar("T")


class Reader:
    """Reads keys from TOML tables, converting once and recording each problem with its key.

    Every section loader takes the one Reader of the config: it finds tables and arrays of tables
    (``table``, ``entries``, ``tables``), converts values (``get``, ``value``), names what is
    missing (``require``) and what is misspelt (``unknown``); its own checks go to ``problems``.
    """

    def __init__(self) -> None:
        self.problems: list[str] = []

    def optional_table(self, data: dict[str, Any], key: str, hint: str = "") -> dict[str, Any] | None:
        """The table ``[key]``, or None when it is absent or not a table (that problem noted)."""
        name = key.rpartition(".")[2]
        if name not in data:
            return None
        value = data[name]
        if not isinstance(value, dict):
            self.problems.append(f"{key}: must be a table, like [{key}]{' ' + hint if hint else ''}")
            return None
        return value

    def table(self, data: dict[str, Any], key: str, hint: str = "") -> dict[str, Any]:
        """The table ``[key]``; empty when it is absent or not a table (that problem noted)."""
        value = self.optional_table(data, key, hint)
        return {} if value is None else value

    def entries(self, data: dict[str, Any], key: str, item: str,
                written: str = "") -> Iterator[tuple[str, int, dict[str, Any]]]:
        """The tables of an array written ``[[key]]``: each as (its key, its index, the table).

        A value that is not a list, or an entry that is not a table, is noted ("must be ``item``")
        and skipped; problems are noted as the entries are read, so they stay in file order."""
        values = data.get(key.rpartition(".")[2], [])
        if not isinstance(values, list):
            self.problems.append(f"{key}: must be a list of tables, written [[{written or key}]]")
            return
        for index, value in enumerate(values):
            where = f"{key}[{index}]"
            if isinstance(value, dict):
                yield where, index, value
            else:
                self.problems.append(f"{where}: must be {item}")

    def tables(self, data: dict[str, Any], key: str, item: str,
               written: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
        """The named tables written ``[key.NAME]``: each as (its key, its name, the table)."""
        values = data.get(key.rpartition(".")[2], {})
        if not isinstance(values, dict):
            self.problems.append(f"{key}: must be tables, written {written or f'[{key}.NAME]'}")
            return
        for name, value in values.items():
            where = f"{key}.{name}"
            if isinstance(value, dict):
                yield where, str(name), value
            else:
                self.problems.append(f"{where}: must be {item}")

    def get(self, table: dict[str, Any], path: str, default: T, convert: Callable[[Any], T],
            fix: str = "") -> T:
        """The key at the end of ``path`` in ``table``, converted; ``default`` when absent or wrong."""
        name = path.rpartition(".")[2]
        if name not in table:
            return default
        return self.value(path, table[name], default, convert, fix)

    def value(self, path: str, value: Any, default: T, convert: Callable[[Any], T], fix: str = "") -> T:
        """``value`` (written at ``path``) converted; ``default``, with the problem noted, when it cannot be."""
        try:
            return convert(value)
        except (ValueError, TypeError, OverflowError) as exc:
            self.problems.append(f"{path}: {exc}{'; ' + fix if fix else ''}")
            return default

    def require(self, table: dict[str, Any], path: str, fix: str) -> bool:
        """Whether the key at the end of ``path`` is written; when not, "missing; ``fix``" is noted."""
        if path.rpartition(".")[2] in table:
            return True
        self.problems.append(f"{path}: missing; {fix}")
        return False

    def unused(self, table: dict[str, Any], prefix: str, keys: Collection[str], why: str) -> None:
        """Note each of ``keys`` written in ``table`` that the settings chosen do not use."""
        for key in sorted(set(table) & set(keys)):
            self.problems.append(f"{prefix}.{key}: {why}")

    def unknown(self, table: dict[str, Any], prefix: str, known: Collection[str], hint: str = "") -> None:
        """Note each key of ``table`` not in ``known`` (listed sorted when a set, else in its order)."""
        names = sorted(known) if isinstance(known, set | frozenset) else list(known)
        for key in table:
            if key not in known:
                self.problems.append(f"{prefix}.{key}: unknown key; {hint or 'the keys are ' + ', '.join(names)}")


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
            raise ValueError(f"must be one of {', '.join(repr(c) for c in choices)}, not {value!r}")
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


def as_list(message: str) -> Callable[[Any], list[Any]]:
    """A list, its entries read one by one after; ``message`` says what it must be."""
    def convert(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(message)
        return value
    return convert


def string_list(message: str, *, empty: bool = True) -> Callable[[Any], tuple[str, ...]]:
    """A list of strings (not empty, unless ``empty``); ``message`` says what it must be."""
    def convert(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not (value or empty):
            raise ValueError(message)
        return tuple(value)
    return convert
