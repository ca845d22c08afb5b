"""Which language a customer is written to in: the choice made once, when their ticket opens."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config.customers import SenderInfo
from gateway.config.languages import BASE_LANGUAGE
from parsers import ParsedMail
from parsers.language import mail_language

# Where a ticket's language came from, in the order they are tried.
SOURCES = ("contact", "organisation", "parent-ticket", "detected", "default")


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
    org = info.organisation
    contact = org.contact_language(info.address) if org is not None else None
    organisation = org.language if org is not None else None
    detected = mail_language(mail) if not (contact or organisation or parent) else None
    return choose_language(contact=contact, organisation=organisation, parent=parent, detected=detected,
                           default=default)
