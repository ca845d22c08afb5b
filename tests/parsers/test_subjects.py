"""A subject's shape: the repeats of one alert share it, different alerts and requests do not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers.subjects import MAX_SHAPE, subject_shape


@pytest.mark.parametrize(("one", "other"), [
    ("ALERT 4121: db7.prod down", "ALERT 4188: db3.prod down"),
    ("Job #88213 failed at 09:14:02", "Job #88214 failed at 09:24:40"),
    ("Trace 3f2a9c1e-77ab-4c3d-9e2f-0123456789ab failed", "Trace 0a9bc8d7-1111-4c3d-9e2f-fedcba987654 failed"),
    ("Request abc123def456ghi timed out", "Request zzz999yyy888xxx timed out"),
    ("ALERT 1: db1 down", "Re: AW: [#12] ALERT 2: db2 down"),
    ("Disk FULL on web3", "disk full on web4"),
])
def test_repeats_of_one_alert_have_one_shape(one: str, other: str) -> None:
    assert subject_shape(one) == subject_shape(other) != ""


@pytest.mark.parametrize(("one", "other"), [
    ("ALERT 9: db1 down", "ALERT 9: disk full on web3"),
    ("CRITICAL: db1 down", "RECOVERY: db1 up"),
    ("Invoice question", "Login fails"),
])
def test_different_subjects_keep_different_shapes(one: str, other: str) -> None:
    assert subject_shape(one) != subject_shape(other)


@pytest.mark.parametrize("empty", ["", "   ", "12345", "Re: ", "Re: [#4]", "#1 - 2", "\u200b"])
def test_a_subject_that_says_nothing_has_no_shape(empty: str) -> None:
    assert subject_shape(empty) == ""


@given(st.text(max_size=3000))
def test_any_subject_gives_a_bounded_shape_without_digits(subject: str) -> None:
    shape = subject_shape(subject)
    assert len(shape) <= MAX_SHAPE
    assert not any(c in "0123456789" for c in shape)


@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=2, max_size=2))
def test_only_the_numbers_changing_leaves_the_shape(numbers: list[int]) -> None:
    a, b = numbers
    assert subject_shape(f"Backup job {a} on host{a % 7} failed") == subject_shape(f"Backup job {b} on host{b} failed")
