"""Jinja2 templates rendered in the sandbox: one template set per mail the gateway sends, per language."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, Template, TemplateNotFound, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gateway.config.languages import BASE_LANGUAGE, languages_in, packaged_templates_dir
from gateway.outbound.locale_format import FILTERS

__all__ = ["BASE_LANGUAGE", "Rendered", "Templates", "packaged_templates_dir"]


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None


class Templates:
    """Looks in the configured directory first, then in the templates shipped with the package.

    Each mail NAME has ``NAME.subject.txt``, ``NAME.txt`` and optionally ``NAME.html``. Customer
    data reaches templates only as values; the sandbox keeps templates from reaching further, and
    HTML templates autoescape.

    A mail in another language comes from ``<lang>/NAME...`` in either directory, file by file:
    a file the language lacks is the English one. The HTML part goes with the text part: it is
    used only from the language the text came from, so a mail never pairs a German text with an
    English HTML alternative.
    """

    def __init__(self, override_dir: Path | None = None) -> None:
        loaders = [FileSystemLoader(str(override_dir))] if override_dir else []
        loaders.append(FileSystemLoader(str(packaged_templates_dir())))
        self._env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self._env.filters.update(FILTERS)
        found = languages_in(packaged_templates_dir()) | languages_in(override_dir)
        self.languages = frozenset({BASE_LANGUAGE, *found})
        # Jinja2 caches the templates it finds, not the ones it does not: a file missing in a
        # language would cost a search of every template directory on each mail.
        self._missing: set[str] = set()

    def render(self, name: str, context: dict[str, Any], *, language: str | None = None,
               timezone: str | None = None) -> Rendered:
        """Render mail ``name`` in ``language`` (English where it has no template), its dates in
        ``timezone``: both reach the template as ``locale`` for the format_* filters."""
        lang = language if language in self.languages else BASE_LANGUAGE
        context = {**context, "locale": {"language": lang, "timezone": timezone}}
        subject = self._pick(lang, f"{name}.subject.txt")
        text = self._pick(lang, f"{name}.txt")
        if subject is None or text is None:
            raise TemplateNotFound(f"{name}.subject.txt" if subject is None else f"{name}.txt")
        html_template = self._find(self._text_language(lang, name), f"{name}.html")
        html = html_template.render(context) if html_template is not None else None
        return Rendered(subject=" ".join(subject.render(context).split()), text=text.render(context), html=html)

    def render_text(self, source: str, context: dict[str, Any], *, language: str | None = None,
                    timezone: str | None = None) -> str:
        """Render a template written in the config (a canned reply) in the same sandbox, with
        the same filters, and ``locale`` as ``render`` gives it."""
        lang = language if language in self.languages else BASE_LANGUAGE
        return self._env.from_string(source).render({**context, "locale": {"language": lang, "timezone": timezone}})

    def _text_language(self, language: str, name: str) -> str:
        return language if self._find(language, f"{name}.txt") is not None else BASE_LANGUAGE

    def _pick(self, language: str, filename: str) -> Template | None:
        found = self._find(language, filename) if language != BASE_LANGUAGE else None
        return found or self._find(BASE_LANGUAGE, filename)

    def _find(self, language: str, filename: str) -> Template | None:
        path = filename if language == BASE_LANGUAGE else f"{language}/{filename}"
        if path in self._missing:
            return None
        try:
            return self._env.get_template(path)
        except TemplateNotFound:
            self._missing.add(path)
            return None

    def check(self, names: list[str]) -> list[str]:
        """Problems with the named templates (missing or not compiling), for check-config; in the
        other languages, only what is there is checked (a missing file is the English one)."""
        problems = []
        for language in sorted(self.languages):
            prefix = "" if language == BASE_LANGUAGE else f"{language}/"
            for name in names:
                for suffix in (".subject.txt", ".txt", ".html"):
                    try:
                        self._env.get_template(prefix + name + suffix)
                    except TemplateNotFound:
                        if suffix != ".html" and not prefix:  # the HTML part is optional
                            problems.append(f"templates: {name}{suffix} not found")
                    except Exception as exc:  # a syntax error names the line
                        problems.append(f"templates: {prefix}{name}{suffix}: {exc}")
        return problems
