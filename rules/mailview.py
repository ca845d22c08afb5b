"""MailView: the texts of one ParsedMail that rules test, normalised once per classification."""

from __future__ import annotations

import re
import unicodedata

from parsers import ParsedMail
from rules.declared import Declaration, find_declared
from rules.words import normalise, tokens

# Rules read at most this much body text (about six pages). Customers put the problem at
# the top; a pasted 5 MB log below it must not make every word list and regex scan 5 MB.
MAX_SCAN_CHARS = 20_000


def body_for_rules(mail: ParsedMail, *, new_part_only: bool) -> str:
    """The body text the rules test.

    On a reply (``new_part_only``) this is the new part (``reply_text``), so quoted
    history, which the rules already saw when it was new, does not trigger them again; a
    reply with no words of its own (a file, a quote) gives them nothing to read.
    On a new mail it is the whole text: a customer who opens a ticket with a forwarded
    chain or an internal discussion below is telling us about the problem in it.
    Forwarded ``message/rfc822`` parts are always included: they are attached on purpose.
    """
    parts = [mail.reply_text if new_part_only else mail.text]
    parts.extend(f.text for f in mail.forwarded if f.text)
    body = "\n\n".join(parts)
    return body[:MAX_SCAN_CHARS]


class MailView:
    """One mail as the conditions see it: raw and normalised subject and body, word sets.

    Built once per ``classify`` call, so each condition costs a set lookup or one regex
    search, not a fresh casefold of the whole body.

    On a reply (``reply=True``) the body is the new part only and the subject is left out
    (``subject`` is empty): "Re: [#12] Site down" repeats the ticket's first subject, which
    is history just like the quoted text, and would otherwise raise again a ticket an
    agent has deliberately lowered.
    """

    __slots__ = (
        "_body",
        "_body_norm",
        "_body_words",
        "_declared",
        "_declared_done",
        "_regex_text",
        "_reply",
        "_subject_norm",
        "_subject_words",
        "mail",
        "regex_memo",
        "subject",
    )

    def __init__(self, mail: ParsedMail, *, reply: bool) -> None:
        self.mail = mail
        self.subject = "" if reply else unicodedata.normalize("NFC", mail.subject)
        self._reply = reply
        self._body: str | None = None
        self._regex_text: str | None = None
        self.regex_memo: dict[re.Pattern[str], re.Match[str] | None] = {}
        # Normalised texts and word sets are made on first use: a rule set that tests no
        # words (the impact reading reads the mail its own way) does not pay for them.
        self._subject_norm: str | None = None
        self._body_norm: str | None = None
        self._subject_words: frozenset[str] | None = None
        self._body_words: frozenset[str] | None = None
        self._declared: Declaration | None = None
        self._declared_done = False

    @property
    def body(self) -> str:
        if self._body is None:
            self._body = unicodedata.normalize("NFC", body_for_rules(self.mail, new_part_only=self._reply))
        return self._body

    @property
    def regex_text(self) -> str:
        if self._regex_text is None:
            self._regex_text = f"{self.subject}\n{self.body}" if self.subject else self.body
        return self._regex_text

    @property
    def subject_norm(self) -> str:
        if self._subject_norm is None:
            self._subject_norm = normalise(self.subject)
        return self._subject_norm

    @property
    def body_norm(self) -> str:
        if self._body_norm is None:
            self._body_norm = normalise(self.body)
        return self._body_norm

    @property
    def subject_words(self) -> frozenset[str]:
        if self._subject_words is None:
            self._subject_words = tokens(self.subject_norm)
        return self._subject_words

    @property
    def body_words(self) -> frozenset[str]:
        if self._body_words is None:
            self._body_words = tokens(self.body_norm)
        return self._body_words

    @property
    def declared(self) -> Declaration | None:
        """The severity the customer declared in the subject or first lines, if any."""
        if not self._declared_done:
            self._declared = find_declared(self.subject, self.body)
            self._declared_done = True
        return self._declared
