"""Evidence of impact in the customer's own words, found sentence by sentence.

Scope and state only count together when they are said together: "all 22 branches" and
"cannot" in one sentence is a total stop; "all reports" in one sentence and "cannot" in
another is not. A word the customer negates ("no outage", "not slow") is not evidence.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Literal

from rules.lexicon import Lexicon, lexicon
from rules.own_words import sentence_starts
from rules.scope import find_scopes, tokenise

# Classes that already carry their own negation ("no workaround", "nobody") or that a
# negation does not undo are not checked for one.
# A consequence is told in the negative ("we can no longer sell"): it is not negated either.
_UNNEGATED = frozenset({"nobody", "no_workaround", "ability", "intensifier", "only", "follow_up", "business"})
_CLIP = 60
# Negations in every language the vocabulary covers, split as the tokenizer splits
# contractions ("don't" -> "don", "t"). Reach: the last four words of the clause.
_NEGATORS = frozenset({
    "not", "no", "never", "without", "isn", "aren", "wasn", "weren", "hasn", "haven", "hadn", "don", "doesn",
    "didn", "nicht", "kein", "keine", "keinen", "keiner", "keinem", "nie", "ohne", "pas", "sans", "jamais",
    "aucun", "aucune", "sin", "nunca", "niet", "geen", "nooit", "zonder", "non", "senza", "mai", "não", "nao",
    "sem", "nem", "nothing", "nichts", "rien", "nada", "niets", "niente", "nulla",
})  # fmt: skip
_REACH = 4
_CLAUSE_MARKS = re.compile(r"[.!?;:,()\n]|\s[-–]\s")
# "all four of our hotels", "any of our three sites": the number is all of them.
_ALL_BEFORE = re.compile(
    r"\b(?:all|any|every|each|alle|allen|tous|toutes|todos|todas|tutti|tutte|al|both|beide)(?:\s+\w+){0,2}\s+\Z"
)
# "We can't make or receive any calls": "any" after a negative verb in the same clause.
_NEGATIVE_VERB = re.compile(r"(?:n't|\bcannot|\bnot|\bnever|\bno)\b[^.!?;,\n]{0,40}\Z")
_DIGIT = re.compile(r"\d")
_WHOLE = re.compile(
    r"\b(?:whole|entire|all|ganze\w*|gesamte\w*|toute|entière|entera|entero|hele|gehele|intera|intero|inteira|inteiro)\b"
)
_NOT_BEFORE = re.compile(
    r"\b(?:not|nicht|pas|non|não|niet|no|geen|kein|keine|aucun|aucune|nessun|nessuna|nenhum|nenhuma)\s+\Z"
)
# A sentence that opens like a question asks rather than reports ("Will there be an outage?").
_ASKS = re.compile(
    r"\W*(?:how|what|when|where|which|will|would|is|are|do|does|should|shall|wie|was|wann|wo|gibt|ist|sind|wird"
    r"|comment|quand|où|quel|quelle|est-ce|y a-t-il|cómo|cuándo|dónde|qué|hay|es|hoe|wat|wanneer|waar|wordt"
    r"|come|quando|dove|quale|è|c'è|ci sarà|como|onde|qual|é|há|existe|vai|será)\b"
)
_WORD = re.compile(r"\w+")


def negated(text: str, start: int) -> bool:
    """Whether one of the few words before ``start``, in the same clause, negates it."""
    window = text[max(0, start - 60) : start]
    clause = _CLAUSE_MARKS.split(window)[-1] if _CLAUSE_MARKS.search(window) else window
    return not _NEGATORS.isdisjoint(_WORD.findall(clause)[-_REACH:])


@dataclass(slots=True)
class Sentences:
    """For each sentence, the kinds of evidence in it; for each kind, the first words found."""

    kinds: list[set[str]]
    found: dict[str, str] = field(default_factory=dict)
    questions: set[int] = field(default_factory=set)

    def note(self, kind: str, index: int, text: str) -> None:
        self.kinds[index].add(kind)
        if kind not in self.found:
            flat = " ".join(text.split())
            self.found[kind] = flat if len(flat) <= _CLIP else flat[: _CLIP - 3] + "..."


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the mail says, as a support lead reads it; ``found`` quotes the words per kind."""

    total_stop: bool  # a stop said of everyone, every site, every request, or "nothing works"
    total_now: bool  # ... said in a sentence that does not also say it works again
    group_stop: bool  # a stop of a part: some users, one site of several, 12 of 40
    single_stop: bool  # a stop of one person, one device, one account
    stopped: bool  # something has stopped, whoever it affects
    hard_stop: bool  # a stop made complete: "cannot log in at all"
    business_stop: bool  # what the business does has stopped: selling, calls, orders, payroll
    degraded: bool
    partial_share: bool  # a share of the attempts fails: "8%", "1 in 5"
    narrow: bool  # "only ...", "everyone else is fine" said of what stopped
    others: bool  # "the other sites work normally", anywhere in the mail
    wide: bool  # everyone, all of a group, nobody: said of anything
    single: bool  # one person, one device or one account is named, and no wider group
    other_works: bool  # something else works: another route, the browser, the rest
    recovered: bool  # it works again, or the mail follows up an incident that is over
    close_request: bool  # the customer asks us to close the ticket
    fault: bool
    minor: bool
    workaround: bool  # an available way round it: "we use the Excel export instead"
    manual: bool  # a painful one: by hand, on paper, by phone
    no_workaround: bool
    deadline: bool
    security: bool
    data_loss: bool
    requests: tuple[str, ...]  # question, commercial, training, feature, admin, closing
    found: dict[str, str]


def _sentence_of(starts: list[int], position: int) -> int:
    return bisect_right(starts, position) - 1


def _collect(text: str, lex: Lexicon) -> Sentences:
    starts = sentence_starts(text)
    found = Sentences([set() for _ in starts])
    tokens = tokenise(text)
    words = frozenset(tokens)
    for kind, start, end in lex.words.hits(words, text):
        index = _sentence_of(starts, start)
        if kind in found.kinds[index]:
            continue  # one hit of a kind per sentence is all the reading uses
        if kind not in _UNNEGATED and negated(text, start):
            continue
        found.note(kind, index, text[start:end])
        if kind == "others_fine" and not lex.places.isdisjoint(_WORD.findall(text, start, end + 25)):
            found.note("some", index, text[start:end])  # "the other branches are fine": one branch is down
    for kind, patterns in lex.regexes.items():
        for pattern, needs in patterns:
            if words.isdisjoint(needs):
                continue  # the pattern cannot match without one of these words
            for match in pattern.finditer(text):
                found.note(kind, _sentence_of(starts, match.start()), match.group(0))
    for kind, begin, finish in find_scopes(text, tokens, lex.scopes):
        if kind == "one_of":
            last = text[begin:finish].rsplit(None, 1)[-1]
            kind = "one_place" if last in lex.places else "one"
        if kind == "one_place" and _WHOLE.search(text, begin, finish):
            continue  # "our whole school" is all of it
        if kind in ("all", "all_things", "some") and _NOT_BEFORE.search(text, max(0, begin - 12), begin):
            continue  # "not all users" is some of them
        if kind == "some" and _ALL_BEFORE.search(text, max(0, begin - 24), begin):
            continue  # "all four of our hotels" is all of them
        if kind in ("all", "all_things") and text.startswith(("any ", "a single ", "one single "), begin):
            if not (negated(text, begin) or _NEGATIVE_VERB.search(text, max(0, begin - 50), begin)):
                continue
            kind = "none" if kind == "all" else "none_things"  # "we can't take any bookings", "not a single order"
        found.note(kind, _sentence_of(starts, begin), text[begin:finish])
    digits = _DIGIT.search(text) is not None
    for match in lex.count.finditer(text) if digits else ():
        # "12 of 40 users", "users (12 of 40)"; not "step 3 of 5" or a date.
        if lex.group_words.isdisjoint(_WORD.findall(text, max(0, match.start() - 40), match.end() + 40)):
            continue
        part, whole = _number(match.group("n")), _number(match.group("m"))
        kind = "none" if part == 0 else "all" if part >= whole else "some"
        found.note(kind, _sentence_of(starts, match.start()), match.group(0))
    percent = digits and ("%" in text or "cent" in text or "ciento" in text or "prozent" in text)
    for match in lex.percent.finditer(text) if percent else ():
        share = _number(match.group("p"))
        kind = "all" if share >= 100 else "share"
        found.note(kind, _sentence_of(starts, match.start()), match.group(0))
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        sentence = text[start:end]
        if "?" in sentence and ("question" in found.kinds[index] or _ASKS.match(sentence)):
            found.questions.add(index)
    return found


def _number(text: str) -> float:
    digits = text.replace(",", "").replace(".", "")
    return float(digits) if digits.isdigit() else 0.0


_SCOPE = frozenset({"all", "everyone", "none"})
_LIMITS = frozenset({"some", "one_place", "share", "one", "others_fine"})


def _scope_from_neighbours(seen: Sentences) -> None:
    """ "After logging in we get a blank page. All 45 users, all 5 sites.": a sentence that
    states only a scope gives it to the stop beside it that states none."""
    kinds = seen.kinds
    for index, here in enumerate(kinds):
        if not (here & _SCOPE) or here & _LIMITS or "stopped" in here:
            continue
        for other in (index - 1, index + 1):
            if 0 <= other < len(kinds) and "stopped" in kinds[other] and not kinds[other] & (_SCOPE | _LIMITS):
                kinds[other].add("all")


# What a sentence can say, added up over the mail by read_evidence: how much has stopped and
# for whom, whom it names, and what else it reports.
_Said = Literal["stopped", "strong", "now", "weak", "group", "single", "narrow", "hard", "business", "share", "wide",
                "named_one", "named_part", "others", "other_works", "security", "data_loss"]


def _said_in(kinds: set[str], asked: bool) -> set[_Said]:
    """What one sentence says, given the kinds of evidence in it and whether it asks."""
    said: set[_Said] = set()
    nobody = "nobody" in kinds and "ability" in kinds
    everyone = bool(kinds & {"all", "everyone", "none"}) or nobody
    every_thing = bool(kinds & {"all_things", "none_things"})
    down = "system_down" in kinds
    stop = bool(kinds & {"stopped", "system_down", "none", "none_things"}) or nobody
    part = bool(kinds & {"some", "one_place", "share"})
    if part and "fault" in kinds and not stop:
        stop = True  # "some users get an error when saving": for them it fails
    one = "one" in kinds and not part
    others = "others_fine" in kinds
    if stop and (asked or "question" in kinds) and not everyone:
        stop = False  # "Is it possible that the export fails ...?" asks; it reports nothing
    total_words = "total" in kinds and not others and not asked
    if (everyone or every_thing) and not (others or part):
        said.add("wide")
    if one:
        said.add("named_one")
    if others:
        said.add("others")
    if part:
        said.add("named_part")
    if "works" in kinds and not kinds & {"stopped", "degraded", "fault", "nobody", "none", "none_things"}:
        said.add("other_works")
    if stop:
        said.add("stopped")
        limited = part or one or others
        if part:
            said.add("group")
        elif one:
            said.add("single")
        elif others:
            said.add("narrow")
        elif everyone or total_words or down:
            said.add("strong")
            if "closing" not in kinds:
                said.add("now")
        elif every_thing:
            said.add("weak")
        if "intensifier" in kinds and not limited:
            said.add("hard")
        if "business" in kinds and not limited:
            said.add("business")
    elif total_words and "closing" not in kinds:
        said.add("strong")
    if "only" in kinds and kinds & {"stopped", "fault", "degraded"}:
        said.add("narrow")
    if "share" in kinds:
        said.add("share")
    if not asked and not kinds & {"question", "admin", "commercial"}:
        if "security" in kinds:
            said.add("security")
        if "data_loss" in kinds:
            said.add("data_loss")
    return said


def read_evidence(text: str) -> Evidence:
    """The evidence in ``text`` (normalised: casefolded, punctuation folded)."""
    lex = lexicon()
    seen = _collect(text, lex)
    _scope_from_neighbours(seen)
    said: set[_Said] = set()
    for index, kinds in enumerate(seen.kinds):
        said |= _said_in(kinds, index in seen.questions)
    all_kinds: set[str] = set().union(*seen.kinds)
    requests = tuple(
        k for k in ("question", "commercial", "training", "feature", "admin", "closing", "close_request", "thanks")
        if k in all_kinds
    )
    weak_total = "weak" in said and not said & {"group", "single", "narrow", "named_one"}
    return Evidence(
        total_stop="strong" in said or weak_total,
        total_now="now" in said or weak_total,
        group_stop="group" in said,
        single_stop="single" in said,
        stopped="stopped" in said,
        hard_stop="hard" in said,
        business_stop="business" in said,
        degraded=bool(all_kinds & {"degraded", "slow_load"}) or "share" in said,
        partial_share="share" in said,
        narrow="narrow" in said,
        others="others" in said,
        wide="wide" in said,
        single="named_one" in said and not said & {"named_part", "wide"},
        other_works="other_works" in said,
        recovered=bool(all_kinds & {"closing", "follow_up", "close_request"}),
        close_request="close_request" in all_kinds,
        fault="fault" in all_kinds,
        minor="minor" in all_kinds,
        workaround="workaround" in all_kinds and "no_workaround" not in all_kinds,
        manual="manual" in all_kinds,
        no_workaround="no_workaround" in all_kinds,
        deadline="deadline" in all_kinds,
        security="security" in said,
        data_loss="data_loss" in said,
        requests=requests,
        found=seen.found,
    )
