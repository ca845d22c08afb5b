"""Priority rules: a ParsedMail and its sender's context -> a Classification with reasons (pure)."""

from rules.actions import Actions
from rules.compile import RuleConfigError, compile_rules
from rules.condition import Condition
from rules.context import RuleContext
from rules.declared import Declaration, find_declared
from rules.defaults import (
    default_rules_path,
    default_rules_text,
    default_ruleset,
    load_default_rule_tables,
)
from rules.engine import Rule, RuleSet, classify
from rules.mailview import MailView
from rules.priority import PRIORITIES
from rules.result import Classification, RuleOutcome

__all__ = [
    "PRIORITIES",
    "Actions",
    "Classification",
    "Condition",
    "Declaration",
    "MailView",
    "Rule",
    "RuleConfigError",
    "RuleContext",
    "RuleOutcome",
    "RuleSet",
    "classify",
    "compile_rules",
    "default_rules_path",
    "default_rules_text",
    "default_ruleset",
    "find_declared",
    "load_default_rule_tables",
]
