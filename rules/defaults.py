"""The shipped default rule set: the SLA seeds' severity definitions as TOML rule tables."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from rules.compile import compile_rules
from rules.engine import RuleSet

DEFAULT_RULES_FILE = "default_rules.toml"


def default_rules_path() -> Path:
    """Where the shipped ``default_rules.toml`` is, to copy into a config file."""
    return Path(__file__).with_name(DEFAULT_RULES_FILE)


def default_rules_text() -> str:
    return resources.files("rules").joinpath(DEFAULT_RULES_FILE).read_text(encoding="utf-8")


def load_default_rule_tables() -> list[dict[str, Any]]:
    """The ``[[rules]]`` tables of the shipped defaults, as tomllib parses them."""
    tables = tomllib.loads(default_rules_text())["rules"]
    if not isinstance(tables, list):  # a packaging mistake, not a user's
        raise TypeError(f"{DEFAULT_RULES_FILE}: 'rules' is not an array of tables")
    return tables


def default_ruleset() -> RuleSet:
    """The defaults compiled alone. They name no organisation, plan, group or contact."""
    return compile_rules(load_default_rule_tables(), organisations=(), plans=(), groups=(), contacts=())
