"""The language a customer writes in, as an ISO 639-1 code, from the first few KB of their own words (pure)."""

from __future__ import annotations

import re
import threading
from typing import Any

from parsers.mail import ParsedMail

# The new words of a first mail say which language it is in well before this; a pasted log or
# a long forwarded thread below them would only cost time (the classifier is linear in length).
MAX_CHARS = 4000
# Below this many letters a guess is a coin toss ("Thanks!", "URGENT", a bare log line).
MIN_LETTERS = 20
# Naive Bayes posteriors over the ISO 639-1 languages of the model: the top language of a real
# paragraph scores 0.9 and more; short or mixed text spreads its mass and falls below this.
MIN_CONFIDENCE = 0.6

# Words that are not language: links, addresses, paths and tokens with digits (error codes,
# ticket numbers, versions, phone numbers) read as noise to a character n-gram model.
_NOISE = re.compile(r"\S*(?:://|@|www\.)\S*|\S*[\\/]\S*|\S*\d\S*")

_lock = threading.Lock()
_identifier: Any = None


def _model() -> Any:
    """py3langid's identifier with its probabilities normalised, loaded once (a second or two,
    about 80 MB: the gateway pays for it with the first mail that needs it)."""
    global _identifier
    with _lock:
        if _identifier is None:
            # Imported here, not at the top: py3langid brings numpy (0.13 s), which commands that
            # never read a first mail (ingest from the MTA's pipe, the reports) need not pay for.
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


def warm_up() -> None:
    """Load the model now: a service that will read first mails calls this as it starts, so that its
    first customer does not wait the second or two the load takes."""
    _model()


def _best_iso_639_1(text: str) -> tuple[str, float]:
    """The likeliest two-letter language and its probability among the two-letter ones. The
    model's few three-letter labels (Nigerian Pidgin, "no language content", ...) are not ISO
    639-1; renormalising over the rest is what restricting the model to them computes (a softmax
    over fewer classes), without the copy of its weights that restricting makes."""
    ranked = [(str(code), float(p)) for code, p in _model().rank(text) if len(code) == 2]
    total = sum(p for _code, p in ranked)
    code, p = ranked[0]
    return code, (p / total if total > 0 else 0.0)


def words_of(text: str) -> str:
    """``text`` cut to MAX_CHARS, without the tokens that carry no language."""
    return " ".join(_NOISE.sub(" ", text[:MAX_CHARS]).split()).lower()


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the language ``text`` is written in, or None when unsure."""
    words = words_of(text)
    if sum(ch.isalpha() for ch in words) < MIN_LETTERS:
        return None
    code, confidence = _best_iso_639_1(words)
    return code if confidence >= MIN_CONFIDENCE else None


def mail_language(mail: ParsedMail) -> str | None:
    """The language of the sender's own words in ``mail``: its subject and the new text of its
    body (quoted history and signature left out), or None when unsure."""
    return detect_language(f"{mail.subject}\n{mail.reply_text or mail.text}")
