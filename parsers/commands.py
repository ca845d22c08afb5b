"""The command lines at the top of an engineer's reply: read and checked for form (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers import case_commands

# The words the commands take: a ticket's statuses and priorities, as engineers write them. The
# gateway's tickets take these very words (the rules' priorities are the same four).
STATUSES = ("open", "pending", "resolution-proposed", "resolved", "closed")
PRIORITIES = ("P1", "P2", "P3", "P4")

# A command is "#word" at the start of a line; "#123" or "# heading" are text.
_LINE = re.compile(r"^\s*#([A-Za-z][A-Za-z-]*)(?:\s+(.*))?$")
_ADDRESS = re.compile(r"^<?([^\s<>@,;]+@[^\s<>@,;]+\.[^\s<>@,;]+)>?$")

SYNTAX = (
    "#status open|pending|resolution-proposed|resolved|closed",
    "#priority P1|P2|P3|P4 REASON",
    "#assign me|HANDLE|GROUP",
    "#note",
    "#ack",
    "#cc add|remove ADDRESS",
    '#incident open "TITLE"|ID',
    *case_commands.SYNTAX,
)
NAMES = ("status", "priority", "assign", "note", "ack", "cc", "incident", *case_commands.NAMES)


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its name, its arguments as written (lower-cased where they are keywords)."""

    name: str
    args: tuple[str, ...]
    line: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """A command line that cannot run, and why, in words for the engineer."""

    line: str
    why: str


@dataclass(frozen=True, slots=True)
class Reply:
    """An engineer's reply split into its commands and the text that follows them."""

    commands: tuple[Command, ...]
    text: str
    refusals: tuple[Refusal, ...]

    @property
    def is_note(self) -> bool:
        return any(c.name == "note" for c in self.commands)


def _command(name: str, rest: str, line: str) -> Command | Refusal:
    words = rest.split()
    if name == "status":
        if len(words) != 1 or words[0].lower() not in STATUSES:
            return Refusal(line, f"#status needs one of {', '.join(STATUSES)}")
        return Command(name, (words[0].lower(),), line)
    if name == "priority":
        if not words or words[0].upper() not in PRIORITIES:
            return Refusal(line, f"#priority needs one of {', '.join(PRIORITIES)}, then the reason")
        return Command(name, (words[0].upper(), " ".join(words[1:])), line)
    if name == "assign":
        if len(words) != 1:
            return Refusal(line, "#assign needs one word: me, an engineer's handle or a group")
        return Command(name, (words[0].lower(),), line)
    if name == "ack":
        if words:
            return Refusal(line, "#ack takes no argument")
        return Command(name, (), line)
    if name == "note":
        return Command(name, (rest.strip(),) if rest.strip() else (), line)
    if name == "cc":
        # RFC 5321 section 4.5.3.1: no deliverable address is longer than 254 octets.
        match = _ADDRESS.match(words[1]) if len(words) == 2 and len(words[1]) <= 256 else None
        if not words or words[0].lower() not in ("add", "remove") or match is None:
            return Refusal(line, "#cc needs add or remove, then one address")
        return Command(name, (words[0].lower(), match.group(1).lower()), line)
    if name == "incident":
        return _incident(rest, line)
    if name in case_commands.NAMES:
        try:
            return Command(name, case_commands.read(name, rest), line)
        except ValueError as exc:
            return Refusal(line, str(exc))
    return Refusal(line, f"unknown command #{name}; the commands are {', '.join('#' + n for n in NAMES)}")


INCIDENT_TITLE_MAX = 200


def _incident(rest: str, line: str) -> Command | Refusal:
    """``#incident open "TITLE"`` (this ticket opens it), ``#incident ID`` (this ticket joins it); in
    mail to an incident's own address, ``#incident resolve`` and ``#incident report KIND``."""
    words = rest.split()
    verb = words[0].lower() if words else ""
    if verb == "open":
        title = " ".join(rest.split(None, 1)[1].strip().strip('"\u201c\u201d').split()) if len(words) > 1 else ""
        if not title or len(title) > INCIDENT_TITLE_MAX:
            return Refusal(line, f'#incident open needs a title of 1 to {INCIDENT_TITLE_MAX} characters, '
                                 'like #incident open "Voice platform outage"')
        return Command("incident", ("open", title), line)
    if len(words) == 1 and words[0].lstrip("#").isdigit() and len(words[0].lstrip("#")) <= 9:
        return Command("incident", ("link", str(int(words[0].lstrip("#")))), line)
    if verb == "resolve" and len(words) == 1:
        return Command("incident", ("resolve",), line)
    if verb == "report" and len(words) == 2:
        return Command("incident", ("report", words[1].lower()), line)
    return Refusal(line, '#incident needs open "TITLE" or an incident number (in mail to an incident\'s '
                         "address: resolve, or report KIND)")


def parse_reply(reply_text: str) -> Reply:
    """Commands are the ``#word`` lines at the top (blank lines between them allowed); the text
    starts at the first other line. ``#note REST`` keeps REST as the note's first line."""
    lines = reply_text.replace("\r\n", "\n").split("\n")
    commands: list[Command] = []
    refusals: list[Refusal] = []
    lead: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        match = _LINE.match(line)
        if match is None:
            break
        result = _command(match.group(1).lower(), match.group(2) or "", line.strip())
        if isinstance(result, Refusal):
            refusals.append(result)
        else:
            commands.append(result)
            if result.name == "note" and result.args:
                lead.append(result.args[0])
        i += 1
    text = "\n".join([*lead, *lines[i:]]).strip()
    together = case_commands.conflicts([(c.name, c.line) for c in commands], bool(text))
    refusals.extend(Refusal(line, why) for line, why in together)
    return Reply(commands=tuple(commands), text=text, refusals=tuple(refusals))
