"""Canned replies, read from ``[canned.NAME]``: the texts an engineer sends with ``#reply NAME``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gateway.config.languages import parse_language
from gateway.config.reader import Reader, as_str

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


def _template(value: Any) -> str:
    """A canned text: a non-empty Jinja template whose syntax reads."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be the reply's text, a non-empty string (a Jinja template: {{ customer.name }}, "
                         "{{ ticket.number }}, {{ ticket.eta }} ...)")
    try:
        _SYNTAX.parse(value)
    except TemplateSyntaxError as exc:
        raise ValueError(f"line {exc.lineno} of the text: {exc.message}; fix the template syntax") from None
    return value


def _one(r: Reader, where: str, name: str, item: dict[str, Any]) -> CannedReply | None:
    if not _NAME.match(name):
        r.problems.append(f"{where}: a canned reply's name is what engineers write after #reply: lower-case "
                          "letters, digits, '.', '_' or '-', like [canned.service-restored]")
        return None
    r.unknown(item, where, _KEYS)
    if not r.require(item, f"{where}.text", 'write the reply, text = """Hello {{ customer.name }}, ..."""'):
        return None
    text = r.get(item, f"{where}.text", None, _template)
    description = r.get(item, f"{where}.description", "", as_str, "one line saying when to use it")
    languages: dict[str, str] = {}
    raw = r.table(item, f"{where}.languages", '{ de = "..." }: a language code to the text in it')
    for code, value in raw.items():
        language = r.value(f"{where}.languages.{code}", code, None, parse_language)
        translated = r.value(f"{where}.languages.{code}", value, None, _template)
        if language is not None and translated is not None:
            languages[language] = translated
    if text is None:
        return None
    return CannedReply(name, text, " ".join(description.split()), languages)


def load_canned(r: Reader, data: dict[str, Any]) -> dict[str, CannedReply]:
    """The ``[canned.NAME]`` tables, by name; each problem noted with its key."""
    found = {}
    for where, name, item in r.tables(data, "canned", "a table with text (and description, languages)",
                                      '[canned.NAME] with text = "..."'):
        reply = _one(r, where, name, item)
        if reply is not None:
            found[reply.name] = reply
    return found
