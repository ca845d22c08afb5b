"""Property: mutated real messages never make parse() raise anything but ParseLimitExceeded."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import ParseLimitExceeded, parse, screen
from parsers.screening import OwnIdentity

pytestmark = pytest.mark.corpus

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
OWN = OwnIdentity(frozenset({"support@helpdesk.example"}), "helpdesk.example", "token")
SAMPLE_EVERY = 13  # a spread of ~200 messages over every source and category
MAX_SIZE = 64 * 1024  # keep each example cheap


@cache
def seeds() -> tuple[bytes, ...]:
    messages = CORPUS / "messages"
    if not messages.is_dir():
        reason = f"real-mail corpus not found at {CORPUS}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    paths = sorted(messages.glob("*.eml"))[::SAMPLE_EVERY]
    return tuple(raw for raw in (p.read_bytes() for p in paths) if len(raw) <= MAX_SIZE)


def flip(raw: bytes, edits: list[tuple[int, int]]) -> bytes:
    data = bytearray(raw)
    for position, value in edits:
        if data:
            data[position % len(data)] = value
    return bytes(data)


def truncate(raw: bytes, fraction: float) -> bytes:
    return raw[: int(len(raw) * fraction)]


def duplicate_header(raw: bytes, which: int, times: int) -> bytes:
    lines = re.findall(rb"(?m)^[!-9;-~]+:[^\r\n]*\r?\n", raw[: raw.find(b"\n\n") % 65536])
    if not lines:
        return raw
    line = lines[which % len(lines)]
    return raw.replace(line, line * times, 1)


def splice(raw: bytes, position: int, junk: bytes) -> bytes:
    cut = position % (len(raw) + 1)
    return raw[:cut] + junk + raw[cut:]


MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)))),
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("duplicate"), st.tuples(st.integers(0, 100), st.integers(2, 50))),
    st.tuples(
        st.just("splice"),
        st.tuples(
            st.integers(0, 2**20),
            st.sampled_from(
                [
                    b"\r\n\r\n",
                    b"\n--",
                    b"=?utf-8?B?",
                    b"=?x-unknown?Q?=FF=FE?=",
                    b"\x00\xff\xfe",
                    b'Content-Type: multipart/mixed; boundary=""\n',
                    b"Content-Transfer-Encoding: base64\n\n!!!!",
                    b"Content-Type: message/rfc822\n\n",
                    b"charset=utf-7\n\n+2D3eAA-",
                ]
            ),
        ),
    ),
)


def mutate(raw: bytes, mutation: tuple[str, object]) -> bytes:
    kind, argument = mutation
    if kind == "flip":
        return flip(raw, argument)  # type: ignore[arg-type]
    if kind == "truncate":
        return truncate(raw, argument)  # type: ignore[arg-type]
    if kind == "duplicate":
        which, times = argument  # type: ignore[misc]
        return duplicate_header(raw, which, times)
    position, junk = argument  # type: ignore[misc]
    return splice(raw, position, junk)


@settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis directory in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), mutations=st.lists(MUTATIONS, min_size=1, max_size=4))
def test_mutated_corpus_messages_never_crash(
    data: st.DataObject, mutations: list[tuple[str, object]]
) -> None:
    raw = data.draw(st.sampled_from(seeds()), label="seed")
    for mutation in mutations:
        raw = mutate(raw, mutation)
    try:
        mail = parse(raw, received_at=RECEIVED)
    except ParseLimitExceeded as exc:
        assert exc.limit
        return
    screen(mail, OWN)
    (mail.text + mail.reply_text + mail.subject).encode("utf-8")

