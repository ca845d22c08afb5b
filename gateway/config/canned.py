"""Canned replies, read from ``[canned.NAME]``: the texts an engineer sends with ``#reply NAME``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gateway.config.languages import parse_language

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_KEYS = ("text", "description", "languages")
# Only to read the texts for syntax: they are rendered by the gateway's own template sandbox.
_SYNTAX = ImmutableSandboxedEnvironment()


@dataclass(frozen=True, slots=True)
class CannedReply:
    """One canned reply: its text (a Jinja template), a line saying what it is for, and the text
    in other languages (ISO 639-1 code to template); the customer's language is used when there."""

    name: str
    text: str
    description: str = ""
    languages: Mapping[str, str] = field(default_factory=dict)

    def text_in(self, language: str | None) -> str:
        return self.languages.get(language or "", self.text)


def _template(value: Any, key: str, problems: list[str]) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}: must be the reply's text, a non-empty string (a Jinja template: "
                        "{{ customer.name }}, {{ ticket.number }}, {{ ticket.eta }} ...)")
        return None
    try:
        _SYNTAX.parse(value)
    except TemplateSyntaxError as exc:
        problems.append(f"{key}: line {exc.lineno} of the text: {exc.message}; fix the template syntax")
        return None
    return value


def _one(name: str, item: Any, problems: list[str]) -> CannedReply | None:
    where = f"canned.{name}"
    if not _NAME.match(name):
        problems.append(f"{where}: a canned reply's name is what engineers write after #reply: lower-case "
                        "letters, digits, '.', '_' or '-', like [canned.service-restored]")
        return None
    if not isinstance(item, dict):
        problems.append(f"{where}: must be a table with text (and description, languages)")
        return None
    for key in item:
        if key not in _KEYS:
            problems.append(f"{where}.{key}: unknown key; the keys are {', '.join(_KEYS)}")
    text = _template(item.get("text"), f"{where}.text", problems)
    description = item.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{where}.description: must be one line of text saying when to use it")
        description = ""
    languages: dict[str, str] = {}
    raw = item.get("languages", {})
    if not isinstance(raw, dict):
        problems.append(f'{where}.languages: must be a table of language code to text, like {{ de = "..." }}')
        raw = {}
    for code, value in raw.items():
        try:
            language = parse_language(code)
        except ValueError as exc:
            problems.append(f"{where}.languages.{code}: {exc}")
            continue
        translated = _template(value, f"{where}.languages.{code}", problems)
        if translated is not None:
            languages[language] = translated
    if text is None:
        return None
    return CannedReply(name, text, " ".join(description.split()), languages)


def load_canned(data: Mapping[str, Any], problems: list[str]) -> dict[str, CannedReply]:
    """The ``[canned.NAME]`` tables, by name; each problem noted with its key."""
    raw = data.get("canned", {})
    if not isinstance(raw, dict):
        problems.append("canned: must be tables, written [canned.NAME] with text = \"...\"")
        return {}
    found = {}
    for name, item in raw.items():
        reply = _one(str(name), item, problems)
        if reply is not None:
            found[reply.name] = reply
    return found
