"""The severity a customer declares in the subject or first lines: "Sev 1", "P2", "urgent"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules.words import fold_punctuation, normalise, tokens

# Only the opening of the body counts: a declaration is something the customer states up
# front ("Severity 1 - production down"), not a word used in passing further down.
DECLARED_SCAN_LINES = 5
# ... and only so many characters of them: HTML turned into text can be one 40 kB "line".
DECLARED_SCAN_CHARS = 1000

_PRIO = r"prio(?:rity|rität|ritaet|rite|rité|ridad|rità)?"
_SEV = r"(?:sev(?:erity|erität|eritaet|érité|erite|eridad)?|schweregrad|gravité|gravite)"
_LEVEL = r"(?:[ \t]*(?:level|stufe|niveau|grad))?"
_SEP = r"[ \t]*[:=#\-]?[ \t]*"

# Word values on a priority scale. "urgent" is the top of the common help-desk scale
# (urgent/high/normal/low), so it maps to P1 like "critical".
_VALUES: dict[str, str] = {}
for _p, _words in {
    "P1": "urgent urgente dringend critical kritisch critique crítico critico emergency notfall urgence",
    "P2": "high hoch hohe hoher haute élevée elevee alta",
    "P3": "medium normal mittel normale moyenne media",
    "P4": "low niedrig niedrige basse faible baja",
}.items():
    for _w in _words.split():
        _VALUES[_w] = _p
_VALUE = "|".join(sorted(_VALUES, key=len, reverse=True))
_P1_WORDS = r"urgente?|dringend|critical|kritisch|critique|cr[ií]tico|emergency|notfall|urgence|code[ \t]+red"
# A negation, then up to three small words ("not that", "no longer", "nicht mehr", "no es"),
# then a P1 word or a numbered severity: "isn't urgent", "not a P1", "kein Sev 1" declare nothing.
_NEGATION_CUE = r"(?:\w+n't|not|nicht|pas|non|no|kein|keine|keinen|nada|nothing|never|n'est[ \t]+(?:pas|plus))"
_FILLER = (r"(?:so|very|really|that|too|a|an|the|longer|more|mehr|sehr|besonders|super|es|ist|est|"
           r"particularly|quite|yet|at|all|considered|un|une|ein|eine|einen|très|tres)")
_NUMBERED_P1 = rf"(?:(?:{_PRIO}|{_SEV}){_LEVEL}{_SEP}(?:p|sev)?[ \t\-]?[01]|p[ \-]?[01])"
_NEGATION = (
    rf"{_NEGATION_CUE}(?:[ \t]+{_FILLER}){{0,3}}[ \t]+(?:{_P1_WORDS}|{_NUMBERED_P1})"
    r"|non[ \t-]?(?:urgent|critical|critique|urgente)"
    r"|no[ \t]+rush|keine[ \t]+eile|rien[ \t]+d'urgent|pas[ \t]+press[ée]e?"
)

_DECLARATION = re.compile(
    r"(?<!\w)(?:"
    rf"(?P<negated>{_NEGATION})"
    rf"|(?P<numbered>(?:{_PRIO}|{_SEV}){_LEVEL}{_SEP}(?:p|sev)?[ \t\-]?(?P<n>[0-4]))"
    rf"|(?P<short>p[ \-]?(?P<pn>[0-4]))"
    rf"|(?P<valued>{_PRIO}{_SEP}(?P<value>{_VALUE}))"
    rf"|(?P<value_first>(?P<value2>{_VALUE})[ \t]+{_PRIO})"
    rf"|(?P<word>{_P1_WORDS})"
    r")(?!\w)",
    re.IGNORECASE,
)


# Every declaration contains one of these words (casefolded), or a "p"/"prio"/"sev" stem
# glued to a digit ("p1", "sev2"). Checking the word set first skips the regex above, which
# tries some sixty alternatives at every position, for the many mails that declare nothing.
_TRIGGERS = frozenset(
    (
        *("p", "prio", "priority", "priorität", "prioritaet", "priorite", "priorité"),
        *("prioridad", "priorità", "sev", "severity", "severität", "severitaet", "sévérité"),
        *("severite", "severidad", "schweregrad", "gravité", "gravite"),
        "red",  # "code red"; "code" alone is far too common to be a trigger
        *(w.casefold() for w in _VALUES if _VALUES[w] == "P1"),
    )
)
_STEMS = ("p", "prio", "sev")


def _may_declare(text: str) -> bool:
    return any(word in _TRIGGERS or (word[-1] in "01234" and word[:-1] in _STEMS) for word in tokens(normalise(text)))


@dataclass(frozen=True, slots=True)
class Declaration:
    """A declared severity: the priority it means, the words used, and where they were."""

    priority: str
    text: str
    where: str  # "subject" or "body"

    def describe(self) -> str:
        return f"{self.priority} ({self.text!r} in {self.where})"


def _digit_priority(digit: str) -> str:
    # Some customers count from zero ("P0", "Sev 0"): that is the most urgent there is.
    return f"P{max(int(digit), 1)}"


def _scan(text: str, where: str) -> Declaration | None:
    if not _may_declare(text):
        return None
    for found in _DECLARATION.finditer(fold_punctuation(text)):
        if found.group("negated"):
            # "not urgent" declares nothing. It is matched only so that its "urgent" is not
            # read as a declaration; a lower priority needs an explicit "P4" or "low".
            continue
        written = " ".join(text[found.start() : found.end()].split())
        digit = found.group("n") or found.group("pn")
        if digit is not None:
            return Declaration(_digit_priority(digit), written, where)
        value = found.group("value") or found.group("value2")
        if value is not None:
            return Declaration(_VALUES[value.lower()], written, where)
        return Declaration("P1", written, where)
    return None


def opening_lines(body: str, count: int = DECLARED_SCAN_LINES) -> str:
    """The first ``count`` non-blank lines of ``body``, at most DECLARED_SCAN_CHARS long."""
    lines: list[str] = []
    for line in body[: DECLARED_SCAN_CHARS * 2].splitlines():
        if line.strip():
            lines.append(line)
            if len(lines) == count:
                break
    return "\n".join(lines)[:DECLARED_SCAN_CHARS]


def find_declared(subject: str, body: str) -> Declaration | None:
    """The first declaration in the subject, else in the opening lines of the body."""
    return _scan(subject[:DECLARED_SCAN_CHARS], "subject") or _scan(opening_lines(body), "body")
