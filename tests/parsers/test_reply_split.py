"""split_reply: the new text of replies written the way each client and language writes them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    "reply-on-the-attribution-line": (
        "Fixed, thanks. On Wed, Jan 3, 2024 at 10:00 AM, support@example.com wrote:\n> Hello",
        "Fixed, thanks.",
    ),
    # history that is not ">"-prefixed: after a certain attribution, all of it
    "history-without-quote-marks": (
        f"{NEW}\n\nOn Mon, Jan 1, 2024 at 10:00 AM Support <support@example.com> wrote:\n\n"
        "Hello Bob,\nplease restart the printer.\n",
        NEW,
    ),
    "reply-wraps-quote": (
        f"{NEW}\n\nOn 01/01/2024 10:00, Support wrote:\n\n{QUOTED}\n\nBob",
        f"{NEW}\n\nBob",
    ),
    # header blocks: other languages, starting with Date:, two fields with an address
    "danish-outlook-block": (
        f"{NEW}\n\nFra: Support <support@example.com>\nSendt: 3. januar 2024 10:00\n"
        "Til: Bob\nEmne: SV: Printer\n\nHej Bob,\n",
        NEW,
    ),
    "polish-outlook-block": (
        f"{NEW}\n\nOd: Support [mailto:support@example.com]\nWysłano: 3 stycznia 2024 10:00\n"
        "Do: Bob\nTemat: RE: Drukarka\n\nCześć Bob,\n",
        NEW,
    ),
    "block-starting-with-date": (
        f"{NEW}\n\nDate: Wed, 3 Jan 2024 10:00:00 +0100\nTo: bob@example.com\n\nHello Bob,\n",
        NEW,
    ),
    "separator-then-one-field": (
        f"{NEW}\n\n________________________________\nFrom: Support\n\nHello Bob,\n", NEW
    ),
    "german-reply-message": (f"{NEW_DE}\n\n-----Antwort Nachricht-----\n\nHallo Bob,\n", NEW_DE),
    "dutch-original": (f"{NEW}\n\n----- Oorspronkelijk bericht -----\nVan: Support\n", NEW),
    "romanian-outlook-block": (
        f"{NEW}\n\nDe la: Support\nTrimis: miercuri, 3 ianuarie 2024 10:00\nCătre: Bob\n"
        "Subiect: RE: Imprimanta\n\nBună Bob,\n",
        NEW,
    ),
    "japanese-outlook-block": (
        f"{NEW}\n\n差出人: Support <support@example.com>\n送信日時: 2024年1月3日 10:00\n"
        "宛先: Bob\n件名: RE: プリンター\n\nBob様\n",
        NEW,
    ),
    # the customer's own words that only look like a signature or a header
    "sent-from-my-desk": (
        "Sent from my desk, is much easier than my mobile phone.\nThe printer works.",
        "Sent from my desk, is much easier than my mobile phone.\nThe printer works.",
    ),
    "appointment": (
        "Visit on:\n\nDate: Wednesday 3 January 2024\nTime: 10:00\nAddress: 1 Main St\n\nBring ID.",
        "Visit on:\n\nDate: Wednesday 3 January 2024\nTime: 10:00\nAddress: 1 Main St\n\nBring ID.",
    ),
    "ruled-heading-is-not-history": (
        "Results:\n\n----- Enter Feedback Below -----\n\nAll good.",
        "Results:\n\n----- Enter Feedback Below -----\n\nAll good.",
    ),
    "pgp-signed": (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nThe printer works.",
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nThe printer works.",
    ),
}

# Attributions in more languages: the verb in the middle, over two or three lines, date first,
# between dashes; each above the same quote.
ATTRIBUTED = {
    "dutch-verb-inside": "Op 3 jan. 2024 om 10:00 schreef Support <support@example.com>:",
    "dutch-apple": "Op 3 jan. 2024, om 10:00 heeft Support <s@example.com> het volgende geschreven:",
    "swedish": "Den 3 jan. 2024 kl. 10:00 skrev Support <support@example.com>:",
    "polish-two-lines": "W dniu 3.01.2024 o 10:00 Support <support@example.com>\nnapisał:",
    "portuguese": "Em qua., 3 de jan. de 2024 às 10:00, Suporte <s@example.com> escreveu:",
    "italian": "Il giorno mer 3 gen 2024 alle ore 10:00 Supporto <s@example.com> ha scritto:",
    "gmail-date-first": "2024-01-03 10:00 GMT+01:00 Support <\nsupport@example.com>:",
    "russian-date-first": "3 янв. 2024 г., в 10:00, Support <support@example.com>:",
    "three-lines": "On Jan 3, 2024, at 10:00 AM, Support <\nsupport+12-abc@example.com>\nwrote:",
    "android-dashes": "---- Support wrote ----",
    "sent-instead-of-wrote": "On 3 Jan 2024, at 10:00, Support <support@example.com> sent:",
    "czech": "Dne st 3. 1. 2024 v 10:00 odesílatel Support <support@example.com> napsal(a):",
    "japanese-date-first": "2024年1月3日(水) 10:00 Support <support@example.com>:",
    "chinese": "Support <support@example.com> 于2024年1月3日周三 10:00写道：",
    "korean": "2024년 1월 3일 (수) 오전 10:00, Support <support@example.com>님이 작성:",
    "hungarian": "Support <support@example.com> ezt írta (időpont: 2024. jan. 3., Sze, 10:00):",
    "lotus-notes": "Support/ACME@ACME wrote on 03/01/2024 10:00:00:",
    "indonesian": "Pada tanggal Rab, 3 Jan 2024 pukul 10.00 Support <s@example.com> menulis:",
    "turkish": "3 Oca 2024 Çar, saat 10:00 tarihinde Support <s@example.com> şunu yazdı:",
    "ukrainian": "ср, 3 січ. 2024 р. о 10:00 Support <support@example.com> пише:",
}
CASES.update({name: (f"{NEW}\n\n{line}\n\n{QUOTED}\n", NEW) for name, line in ATTRIBUTED.items()})


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


# The history below a reply in every form the cases above use: whatever the customer wrote
# above it is their text, whole (words that make a "Sent from my ..." line are left out: that
# line just above history is a signature by convention).
HISTORIES = sorted({text.split(NEW, 1)[1] for text, expected in CASES.values()
                    if expected == NEW and text.startswith(NEW)})
WORDS = ["the", "printer", "works", "again", "thanks", "toner", "is", "empty", "please", "call",
         "on", "Monday", "at", "10:00", "2024", "invoice", "#12", "Bob", "wrote", "sent"]


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=9).map(" ".join),
             min_size=1, max_size=5),
    st.sampled_from(HISTORIES),
)
def test_words_above_any_history_are_kept(lines: list[str], history: str) -> None:
    customer = "\n".join(lines)
    assert split_reply(customer + history) == customer


def test_bottom_posted_reply_under_an_unusual_quote_is_kept() -> None:
    # nothing written above the attribution: the history cut would leave nothing, so only
    # the ">" lines go and the customer's words below stay
    text = "On 01/01/2024 10:00, Support <s@example.com> wrote:\n| old words\n\nMy answer."
    assert split_reply(text).endswith("My answer.")


def test_a_dated_sentence_ending_in_sent_is_not_history() -> None:
    text = f"{NEW}\n\nOn 3 January at 10:00 this is what we sent:\nthe invoice, twice.\n"
    assert split_reply(text) == text.strip()
