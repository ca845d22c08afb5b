"""The service's work loop: woken by work, it lingers before its step, so work that comes together
is done in one step; its poll interval and a stop are not held up by the linger."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from gateway.tools.service import Worker
from tests.support import wait_for


def _worker(interval: float, linger: float, third: threading.Event | None = None
            ) -> tuple[Worker, list[float], threading.Event]:
    steps: list[float] = []
    stopping = threading.Event()

    def step() -> bool:
        steps.append(time.monotonic())
        if third is not None and len(steps) >= 3:
            third.set()
        return False  # never busy: the loop waits for a wake or its interval each time

    worker = Worker("test", step, timedelta(seconds=interval), stopping, linger=timedelta(seconds=linger))
    return worker, steps, stopping


def test_work_woken_together_is_done_in_one_step_after_the_linger() -> None:
    third = threading.Event()
    worker, steps, stopping = _worker(interval=60, linger=0.3, third=third)
    worker.start()
    try:
        wait_for(lambda: steps, what="the first step")
        woken = time.monotonic()
        for _ in range(5):  # five mails stored in quick succession
            worker.wake.set()
        wait_for(lambda: len(steps) >= 2, what="the step after the wake")
        assert steps[1] - woken >= 0.3, "the step came before the linger was over"
        # The wakes that came before the step were for it: no other step follows (that would come
        # after one more linger, 0.3 s).
        assert not third.wait(1.0), "a step followed with no new work"
    finally:
        stopping.set()
        worker.wake.set()
        worker.join(5)


def test_the_poll_interval_is_not_lengthened_by_the_linger() -> None:
    worker, steps, stopping = _worker(interval=0.05, linger=60)
    worker.start()
    try:
        # Not woken: a step each interval, none waiting the 60 s linger.
        wait_for(lambda: len(steps) >= 4, timeout=10, what="steps at the poll interval")
    finally:
        stopping.set()
        worker.join(5)
    assert not worker.is_alive()


def test_a_stop_ends_the_linger() -> None:
    worker, steps, stopping = _worker(interval=60, linger=60)
    worker.start()
    wait_for(lambda: steps, what="the first step")
    worker.wake.set()  # now it lingers for 60 s
    stopping.set()
    worker.join(5)
    assert not worker.is_alive(), "the worker did not stop within 5 s of being asked"
    assert len(steps) == 1
