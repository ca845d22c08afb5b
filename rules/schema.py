"""Readers for the values of a rule table: each checks one TOML value and says how to fix it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable

from rules.priority import PRIORITIES, normalise_priority
from rules.words import word_problem

_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 section 3.6.8 field-name


class Problem(Exception):
    """One thing wrong with one key of one rule, and how to fix it."""

    def __init__(self, key: str, message: str, fix: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message
        self.fix = fix


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def listing(choices: Collection[str], limit: int = 8) -> str:
    names = sorted(choices)
    if not names:
        return "none are configured"
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def read_bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise Problem(key, f"{value!r} is not true or false", f"write {key.rsplit('.')[-1]} = true")
    return value


def read_strings(value: object, key: str, *, what: str, example: str) -> list[str]:
    """A string or a non-empty list of non-empty strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise Problem(key, f"must be {what} or a list of them", f"write {example}")
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise Problem(key, f"{item!r} is not a non-empty string", f"write {example}")
    return [str(item).strip() for item in items]


def read_words(value: object, key: str) -> list[str]:
    """A non-empty list of words or phrases; a bare string is refused because
    ``words = "down, outage"`` would silently be one phrase that never occurs."""
    short = key.rsplit(".")[-1]
    example = f'{short} = ["outage", "down for everyone"]'
    if not isinstance(value, list) or not value:
        raise Problem(key, "must be a non-empty list of words or phrases", f"write {example}")
    for word in value:
        problem = word_problem(word)
        if problem is not None:
            raise Problem(key, problem, f"write {example}; '*' at either end matches any letters")
    return [str(w).strip() for w in value]


def read_priority(value: object, key: str) -> str:
    priority = normalise_priority(value)
    if priority is None:
        raise Problem(
            key,
            f"{value!r} is not a priority",
            f"use one of {', '.join(repr(p) for p in PRIORITIES)} (P1 is the most urgent)",
        )
    return priority


def read_priorities(value: object, key: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise Problem(key, "is an empty list", 'write declared_priority = ["P1", "P2"]')
    return [read_priority(item, key) for item in items]


def read_regex(pattern: object, key: str, flags: int) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise Problem(key, f"{pattern!r} is not a string", "write the pattern as a TOML string")
    if not pattern:
        raise Problem(key, "the empty pattern matches every mail", "remove the condition")
    try:
        return re.compile(pattern, flags)
    except re.error as error:
        where = f" at position {error.pos}" if error.pos is not None else ""
        raise Problem(
            key,
            f"bad regular expression {pattern!r}: {error.msg}{where}",
            "correct the pattern (Python re syntax); in TOML use a literal string "
            "'...' so backslashes stay as written, and escape literal ( [ . * + ? with \\",
        ) from None


def read_known(value: object, key: str, known: Collection[str], *, what: str, section: str) -> list[str]:
    """Names that must exist in config: an unknown one means the rule can never match (or
    acts on nobody), which is a mistake worth stopping for."""
    names = read_strings(value, key, what=f"a {what} name", example=f'{key.rsplit(".")[-1]} = "name"')
    for name in names:
        if name not in known:
            raise Problem(
                key,
                f"unknown {what} {name!r}{did_you_mean(name, known)}",
                f"use a {what} configured in {section} ({listing(known)}), or remove it",
            )
    return names


def read_near_tables(value: object, key: str) -> list[tuple[list[str], list[str], int]]:
    """``near``: a table (or list of tables) with words, followed_by and optional within."""
    example = '[rules.when.near] words = ["everyone"], followed_by = ["cannot", "can\'t"], within = 60'
    tables = value if isinstance(value, list) else [value]
    if not tables:
        raise Problem(key, "is an empty list", f"write {example}")
    tests: list[tuple[list[str], list[str], int]] = []
    for table in tables:
        if not isinstance(table, dict):
            raise Problem(key, f"{table!r} is not a table", f"write {example}")
        extra = set(table) - {"words", "followed_by", "within"}
        if extra:
            name = sorted(extra)[0]
            raise Problem(
                key,
                f"unknown key {name!r}{did_you_mean(name, ['words', 'followed_by', 'within'])}",
                f"use only words, followed_by and within: {example}",
            )
        for part in ("words", "followed_by"):
            if part not in table:
                raise Problem(key, f"{part} is missing", f"write {example}")
        within = table.get("within", 60)
        if isinstance(within, bool) or not isinstance(within, int) or not 0 <= within <= 1000:
            raise Problem(f"{key}.within", f"{within!r} is not a number of characters (0..1000)", "write within = 60")
        tests.append(
            (read_words(table["words"], f"{key}.words"), read_words(table["followed_by"], f"{key}.followed_by"), within)
        )
    return tests


def read_header_tests(value: object, key: str, flags: int) -> list[tuple[str, re.Pattern[str] | None]]:
    example = '[rules.when.header] name = "X-Priority", pattern = "^1"'
    tables = value if isinstance(value, list) else [value]
    if not tables:
        raise Problem(key, "is an empty list", f"write {example}")
    tests: list[tuple[str, re.Pattern[str] | None]] = []
    for table in tables:
        if not isinstance(table, dict):
            raise Problem(key, f"{table!r} is not a table", f"write {example}")
        extra = set(table) - {"name", "pattern"}
        if extra:
            raise Problem(key, f"unknown key {sorted(extra)[0]!r}", f"use only name and pattern: {example}")
        name = table.get("name")
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise Problem(key, f"name {name!r} is not a header name", f"write {example}")
        pattern = table.get("pattern")
        compiled = None if pattern is None else read_regex(pattern, f"{key}.pattern", flags)
        tests.append((name, compiled))
    return tests
