"""The customer's own words: a body without its signature, sign-off and legal disclaimer,
cut into sentences. A disclaimer's "urgent" or "critical" is boilerplate, not evidence."""

from __future__ import annotations

import re

from parsers import ParsedMail

# The reading looks at most this much of the customer's words: the problem is stated at
# the top, and the cost of a mail must not grow with a pasted log.
READ_CHARS = 3000
# A forward, by its subject prefix or the line a mail client writes above it.
_FORWARD_SUBJECT = re.compile(r"\s*(?:fwd?|wg|tr|rv|i|doorst|enc)\s?:", re.IGNORECASE)
_FORWARD_MARKERS = (
    "forwarded message", "begin forwarded", "weitergeleitete nachricht", "message transféré", "mensaje reenviado",
    "messaggio inoltrato", "doorgestuurd bericht", "mensagem encaminhada",
)
# A sign-off alone on its line ends what the customer says; what follows is a signature.
_SIGN_OFF = re.compile(
    r"^\s*(?:(?:kind|best|warm|many|with)?\s*regards|(?:best|kind|warm|all the)\s+wishes|all the best|best|cheers"
    r"|thanks(?:\s+(?:in advance|again))?|thank you"
    r"|many thanks|br|sincerely|yours(?: sincerely| truly)?|mit freundlichen gr(?:ü|ue)(?:ß|ss)en"
    r"|viele gr(?:ü|ue)(?:ß|ss)e"
    r"|beste gr(?:ü|ue)(?:ß|ss)e|liebe gr(?:ü|ue)(?:ß|ss)e|gru(?:ß|ss)|mfg|lg|danke|vielen dank|cordialement"
    r"|bien cordialement|bien à vous|salutations|merci(?: d'avance| beaucoup)?|saludos(?: cordiales)?"
    r"|un saludo|atentamente|gracias|met vriendelijke groet(?:en)?|vriendelijke groet(?:en)?|groet(?:en|jes)?"
    r"|bedankt|alvast bedankt|cordiali saluti|distinti saluti|saluti|grazie(?: mille)?|un saluto"
    r"|atenciosamente|cumprimentos|com os melhores cumprimentos|abraços?|obrigad[oa]|att\.?)"
    r"\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^-- ?$")
# A disclaimer paragraph names its readers and its confidentiality, in any of our languages.
_DISCLAIMER = (
    "intended for", "intended recipient", "intended solely", "intended only", "confidential", "privileged",
    "disclaimer", "received this", "vertraulich", "empfänger", "irrtümlich", "confidentiel", "destinataire",
    "confidencial", "destinatari", "vertrouwelijk", "geadresseerde", "riservat", "destinatário", "do not print",
    "bitte drucken",
)
_PARAGRAPH = re.compile(r"\n\s*\n")
# A sentence ends at . ! ? ; or a blank line; a list item or a line that starts anew in
# capitals after a short line is its own sentence too ("Impact: all stores").
_SENTENCE = re.compile(r"[.!?;]\s+|\n\s*\n|\n(?=\s*(?:[-*•>]|\d+[.)])\s)")


def customer_body(mail: ParsedMail, *, reply: bool) -> str:
    """What the customer wrote in this mail: the new part, without quoted history.

    On a new mail a forward is kept whole ("see below from our IT lead"): the customer
    sends it as the description of the problem. Forwarded attachments always count.
    """
    own = mail.reply_text
    if not reply and (not own.strip() or _is_forward(mail)):
        own = mail.text
    parts = [own, *(f.text for f in mail.forwarded if f.text)]
    return own_text("\n\n".join(parts)[:READ_CHARS])


def _is_forward(mail: ParsedMail) -> bool:
    if _FORWARD_SUBJECT.match(mail.subject):
        return True
    head = mail.text[:READ_CHARS].casefold()
    return any(marker in head for marker in _FORWARD_MARKERS)


def own_text(body: str) -> str:
    """``body`` up to a signature, a sign-off line or a disclaimer paragraph."""
    kept: list[str] = []
    lines = body.splitlines()
    for index, line in enumerate(lines):
        if _SIGNATURE.match(line):
            break
        if index > 0 and len(line) < 60 and _SIGN_OFF.match(line) and any(k.strip() for k in kept):
            break
        kept.append(line)
    text = "\n".join(kept)
    paragraphs = _PARAGRAPH.split(text)
    for index, paragraph in enumerate(paragraphs):
        folded = paragraph.casefold()
        if index > 0 and any(marker in folded for marker in _DISCLAIMER):
            return "\n\n".join(paragraphs[:index])
    return text


def sentence_starts(text: str) -> list[int]:
    """Where each sentence of ``text`` starts (the first is 0)."""
    return [0, *(m.end() for m in _SENTENCE.finditer(text))]
