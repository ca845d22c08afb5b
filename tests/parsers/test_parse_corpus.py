"""The real-mail corpus (../shared/corpus): every message parses, and screening agrees with labels."""

from __future__ import annotations

import csv
import email
import email.policy
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parsers import Limits, OwnIdentity, ParsedMail, ParseLimitExceeded, parse, screen
from parsers.charsets import codec_for

pytestmark = pytest.mark.corpus

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
OWN = OwnIdentity(
    addresses=frozenset({"support@helpdesk.example"}),
    message_id_domain="helpdesk.example",
    loop_token="helpdesk.example",
)
EXPECTED = {"bounce": "bounce", "autoreply": "auto-reply", "list": "list"}
KNOWN_LIMITS = {"mime_depth", "part_count", "header_size", "header_count", "decoded_size"}


def corpus_or_skip() -> Path:
    """The corpus directory; absent is a skip for a user's clone, a failure in CI."""
    if (CORPUS / "INDEX.tsv").is_file():
        return CORPUS
    reason = f"real-mail corpus not found at {CORPUS} (it lives beside the project checkout)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class Outcome:
    filename: str
    category: str
    raw: bytes
    mail: ParsedMail | None
    limit: ParseLimitExceeded | None
    seconds: float


def _outcomes(root: Path) -> Iterator[Outcome]:
    with (root / "INDEX.tsv").open(encoding="utf-8", newline="") as index:
        for row in csv.DictReader(index, delimiter="\t"):
            raw = (root / "messages" / row["filename"]).read_bytes()
            started = time.perf_counter()
            mail: ParsedMail | None = None
            limit: ParseLimitExceeded | None = None
            try:
                mail = parse(raw, received_at=RECEIVED)
            except ParseLimitExceeded as exc:
                limit = exc
            seconds = time.perf_counter() - started
            yield Outcome(row["filename"], row["category"], raw, mail, limit, seconds)


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return list(_outcomes(corpus_or_skip()))


def test_every_message_parses_within_its_budget(
    outcomes: list[Outcome], capsys: pytest.CaptureFixture[str]
) -> None:
    budget = Limits().time_budget_s
    limited = [o for o in outcomes if o.limit is not None]
    with capsys.disabled():
        print(f"\ncorpus: {len(outcomes)} messages, {len(limited)} over a parse limit")
        for o in limited:
            print(f"  {o.filename}: {o.limit}")
    assert len(outcomes) > 2000
    assert all(o.seconds < budget for o in outcomes)
    assert all(o.limit.limit in KNOWN_LIMITS for o in limited if o.limit is not None)
    assert len(limited) <= 3


def test_parsed_values_keep_their_promises(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if o.mail is None:
            continue
        mail = o.mail
        assert mail.message_id.startswith("<") and mail.message_id.endswith(">"), o.filename
        assert mail.date.tzinfo is not None and mail.date.utcoffset() is not None
        assert "\n" not in mail.subject and "\r" not in mail.subject, o.filename
        assert all(i.startswith("<") and i.endswith(">") for i in mail.references)
        assert mail.raw_size == len(o.raw)
        assert mail.content_type == mail.content_type.lower()
        assert len(mail.text) >= len(mail.reply_text) or mail.reply_text in mail.text
        for attachment in mail.attachments:
            name = attachment.filename
            assert name and "/" not in name and "\\" not in name and ".." not in name
            assert "\0" not in name
        # Everything must be storable as UTF-8 text.
        (mail.text + mail.subject + (mail.html or "")).encode("utf-8")


def test_screening_agrees_with_the_corpus_labels(
    outcomes: list[Outcome], capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts: dict[str, Counter[str]] = defaultdict(Counter)
    for o in outcomes:
        if o.category in EXPECTED and o.mail is not None:
            verdicts[o.category][screen(o.mail, OWN).kind] += 1
    with capsys.disabled():
        print()
        for category, expected in EXPECTED.items():
            counts = verdicts[category]
            rate = counts[expected] / sum(counts.values())
            print(f"screening {category}: {rate:.1%} agree of {sum(counts.values())} {dict(counts)}")
    for category, expected in EXPECTED.items():
        counts = verdicts[category]
        assert counts[expected] / sum(counts.values()) >= 0.98, category
        # Never acknowledged: none of these may look like a customer's mail.
        assert counts["clean"] == 0, category


def _right_charset_text_parts(raw: bytes) -> Iterator[tuple[str, bytes]]:
    """(declared charset, bytes) of text parts whose bytes really are in that charset."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in msg.walk():
        if part.get_content_maintype() != "text" or part.is_multipart():
            continue
        declared = part.get_content_charset()
        codec = codec_for(declared)
        data = part.get_payload(decode=True)
        if declared is None or codec is None or not isinstance(data, bytes):
            continue
        try:
            data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        yield declared, data


def test_declared_charsets_decode_without_replacement(outcomes: list[Outcome]) -> None:
    checked = 0
    for o in outcomes:
        if not o.category.startswith("charset-") or o.mail is None:
            continue
        parts = list(_right_charset_text_parts(o.raw))
        if not parts:
            continue
        checked += 1
        assert "\ufffd" not in o.mail.text, (o.filename, [p[0] for p in parts])
    assert checked >= 40


def test_a_missing_corpus_skips_for_users_and_fails_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(f"{__name__}.CORPUS", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        corpus_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        corpus_or_skip()
