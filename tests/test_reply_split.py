"""split_reply: the new text of replies written the way each client and language writes them."""

from __future__ import annotations

import time

import pytest

from parsers.reply_split import REPLY_MARKER, split_reply

NEW = "Thanks, the printer works again.\nOne more question: can I order toner?"
NEW_DE = "Danke, der Drucker geht wieder."
NEW_FR = "Merci, l'imprimante fonctionne à nouveau."
NEW_ES = "Gracias, la impresora ya funciona."

QUOTED = "> Hello Bob,\n> please restart the printer.\n>\n> Kind regards\n> Support"

CASES = {
    "gmail": (
        f"{NEW}\n\nOn Mon, Jan 1, 2024 at 10:00 AM Support Team <support@example.com> wrote:\n"
        f"\n{QUOTED}\n",
        NEW,
    ),
    "gmail-wrapped": (
        f"{NEW}\n\nOn Mon, Jan 1, 2024 at 10:00 AM Support Team <\nsupport@example.com> wrote:\n"
        f"\n{QUOTED}\n",
        NEW,
    ),
    "gmail-wrapped-before-address": (
        f"{NEW}\n\nOn Mon, Jan 1, 2024 at 10:00 AM Support Team\n<support@example.com> wrote:\n"
        f"{QUOTED}\n",
        NEW,
    ),
    "outlook-original-message": (
        f"{NEW}\n\nBob\n\n-----Original Message-----\nFrom: Support <support@example.com>\n"
        "Sent: Monday, January 1, 2024 10:00 AM\nTo: Bob <bob@example.com>\n"
        "Subject: RE: [#12] Printer\n\nHello Bob,\nplease restart the printer.\n",
        f"{NEW}\n\nBob",
    ),
    "outlook-separator": (
        f"{NEW}\n\n________________________________\nFrom: Support <support@example.com>\n"
        "Sent: Monday, January 1, 2024 10:00:00 AM\nTo: Bob <bob@example.com>\n"
        "Subject: [#12] Printer\n\nHello Bob,\n",
        NEW,
    ),
    "outlook-header-block": (
        f"{NEW}\n\nFrom: Support <support@example.com>\nSent: Monday, January 1, 2024 10:00\n"
        "To: Bob <bob@example.com>\nCc: Carol <carol@example.com>\nSubject: RE: Printer\n\n"
        "Hello Bob,\n",
        NEW,
    ),
    "outlook-web-bold": (
        f"{NEW}\n\n*From:* Support <support@example.com>\n*Sent:* Monday, January 1, 2024\n"
        "*To:* Bob <bob@example.com>\n*Subject:* RE: Printer\n\nHello Bob,\n",
        NEW,
    ),
    "apple-mail": (
        f"{NEW}\n\n> On 1 Jan 2024, at 10:00, Support Team <support@example.com> wrote:\n>\n"
        f"{QUOTED}\n",
        NEW,
    ),
    "apple-unquoted-attribution": (
        f"{NEW}\n\nOn 1 Jan 2024, at 10:00, Support Team <support@example.com> wrote:\n\n"
        f"{QUOTED}\n",
        NEW,
    ),
    "iphone": (
        f"{NEW}\n\nSent from my iPhone\n\n> On 1 Jan 2024, at 10:00, Support <s@example.com> "
        f"wrote:\n{QUOTED}\n",
        NEW,
    ),
    "thunderbird": (
        f"{NEW}\n\nOn 01/01/2024 10:00, Support Team wrote:\n{QUOTED}\n",
        NEW,
    ),
    "quote-only": (f"{NEW}\n\n{QUOTED}\n", NEW),
    "signature": (f"{NEW}\n\n-- \nBob Example\nACME Corp, +1 555 0100\n", NEW),
    "signature-no-space": (f"{NEW}\n--\nBob Example\n", NEW),
    "interleaved": (
        "> Which model do you have?\nA LaserJet 4.\n\n> Is it under warranty?\nYes, until May.\n",
        "A LaserJet 4.\n\nYes, until May.",
    ),
    "german-gmail": (
        f"{NEW_DE}\n\nAm Mo., 1. Jan. 2024 um 10:00 Uhr schrieb Support Team "
        f"<support@example.com>:\n\n{QUOTED}\n",
        NEW_DE,
    ),
    "german-thunderbird": (
        f"{NEW_DE}\n\nAm 01.01.2024 um 10:00 schrieb Support Team:\n{QUOTED}\n",
        NEW_DE,
    ),
    "german-outlook": (
        f"{NEW_DE}\n\n-----Ursprüngliche Nachricht-----\nVon: Support <support@example.com>\n"
        "Gesendet: Montag, 1. Januar 2024 10:00\nAn: Bob <bob@example.com>\n"
        "Betreff: AW: Drucker\n\nHallo Bob,\n",
        NEW_DE,
    ),
    "german-outlook-block": (
        f"{NEW_DE}\n\nVon: Support <support@example.com>\nGesendet: Montag, 1. Januar 2024\n"
        "An: Bob <bob@example.com>\nBetreff: AW: Drucker\n\nHallo Bob,\n",
        NEW_DE,
    ),
    "german-iphone": (
        f"{NEW_DE}\n\nVon meinem iPhone gesendet\n\n> Am 01.01.2024 um 10:00 schrieb Support "
        f"<support@example.com>:\n{QUOTED}\n",
        NEW_DE,
    ),
    "french-gmail": (
        f"{NEW_FR}\n\nLe lun. 1 janv. 2024 à 10:00, Support Team <support@example.com> a écrit "
        f":\n\n{QUOTED}\n",
        NEW_FR,
    ),
    "french-outlook": (
        f"{NEW_FR}\n\n-----Message d'origine-----\nDe : Support <support@example.com>\n"
        "Envoyé : lundi 1 janvier 2024 10:00\nÀ : Bob <bob@example.com>\n"
        "Objet : RE: Imprimante\n\nBonjour Bob,\n",
        NEW_FR,
    ),
    "french-outlook-block": (
        f"{NEW_FR}\n\nDe : Support <support@example.com>\nEnvoyé : lundi 1 janvier 2024\n"
        "À : Bob <bob@example.com>\nObjet : RE: Imprimante\n\nBonjour Bob,\n",
        NEW_FR,
    ),
    "french-iphone": (
        f"{NEW_FR}\n\nEnvoyé de mon iPhone\n\n> Le 1 janv. 2024 à 10:00, Support "
        f"<support@example.com> a écrit :\n{QUOTED}\n",
        NEW_FR,
    ),
    "spanish-gmail": (
        f"{NEW_ES}\n\nEl lun, 1 ene 2024 a las 10:00, Support Team (<support@example.com>) "
        f"escribió:\n\n{QUOTED}\n",
        NEW_ES,
    ),
    "spanish-outlook": (
        f"{NEW_ES}\n\n-----Mensaje original-----\nDe: Soporte <support@example.com>\n"
        "Enviado el: lunes, 1 de enero de 2024 10:00\nPara: Bob <bob@example.com>\n"
        "Asunto: RE: Impresora\n\nHola Bob,\n",
        NEW_ES,
    ),
    "spanish-outlook-block": (
        f"{NEW_ES}\n\nDe: Soporte <support@example.com>\nEnviado: lunes, 1 de enero de 2024\n"
        "Para: Bob <bob@example.com>\nAsunto: RE: Impresora\n\nHola Bob,\n",
        NEW_ES,
    ),
    "spanish-iphone": (
        f"{NEW_ES}\n\nEnviado desde mi iPhone\n\n> El 1 ene 2024, a las 10:00, Soporte "
        f"<support@example.com> escribió:\n{QUOTED}\n",
        NEW_ES,
    ),
    "marker": (f"{NEW}\n\n{REPLY_MARKER}\nYour ticket #12 was updated.\n", NEW),
    "marker-quoted-by-gmail": (
        f"{NEW}\n\nOn Mon, Jan 1, 2024 at 10:00 AM Support <support@example.com> wrote:\n\n"
        f"> {REPLY_MARKER}\n> Your ticket #12 was updated.\n",
        NEW,
    ),
    "crlf": (f"{NEW}\r\n\r\nOn 01/01/2024 10:00, Support wrote:\r\n{QUOTED}\r\n", NEW),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reply_part_is_exactly_the_new_text(name: str) -> None:
    text, expected = CASES[name]
    assert split_reply(text) == expected


def test_text_without_history_is_kept_whole() -> None:
    text = "From: my point of view the printer is broken.\nTo: be fair, it is old.\n\nBob"
    assert split_reply(text) == text


def test_a_line_mentioning_wrote_is_not_history_without_quotes_below() -> None:
    text = "My colleague wrote:\nthe invoice is wrong.\nPlease check."
    assert split_reply(text) == text


def test_reply_that_is_only_history_is_empty() -> None:
    assert split_reply(f"On Mon, Jan 1, 2024 at 10:00 AM Support wrote:\n{QUOTED}") == ""


def test_hostile_text_stays_linear() -> None:
    text = ("On Mon, Jan 1, 2024 Bob wrote:\nnot a quote\n" * 20000) + ("> q\n" * 50000)
    started = time.perf_counter()
    split_reply(text)
    assert time.perf_counter() - started < 5.0
