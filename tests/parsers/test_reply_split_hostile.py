"""split_reply stays linear on hostile text: every recogniser's worst case, many times over."""

from __future__ import annotations

import time

import pytest

from parsers.reply_split import split_reply


@pytest.mark.parametrize(
    "line",
    [
        "On 1 Jan 2024 10:00 Bob <\n" * 20000,
        ("On 1 Jan 2024 10:00 " + "x " * 180 + ":\n") * 20000,
        (("a On " * 79) + "wrote:\n") * 20000,
        ("Date: 1 2 3\nTo: a@b\n" * 10000),
        ("Sent from my iPhone\n" * 20000),
        (("_" * 40 + "\n") * 20000),
        ("2014-10-17 11:28 " + "@" * 380 + ":\n") * 20000,
        ("On 1 2 " + "wrote " * 60 + ":\n") * 20000,
        ("> a\nx)\n" * 10000),
    ],
    ids=["joins", "lead-colon", "inline-leads", "fields", "mobile", "rules", "date-first",
         "verbs", "link-pieces"],
)
def test_hostile_attributions_stay_linear(line: str) -> None:
    started = time.perf_counter()
    split_reply(line)
    assert time.perf_counter() - started < 5.0


def test_hostile_text_stays_linear() -> None:
    text = ("On Mon, Jan 1, 2024 Bob wrote:\nnot a quote\n" * 20000) + ("> q\n" * 50000)
    started = time.perf_counter()
    split_reply(text)
    assert time.perf_counter() - started < 5.0
