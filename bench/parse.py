"""Messages per second of parsers.parse beside a bare standard-library parse of the same corpus."""

# Usage: .venv/bin/python bench/parse.py [CORPUS_DIR] [--rounds N] [--with-mailparser]
# The baseline is what any gateway must at least do: email.message_from_bytes with the
# default policy, walk() and get_content() of every leaf. The ratio parse/baseline is the
# figure the ingest budget is set against (target >= 0.5). --with-mailparser also times
# mail-parser's parse_from_bytes, the cost parsers/ avoids by not calling it. Reply splitting
# (finding the customer's own words) is also timed alone on the parsed texts, as its share of
# a parse in the same run.

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts bench/ first on sys.path, where a sibling module can shadow
# the standard library (bench/calendar.py would hide `calendar`, which `email` imports).
# Put the project root there instead, which is also where `parsers` lives.
ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import email  # noqa: E402
import email.policy  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import TypeVar  # noqa: E402

from parsers import ParseLimitExceeded, parse  # noqa: E402
from parsers.reply_split import split_reply  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
Item = TypeVar("Item")


def bare_stdlib(raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for part in message.walk():
        if part.is_multipart():
            continue
        with contextlib.suppress(Exception):  # the baseline must survive the corpus too
            part.get_content()


def ours(raw: bytes) -> None:
    with contextlib.suppress(ParseLimitExceeded):
        parse(raw, received_at=RECEIVED)


def texts_of(messages: list[bytes]) -> list[str]:
    out = []
    for raw in messages:
        with contextlib.suppress(ParseLimitExceeded):
            out.append(parse(raw, received_at=RECEIVED).text)
    return out


def mail_parser(raw: bytes) -> None:
    import logging

    import mailparser

    logging.getLogger("mailparser").setLevel(logging.CRITICAL)
    with contextlib.suppress(Exception):  # it raises AttributeError on some real DSNs
        mailparser.parse_from_bytes(raw)


def rate(fn: Callable[[Item], object], messages: list[Item], rounds: int) -> float:
    """Best-of-``rounds`` messages per second (the least disturbed run)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for item in messages:
            fn(item)
        best = min(best, time.perf_counter() - started)
    return len(messages) / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--with-mailparser", action="store_true")
    args = parser.parse_args(argv)
    files = sorted((args.corpus / "messages").glob("*.eml"))
    if not files:
        print(f"no messages under {args.corpus / 'messages'}", file=sys.stderr)
        return 2
    messages = [path.read_bytes() for path in files]
    size = sum(len(m) for m in messages)
    print(f"corpus: {len(messages)} messages, {size / 1e6:.1f} MB, best of {args.rounds} rounds")
    baseline = rate(bare_stdlib, messages, args.rounds)
    print(f"stdlib message_from_bytes(default)+walk+get_content: {baseline:8.1f} msg/s")
    parsed = rate(ours, messages, args.rounds)
    print(f"parsers.parse:                                        {parsed:8.1f} msg/s")
    print(f"ratio parse/stdlib: {parsed / baseline:.2f} (target >= 0.5)")
    split = rate(split_reply, texts_of(messages), args.rounds)
    print(f"split_reply alone on the parsed texts:                {split:8.1f} msg/s")
    print(f"reply splitting's share of a parse: {parsed / split:.1%}")
    if args.with_mailparser:
        other = rate(mail_parser, messages, args.rounds)
        print(f"mailparser.parse_from_bytes alone:                    {other:8.1f} msg/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
