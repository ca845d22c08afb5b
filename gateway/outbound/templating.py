"""Jinja2 templates rendered in the sandbox: one template set per mail the gateway sends."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, Template, TemplateNotFound, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None


def packaged_templates_dir() -> Path:
    return Path(str(resources.files("gateway") / "templates"))


class Templates:
    """Looks in the configured directory first, then in the templates shipped with the package.

    Each mail NAME has ``NAME.subject.txt``, ``NAME.txt`` and optionally ``NAME.html``. Customer
    data reaches templates only as values; the sandbox keeps templates from reaching further, and
    HTML templates autoescape.
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
        self._no_html: set[str] = set()

    def render(self, name: str, context: dict[str, Any]) -> Rendered:
        subject = self._env.get_template(f"{name}.subject.txt").render(context)
        text = self._env.get_template(f"{name}.txt").render(context)
        html_template = self._html(name)
        html = html_template.render(context) if html_template is not None else None
        return Rendered(subject=" ".join(subject.split()), text=text, html=html)

    def _html(self, name: str) -> Template | None:
        """The mail's HTML template, or None. Jinja2 caches the templates it finds, not the ones it
        does not: a mail without HTML would cost a search of every template directory each time."""
        if name in self._no_html:
            return None
        try:
            return self._env.get_template(f"{name}.html")
        except TemplateNotFound:
            self._no_html.add(name)
            return None

    def check(self, names: list[str]) -> list[str]:
        """Problems with the named templates (missing or not compiling), for check-config."""
        problems = []
        for name in names:
            for suffix in (".subject.txt", ".txt", ".html"):
                try:
                    self._env.get_template(name + suffix)
                except TemplateNotFound:
                    if suffix != ".html":  # the HTML part is optional
                        problems.append(f"templates: {name}{suffix} not found")
                except Exception as exc:  # a syntax error names the line
                    problems.append(f"templates: {name}{suffix}: {exc}")
        return problems
