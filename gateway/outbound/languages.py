"""Which language a customer is written to in: the codes the config accepts, and the choice made once per ticket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from babel import Locale, UnknownLocaleError

from gateway.outbound.templating import BASE_LANGUAGE, languages_in, packaged_templates_dir

if TYPE_CHECKING:
    from gateway.config import Config
    from gateway.config.customers import SenderInfo
    from parsers import ParsedMail

# Where a ticket's language came from, in the order they are tried.
SOURCES = ("contact", "organisation", "parent-ticket", "detected", "default")


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


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    code: str
    source: str  # one of SOURCES

    @property
    def detail(self) -> dict[str, str]:
        """For the ticket's event history: which language, and why."""
        return {"code": self.code, "from": self.source}


def choose_language(*, contact: str | None = None, organisation: str | None = None, parent: str | None = None,
                    detected: str | None = None, default: str = BASE_LANGUAGE) -> LanguageChoice:
    """The customer's language: configured for the contact, else for their organisation, else the one
    their conversation began in (the ticket this one follows up), else the language their first
    mail is written in, else the default."""
    for source, code in zip(SOURCES, (contact, organisation, parent, detected, default), strict=True):
        if code:
            return LanguageChoice(code, source)
    return LanguageChoice(BASE_LANGUAGE, "default")


def language_for(info: SenderInfo, mail: ParsedMail, *, parent: str | None, default: str) -> LanguageChoice:
    """The language of a new ticket opened by ``mail`` from ``info``'s sender (``parent``: the
    language of the ticket it follows up). The mail is read only when nothing configured says."""
    from parsers.language import mail_language

    org = info.organisation
    contact = org.contact_language(info.address) if org is not None else None
    organisation = org.language if org is not None else None
    detected = mail_language(mail) if not (contact or organisation or parent) else None
    return choose_language(contact=contact, organisation=organisation, parent=parent, detected=detected,
                           default=default)
