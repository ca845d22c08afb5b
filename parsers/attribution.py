"""The lines that introduce quoted history: attributions, header blocks, separators, in many languages.

Each recogniser looks at a bounded slice of text (a line, or a few lines joined, cut to
``MAX_JOINED`` characters) with patterns that cannot backtrack catastrophically, so the cost
per line is fixed whatever a hostile mail holds.
"""

from __future__ import annotations

import re

MAX_LINE = 400  # longer lines are prose or data, never an attribution or a header field
MAX_JOINED = 600
JOIN_LINES = 4  # an attribution wrapped by a client spans at most this many lines after its first
_NAME_WORDS = 6  # a name and its address after a "wrote" inside the line
_WRAPPED_CLOSE = 12  # "> wrote:": the end of an address's "<...>" wrapped onto the next line

# "wrote" as clients write it: en, de, nl, fr, es, pt, it, sv/da/no, is, pl, cs, sk, hr, fi, et,
# lt, lv, hu, ru, uk, tr, el, vi, ro, id, zh, ko, and "sent" (some clients say that instead).
# Looked up as words, not searched for.
_VERBS = frozenset({
    "wrote", "writes", "said", "sent", "schrieb", "schreef", "geschreven", "écrit", "escribió",
    "escreveu", "scritto", "scrisse", "skrev", "skrive", "skrifaði", "napisał", "napisała",
    "napisal", "napsal", "napsala", "napísal", "napisao", "napisala", "kirjoitti", "kirjutas",
    "rašė", "rakstīja", "írta", "написал", "написала", "написав", "пише", "yazdı", "έγραψε",
    "viết", "scris", "menulis", "写道", "寫道", "작성",
})
_LETTERS = re.compile(r"[^\W\d_]+$")


def _verb_at_end(text: str) -> str:
    """The last word (before a colon or dashes) if it is a "wrote": "... <a@b>wrote:", "a écrit :"."""
    words = text[-80:].rstrip().rstrip(":：-= \t").removesuffix("(a)").split()
    last = _LETTERS.search(words[-1]) if words else None
    verb = last.group().lower() if last else ""
    return verb if verb in _VERBS else ""


def _verb_inside(text: str) -> bool:
    """A "wrote" followed by a name: "Op ... schreef Name <a@b>:", "Am ... schrieb Name:"."""
    words = text.split()
    return any(word.lower() in _VERBS for word in words[-_NAME_WORDS - 1 : -1])


# Words a date-led attribution opens with, the day or date following: On (en), Am (de), Le (fr),
# El (es), Il (it), Op (nl), Den/På (sv, da, no), Em/No (pt), W dniu/Na (pl), Dne (cs), Vào/Ngày
# (vi), В (ru), Στις (el), Pe (ro), La (fi weekday), Dana (hr), Pada (id).
_LEAD = re.compile(
    r"(?:On|Am|Le|El|Il|Op|Den|Em|No|Na|På|W\s+dniu|Dne|Vào|Ngày|В|Στις|Pe|La|Dana|Pada)\s",
    re.IGNORECASE,
)
# A date first: "2014-10-17 11:28", "02.04.2012 14:20", "26.06.2014,", "Thu, 26 Jun 2014",
# "2011/4/7", "2024年1月3日"; with an address at the end, an attribution (Gmail, mail.ru, Yandex).
_DATE_FIRST = re.compile(r"(?:[^\W\d_]{2,9}\.?,\s{1,3})?\d{1,4}[-./,\s年년]")
_ADDRESS_END = re.compile(r"@\S*\s?[:：]?$")
# What makes an attribution certain: an address, or a time or date of day near its start.
_TIME_OR_DATE = re.compile(r"\d\d?(?:[:.h]\d\d|[./-]\d\d?[./-]\d\d)|[12][09]\d\d(?!\d)")
_DATE_WITHIN = 160
_FRAME = "-=_* \t"
_ENDINGS = ":：-=>"  # how the last line of an attribution ends

# Header fields of a quoted message's block, as clients localise them.
_FROM = (
    r"from|von|de|de\s+la|da|van|fra|från|od|от|від|lähettäjä|feladó|kimden|από|expéditeur"
    r"|mittente|afzender|avsändare|nadawca|odesílatel|remetente|发件人|寄件者|差出人|보낸\s?사람"
)
_DATE = (
    r"date|sent|datum|gesendet|envoyé|enviado(?:\s+el)?|fecha|inviato|data|verzonden|verstuurd"
    r"|sendt|skickat|wysłano|lähetetty|päivämäärä|отправлено|дата|odesláno|elküldve|gönderildi"
    r"|gönderilme\s+tarihi|ημερομηνία|στάλθηκε|надіслано|trimis|日期|发送时间|送信日時"
    r"|보낸\s?날짜"
)
_OTHER = (
    r"to|an|à|a|para|aan|til|till|do|komu|кому|vastaanottaja|címzett|kime|προς|per|收件人|宛先"
    r"|cc|kopie|copie|cópia|kopia|копия|subject|betreff|objet|asunto|oggetto|onderwerp|emne|ämne"
    r"|temat|assunto|aihe|тема|předmět|tárgy|konu|θέμα|主题|件名|sujet|reply-to|antwort\s+an"
    r"|către|subiect|받는\s?사람|제목"
)
_FIELD = re.compile(
    r"\s*\*?\s?(?:(?P<from>" + _FROM + r")|(?P<date>" + _DATE + r")|(?:" + _OTHER + r"))"
    r"\s?\*?\s?[:：]\s?\*?(?:\s|$)",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")

# "-----Original Message-----" and its kin: a short title between rules, naming a message.
_RULED_TITLE = re.compile(r"\s*+[-=_*]{2,}+\s?([^-=_*]{3,60}?)\s?[-=_*]{2,}\s*$")
# The title must say whose message it is (original, reply, forwarded): "-----BEGIN PGP SIGNED
# MESSAGE-----" or a bounce's "----- This is a copy of the message -----" is no quoted reply.
_TITLE_WORDS = re.compile(
    r"\b(?:original|originale|originalmeddelande|reply|forwarded|ursprüngliche|antwort"
    r"|weitergeleitete|oprindelig|opprinnelig|ursprungligt|oorspronkelijk|doorgestuurd|d'origine"
    r"|transféré|reenviado|inoltrato|encaminhada|reencaminhada|videresendt|vidarebefordrat"
    r"|przekazana|oryginalna|původní|přeposlaná|alkuperäinen|välitetty|eredeti|исходное"
    r"|пересланное|пересылаемое|orijinal|iletilen|原始邮件|原始郵件)\b",
    re.IGNORECASE,
)
_FORWARD_INTRO = re.compile(
    r"\s*(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht"
    r"|Début du message réexpédié|Inicio del mensaje reenviado|Início da mensagem reencaminhada"
    r"|Doorgestuurd bericht)\s?:\s*$",
    re.IGNORECASE,
)
SEPARATOR = re.compile(r"\s*_{10,}\s*$")  # Outlook's rule above a header block; <hr> as text


def ruled_title(line: str) -> bool:
    """"-----Original Message-----", "----- Antwort Nachricht -----", a forward's banner."""
    if len(line) > 120:
        return False
    if _FORWARD_INTRO.match(line):
        return True
    match = _RULED_TITLE.match(line)
    return match is not None and _TITLE_WORDS.search(match.group(1)) is not None


def field(line: str) -> str:
    """"from", "date" or "other" when ``line`` opens with a header field name; else ""."""
    if len(line) > MAX_LINE:
        return ""
    match = _FIELD.match(line.replace("\u200e", ""))
    if match is None:
        return ""
    return "from" if match.group("from") else "date" if match.group("date") else "other"


def header_block(lines: list[str], start: int) -> bool:
    """A quoted message's header block starts at ``start``: header fields of a message, not prose.

    Three fields; or two with an address among them, or a From with a dated Sent/Date. A
    line that is no field continues the one before (a wrapped subject or address).
    """
    kinds: list[str] = []
    address = dated = False
    for line in lines[start : start + 8]:
        if not line.strip():
            if kinds:
                break
            continue
        kind = field(line)
        if not kind and not kinds:
            return False
        if kind:
            kinds.append(kind)
            dated = dated or (kind == "date" and _DIGIT.search(line) is not None)
        address = address or "@" in line[:MAX_LINE]
    if len(kinds) < 2 or not {"from", "date"} & set(kinds):
        return False
    return len(kinds) >= 3 or address or ("from" in kinds and dated)


def _attribution_text(text: str, led: bool, wrapped: bool = False) -> int:
    """2 when ``text`` is a certain attribution, 1 a possible one (needs quotes below), else 0."""
    core = text.strip(_FRAME)
    end = text.rstrip()[-1:]
    framed = core != text.strip() and end in "-="
    certain = "@" in text or _TIME_OR_DATE.search(text, 0, _DATE_WITHIN) is not None
    verb = _verb_at_end(core) if end in ":：" or framed else ""
    if verb:
        # "sent:" ends many an ordinary sentence: certain only with the sender's address
        certain = "@" in text if verb == "sent" else certain
        return 2 if (led or framed) and certain else 1
    if end in ":：" and led and certain and not wrapped and _verb_inside(core):
        return 2  # "Op 13-02-2014 3:18 schreef Julius Caesar <pantheon@rome.com>:"
    if _DATE_FIRST.match(core) and _ADDRESS_END.search(text.rstrip()[-80:]):
        return 2 if text.rstrip().endswith(":") else 1  # "2014-10-17 11:28 Name <a@b>:"
    if end in ":：" and "@" in text and _verb_inside(core):
        return 1  # "Name <a@b> ezt írta (időpont: ...):", "Name/Org@Org wrote on 01/03/2024:"
    return 0


_OPENS = re.compile(
    r"[-=_* \t]*+(?:" + _LEAD.pattern + "|" + _DATE_FIRST.pattern + ")", re.IGNORECASE
)


def _opens(line: str) -> bool:
    return _OPENS.match(line) is not None


def attribution(lines: list[str], i: int) -> tuple[int, int]:
    """(lines spanned, strength) of an attribution starting at line ``i``; (0, 0) when none.

    Strength 2: certain, whatever follows; 1: only when quoted lines follow. A date-led
    attribution may wrap over up to ``JOIN_LINES`` more lines (blank ones included).
    """
    line = lines[i]
    ending = line.rstrip()[-1:] in _ENDINGS
    dated = _DIGIT.search(line) is not None
    if len(line) > MAX_LINE or not (ending or dated):
        return 0, 0  # the cheap tests first: most lines are neither
    led = _opens(line)
    if ending:
        strength = _attribution_text(line, led)
        if strength:
            return 1, strength
    if not led or not dated:
        return 0, 0  # a wrapped attribution has its date on its first line
    below = lines[i + 1 : i + 1 + JOIN_LINES]
    if not any(more.rstrip()[-1:] in _ENDINGS for more in below):
        return 0, 0
    joined, blanks = line.strip(), 0
    for j in range(i + 1, min(i + 1 + JOIN_LINES, len(lines))):
        more = lines[j].strip()
        if not more:
            blanks += 1
            if blanks > 1:
                return 0, 0
            continue
        if _opens(lines[j]) or len(joined) + len(more) > MAX_JOINED:
            return 0, 0
        if more[:2] in ("--", "==", "__"):
            return 0, 0  # a rule or a framed attribution of its own
        if (more[:1] == ">" or not lines[j - 1].strip()) and len(more) > _WRAPPED_CLOSE:
            # a quoted line, or a line of its own after a blank: not the "<" or "> wrote:" a
            # wrapped address pushes down
            return 0, 0
        joined += " " + more
        if more[-1:] in _ENDINGS:
            strength = _attribution_text(joined, led, wrapped=True)
            if strength:
                return j - i + 1, strength
    return 0, 0


_WORD = re.compile(r"\w")
_INLINE_LEAD = re.compile(r"(?<=[\s-])(?:On|Am|Le|El|Op|Den|Em|W dniu)\s")


def inline_split(line: str) -> int:
    """Where a certain attribution starts after the customer's words on the same line, else 0.

    "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:" gives the index of "On".
    """
    if len(line) > MAX_LINE or not line.rstrip().endswith(":") or not _verb_at_end(line):
        return 0
    for match in _INLINE_LEAD.finditer(line, 1):
        start = match.start()
        if _WORD.search(line[:start]) and _attribution_text(line[start:], True) == 2:
            return start
    return 0
