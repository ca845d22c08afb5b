"""Language codes in the config: ISO 639-1, checked against the languages templates exist for."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError

if TYPE_CHECKING:
    from gateway.config import Config

# The language of the templates at the top of a template directory; the others live in
# subdirectories named by their ISO 639-1 code (de/, fr/, ...).
BASE_LANGUAGE = "en"
_CODE = re.compile(r"[a-z]{2,3}")


def packaged_templates_dir() -> Path:
    return Path(str(resources.files("gateway") / "templates"))


def languages_in(directory: Path | None) -> set[str]:
    """The languages a template directory has a subdirectory for."""
    if directory is None or not directory.is_dir():
        return set()
    return {p.name for p in directory.iterdir() if p.is_dir() and _CODE.fullmatch(p.name)}


def shipped_languages() -> frozenset[str]:
    """The languages the gateway ships templates for (English and each templates/<code>/)."""
    return frozenset({BASE_LANGUAGE} | languages_in(packaged_templates_dir()))


def parse_language(value: Any) -> str:
    """An ISO 639-1 code as configured ("de", "FR" → "fr"); raises ValueError naming the fix."""
    shipped = ", ".join(sorted(shipped_languages()))
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'must be a language code like "de" (templates ship for {shipped})')
    code = value.strip().lower()
    known = len(code) == 2 and code.isascii() and code.isalpha()
    if known:
        try:
            Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            known = False
    if not known:
        raise ValueError(f"{value!r} is not an ISO 639-1 language code; write a two-letter code like "
                         f'"de" (templates ship for {shipped})')
    return code


def untranslated(key: str, code: str, available: frozenset[str]) -> str | None:
    """A check-config warning when ``code`` has no templates: its mail goes out in English."""
    if code in available:
        return None
    return (f'{key}: no templates in "{code}" (there are: {", ".join(sorted(available))}); its mail is written '
            f"in English until {code}/ templates are added to the [templates] directory")


def language_warnings(config: Config) -> list[str]:
    """The configured languages that have no templates, shipped or in ``[templates] directory``."""
    available = frozenset(shipped_languages() | languages_in(config.templates_dir))
    keyed = [("gateway.language", config.gateway.language)]
    for index, org in enumerate(config.policy.directory.organisations.values()):
        if org.language:
            keyed.append((f"customers[{index}].language", org.language))
        keyed.extend((f"customers[{index}].contacts ({who}).language", code) for who, code in org.contact_languages)
    return [w for key, code in keyed if (w := untranslated(key, code, available)) is not None]
