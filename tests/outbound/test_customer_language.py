"""The customer's language without a server: its choice, the config keys, the templates and their fallback."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gateway.config import load_config
from gateway.config.languages import language_warnings, parse_language, shipped_languages
from gateway.errors import ConfigError
from gateway.outbound.languages import choose_language
from gateway.outbound.locale_format import Moment, format_moment
from gateway.outbound.notices import local_time
from gateway.outbound.templating import Templates, packaged_templates_dir
from tests.support import HELPDESK, OUTSIDE

TEMPLATES = packaged_templates_dir()
TRANSLATED = ("de", "fr", "es", "nl")
BERLIN = ZoneInfo("Europe/Berlin")
NINE_UTC = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
BASE = '[gateway]\nsupport_address = "support@example.com"\n'


def _context(**extra: Any) -> dict[str, Any]:
    moment = local_time(NINE_UTC, BERLIN)
    return {"ticket": {"number": 7, "subject": "Export", "priority": "P2", "plan": "standard", "status": "open",
                       "eta": None},
            "customer": {"name": "Anna", "address": "anna@muster.example"},
            "support": {"name": "Example Support", "address": "support@example.com"},
            "sla": {"priority": "P2", "respond_by": moment, "update_every": "2 hours", "after_hours": False,
                    "critical": False, "clock_starts": None, "next_update": moment, "closes_at": moment},
            **extra}


# ---------------------------------------------------------------- choosing

def test_configured_beats_the_conversation_beats_the_mail_beats_the_default() -> None:
    assert choose_language(contact="fr", organisation="de", parent="nl", detected="es").source == "contact"
    assert choose_language(organisation="de", parent="nl", detected="es").code == "de"
    assert choose_language(parent="nl", detected="es").code == "nl"
    assert choose_language(detected="es", default="de").code == "es"
    assert choose_language(default="de") == choose_language(default="de")
    assert choose_language(default="de").detail == {"code": "de", "from": "default"}


@pytest.mark.parametrize(("value", "code"), [("de", "de"), ("FR", "fr"), (" nl ", "nl"), ("it", "it")])
def test_language_codes_are_read_once(value: str, code: str) -> None:
    assert parse_language(value) == code


@pytest.mark.parametrize("value", ["german", "xx", "de-DE", "", 3])
def test_a_bad_language_code_names_the_fix(value: object) -> None:
    with pytest.raises(ValueError, match=r'(two-letter|language) code like "de"'):
        parse_language(value)


def test_the_shipped_languages() -> None:
    assert {"en", *TRANSLATED} <= shipped_languages()


# ---------------------------------------------------------------- config keys

def test_gateway_language_defaults_to_english_and_is_validated() -> None:
    assert load_config(None, text=BASE).gateway.language == "en"
    assert load_config(None, text=BASE + 'language = "DE"\n').gateway.language == "de"
    with pytest.raises(ConfigError) as caught:
        load_config(None, text=BASE + 'language = "german"\n')
    [problem] = caught.value.problems
    assert problem.startswith("gateway.language: 'german' is not an ISO 639-1 language code")
    assert 'like "de"' in problem


CUSTOMERS = BASE + """
[[customers]]
name = "Musterfirma"
domains = ["muster.example"]
language = "de"
contacts = ["anna@muster.example", { address = "Pierre <pierre@muster.example>", language = "fr" },
            { address = "gianni@muster.example", language = "it" }]
"""


def test_an_organisation_and_each_contact_can_have_a_language() -> None:
    directory = load_config(None, text=CUSTOMERS).policy.directory
    assert directory.lookup("anna@muster.example").language == "de"
    assert directory.lookup("Pierre@Muster.example").language == "fr"
    assert directory.lookup("colleague@muster.example").language == "de"
    assert directory.lookup("stranger@else.example").language is None
    assert directory.lookup("pierre@muster.example").is_contact


@pytest.mark.parametrize(("entry", "expected"), [
    ('{ address = "p@muster.example", language = "french" }', "customers[0].contacts[0].language: 'french' is not"),
    ('{ address = "p@muster.example", lang = "fr" }', "customers[0].contacts[0].lang: unknown key"),
    ('{ language = "fr" }', "customers[0].contacts[0]: write an address"),
])
def test_a_bad_contact_entry_names_its_key(entry: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, text=BASE + f'[[customers]]\nname = "M"\ncontacts = [{entry}]\n')
    assert any(p.startswith(expected) for p in caught.value.problems), caught.value.problems


def test_a_language_without_templates_is_a_warning_not_an_error() -> None:
    config = load_config(None, text=CUSTOMERS)
    [warning] = language_warnings(config)
    assert warning.startswith('customers[0].contacts (gianni@muster.example).language: no templates in "it"')
    assert "in English" in warning


def test_check_config_prints_the_warning_and_passes(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(BASE + f'data_dir = "{tmp_path / "var"}"\n' + CUSTOMERS.removeprefix(BASE), encoding="utf-8")
    result = subprocess.run([*HELPDESK, "-c", str(config), "check-config"], capture_output=True, text=True,
                            cwd=OUTSIDE, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'warning: customers[0].contacts (gianni@muster.example).language: no templates in "it"' in result.stderr


def test_templates_in_the_configured_directory_make_a_language_available(tmp_path: Path) -> None:
    (tmp_path / "templates" / "it").mkdir(parents=True)
    text = CUSTOMERS + f'[templates]\ndirectory = "{tmp_path / "templates"}"\n'
    assert language_warnings(load_config(None, text=text)) == []


# ---------------------------------------------------------------- templates

def _variables(path: Path) -> set[str]:
    """The dotted names a template reads (``sla.respond_by``), filters and literals left out."""
    names = set()
    for expression in re.findall(r"{[{%](.*?)[%}]}", path.read_text(encoding="utf-8"), re.S):
        expression = re.sub(r"\"[^\"]*\"|'[^']*'|\|\s*\w+(\([^)]*\))?", " ", expression)
        names.update(re.findall(r"\b(?:customer|support|ticket|sla|paged|engineer|reply|reason|subject|organisation)"
                                r"(?:\.\w+)*", expression))
    return names


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_translation_keeps_every_value_the_english_one_shows(language: str) -> None:
    translated = sorted((TEMPLATES / language).iterdir())
    assert {p.name for p in translated} >= {"acknowledgement.txt", "acknowledgement.html", "update_notice.txt",
                                            "stale_notice.txt", "closure_notice.txt", "status_paged.txt"}
    for path in translated:
        assert _variables(path) >= _variables(TEMPLATES / path.name), path


def test_a_german_acknowledgement_with_a_german_date() -> None:
    rendered = Templates().render("acknowledgement", _context(), language="de", timezone="Europe/Berlin")
    assert "Guten Tag Anna," in rendered.text
    assert "spätestens am Montag, 23. November 2026, 10:15 MEZ" in " ".join(rendered.text.split())
    assert "in Abständen von höchstens 2 Stunden" in " ".join(rendered.text.split())
    assert rendered.html is not None and '<html lang="de">' in rendered.html
    assert rendered.subject == "[#7] Export"  # no words of its own: the English file


def test_english_reads_exactly_as_before() -> None:
    rendered = Templates().render("acknowledgement", _context(), language="en", timezone="Europe/Berlin")
    assert "We will respond by Monday 23 November 2026 10:15 CET (P2)" in rendered.text
    moment = local_time(NINE_UTC, BERLIN)
    assert isinstance(moment, Moment) and moment == "Monday 23 November 2026 10:15 CET"
    assert format_moment(NINE_UTC, BERLIN, "en") == moment


@pytest.mark.parametrize("language", [None, "it", "xx", "../etc"])
def test_a_language_without_templates_gets_the_english_ones(language: str | None) -> None:
    english = Templates().render("stale_notice", _context())
    assert Templates().render("stale_notice", _context(), language=language) == english


def test_fallback_is_per_file_and_html_follows_its_text(tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    (tmp_path / "de" / "update_notice.subject.txt").write_text("Neu: {{ ticket.subject }}\n", encoding="utf-8")
    (tmp_path / "pt").mkdir()
    (tmp_path / "pt" / "acknowledgement.html").write_text("<p>Olá</p>\n", encoding="utf-8")
    templates = Templates(tmp_path)
    update = templates.render("update_notice", _context(), language="de")
    assert update.subject == "Neu: Export"  # the configured directory's German subject
    assert "Unsere Techniker arbeiten weiter daran." in update.text  # the shipped German text
    ack = templates.render("acknowledgement", _context(), language="pt")
    assert ack.text.startswith("Hello Anna,")  # no Portuguese text: the English one...
    assert ack.html is not None and "Hello Anna" in ack.html  # ...and the English HTML with it


def test_closure_reasons_are_translated_and_unknown_ones_kept() -> None:
    templates = Templates()
    known = templates.render("closure_notice", _context(reason="no answer from the customer"), language="fr")
    assert "(sans réponse de votre part)" in known.text and known.subject == "[#7] Clôturé : Export"
    other = templates.render("closure_notice", _context(reason="merged"), language="nl")
    assert "(merged)" in other.text


@pytest.mark.parametrize(("language", "expected"), [
    ("de", "Montag, 23. November 2026, 10:15 MEZ"),
    ("fr", "lundi 23 novembre 2026, 10:15 CET"),
    ("es", "lunes, 23 de noviembre de 2026, 10:15 CET"),
    ("nl", "maandag 23 november 2026, 10:15 CET"),
])
def test_dates_are_written_the_way_the_language_writes_them(language: str, expected: str) -> None:
    rendered = Templates().render("update_notice", _context(), language=language)
    assert expected in " ".join(rendered.text.split())


def test_every_language_compiles() -> None:
    names = sorted(p.name.removesuffix(".subject.txt") for p in TEMPLATES.glob("*.subject.txt"))
    assert Templates().check(names) == []
