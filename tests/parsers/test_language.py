"""The language of a customer's first mail (parsers/language.py): pure, bounded, unsure when it should be."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime

import pytest

from parsers import parse
from parsers.language import MAX_CHARS, detect_language, mail_language, words_of
from tests.support import SHARED, customer_mail, require

LABELLED_DEV = SHARED / "labelled-dev"
RECEIVED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "code"), [
    ("Guten Morgen, seit heute früh können wir keine Rechnungen mehr drucken. Bitte um Rückruf.", "de"),
    ("Bonjour, depuis ce matin nous ne pouvons plus imprimer les factures. Merci de nous rappeler.", "fr"),
    ("Hola, desde esta mañana no podemos imprimir las facturas. Por favor, llámennos.", "es"),
    ("Goedemorgen, sinds vanochtend kunnen we geen facturen meer afdrukken. Wilt u ons terugbellen?", "nl"),
    ("Good morning, since this morning we cannot print invoices any more. Please call us back.", "en"),
    ("Buongiorno, da stamattina non riusciamo più a stampare le fatture. Potete richiamarci?", "it"),
])
def test_a_paragraph_is_recognised(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize("text", [
    "",
    "Thanks!",
    "URGENT",
    "https://portal.example.com/tickets/4711 user@example.com 0800 123 456 ERR_5003 v2.4.1",
    "C:\\Program Files\\App\\app.exe /var/log/syslog 10.0.0.1",
])
def test_short_or_wordless_text_is_unsure(text: str) -> None:
    assert detect_language(text) is None


def test_shouting_reads_like_the_same_words_in_lower_case() -> None:
    text = "NONE OF OUR STORES CAN TAKE CARD PAYMENTS. EVERY TERMINAL SAYS HOST UNAVAILABLE. CALL ME NOW!"
    assert detect_language(text) == "en"


def test_only_the_first_few_kilobytes_are_read() -> None:
    german = "Der Server antwortet seit heute Morgen nicht mehr, bitte prüfen Sie das dringend. "
    text = german * 40 + "The rest is a long English log pasted below the question. " * 10_000
    assert len(words_of(text)) <= MAX_CHARS
    assert detect_language(text) == "de"


def test_a_mail_is_read_on_its_own_words_not_the_quoted_history() -> None:
    body = ("Hallo zusammen, das Problem ist leider wieder aufgetreten, der Export bricht nach wenigen "
            "Sekunden ab.\n\nViele Grüße\nAnna\n\n"
            "On Mon, 23 Nov 2026 at 09:00, Support <support@example.com> wrote:\n"
            + "> Thank you for contacting us. We have opened a ticket for your request and an engineer\n" * 30)
    mail = parse(customer_mail("Anna <anna@muster.example>", "Re: Export", body), received_at=RECEIVED)
    assert mail_language(mail) == "de"


def _labelled() -> list[dict[str, str]]:
    require((LABELLED_DEV / "labels.tsv").exists(), f"the labelled mails are not at {LABELLED_DEV} (a user's clone)")
    with open(LABELLED_DEV / "labels.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_labelled_dev_languages() -> None:
    """Every labelled mail's first-mail language: printed per language, so each run shows it."""
    rows = _labelled()
    outcome: Counter[str] = Counter()
    per_language: Counter[tuple[str, str]] = Counter()
    mistakes = []
    for row in rows:
        mail = parse((LABELLED_DEV / row["file"]).read_bytes(), received_at=RECEIVED)
        got = mail_language(mail)
        verdict = "right" if got == row["language"] else "unsure" if got is None else "wrong"
        outcome[verdict] += 1
        per_language[(row["language"], verdict)] += 1
        if verdict == "wrong":
            mistakes.append(f"{row['file']}: {row['language']} read as {got}")
    totals = Counter(row["language"] for row in rows)
    print(f"\nlabelled-dev languages: {outcome['right']}/{len(rows)} right, {outcome['unsure']} unsure, "
          f"{outcome['wrong']} wrong; "
          + ", ".join(f"{lang} {per_language[(lang, 'right')]}/{totals[lang]}" for lang in sorted(totals)))
    # Unsure costs little (the default language); a wrong language costs the customer's trust.
    assert outcome["wrong"] <= len(rows) // 50, mistakes
    assert outcome["right"] >= len(rows) * 0.95
