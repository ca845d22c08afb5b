"""Conditions on the envelope of the mail: sender address and domain, headers, attachments."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rules.condition import Condition
from rules.context import RuleContext
from rules.mailview import MailView


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values)


class Sender(Condition):
    """The From address matches any of the glob patterns ("*@example.com"), ignoring case."""

    __slots__ = ("_listed", "_regex", "patterns")
    key = "sender"
    cost = 10

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._listed = _quoted(self.patterns)
        # One regex for all globs: fnmatch.translate anchors each one at both ends.
        joined = "|".join(fnmatch.translate(p.lower()) for p in self.patterns)
        self._regex = re.compile(joined)

    @property
    def description(self) -> str:
        return f"sender matches {self._listed}"

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        sender = mail.mail.sender
        return sender is not None and self._regex.match(sender.key) is not None

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        sender = mail.mail.sender
        shown = sender.key if sender is not None else "(no sender)"
        verb = "matches" if held else "does not match"
        return f"sender: {shown} {verb} {self._listed}"


class SenderDomain(Condition):
    """The sender's domain is one of the domains or a subdomain of one."""

    __slots__ = ("_listed", "_suffixes", "domains")
    key = "sender_domain"
    cost = 10

    def __init__(self, domains: Sequence[str]) -> None:
        self.domains = frozenset(d.lower().strip(".") for d in domains)
        self._suffixes = tuple("." + d for d in self.domains)
        self._listed = _quoted(sorted(self.domains))

    @property
    def description(self) -> str:
        return f"sender domain is {self._listed} or a subdomain"

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        sender = mail.mail.sender
        if sender is None:
            return False
        domain = sender.domain
        return domain in self.domains or domain.endswith(self._suffixes)

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        sender = mail.mail.sender
        shown = sender.domain if sender is not None else "(no sender)"
        verb = "is" if held else "is not"
        return f"sender_domain: {shown} {verb} in {self._listed}"


@dataclass(frozen=True, slots=True)
class HeaderTest:
    """One header test: the header is present and, when a pattern is given, any value
    matches it (regex search, ignoring case)."""

    name: str
    pattern: re.Pattern[str] | None

    def describe(self) -> str:
        if self.pattern is None:
            return f"{self.name} present"
        return f"{self.name} ~ /{self.pattern.pattern}/"

    def first_match(self, mail: MailView) -> str | None:
        for value in mail.mail.header_all(self.name):
            if self.pattern is None or self.pattern.search(value):
                return value
        return None


class Header(Condition):
    """Any of the header tests holds, e.g. X-Priority ~ /^1/."""

    __slots__ = ("tests",)
    key = "header"
    cost = 15

    def __init__(self, tests: Sequence[HeaderTest]) -> None:
        self.tests = tuple(tests)

    @property
    def description(self) -> str:
        return "header " + " or ".join(t.describe() for t in self.tests)

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        return any(t.first_match(mail) is not None for t in self.tests)

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        for test in self.tests:
            value = test.first_match(mail)
            if value is not None:
                return f"header: {test.name}: {value!r} ({test.describe()})"
        return "header: no " + " or ".join(t.describe() for t in self.tests)


class HasAttachment(Condition):
    """The mail carries (or, with false, does not carry) a file attachment.

    Inline parts (a logo in a signature, an embedded screenshot referenced by the HTML)
    do not count: nearly every Outlook mail has one.
    """

    __slots__ = ("expected",)
    key = "has_attachment"
    cost = 5

    def __init__(self, expected: bool) -> None:
        self.expected = expected

    @property
    def description(self) -> str:
        return "has an attachment" if self.expected else "has no attachment"

    @staticmethod
    def _files(mail: MailView) -> list[str]:
        return [a.filename for a in mail.mail.attachments if not a.inline]

    def check(self, mail: MailView, ctx: RuleContext) -> bool:
        return bool(self._files(mail)) == self.expected

    def reason(self, mail: MailView, ctx: RuleContext, held: bool) -> str:
        files = self._files(mail)
        found = f"attachments {_quoted(files[:3])}" if files else "no attachment"
        return f"has_attachment = {str(self.expected).lower()}: {found}"
