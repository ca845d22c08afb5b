"""The wake-up is re-armed from what processing stored, and only when that is earlier than the one armed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.base import STATE_STOPPED

from gateway.app import App
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from gateway.timekeeping.driver import SlaDriver
from tests import worlds
from tests.support import customer_mail, wait_for

POLICY = worlds.world(
    worlds.UK_CALENDAR,
    worlds.P1_UPDATED_EVERY_30M,
    worlds.OWN_RULES,
    worlds.rule("outage", ["down"], "Everything is down.", priority="P1"),
)


def _mail(app: App, n: int, subject: str) -> None:
    store_inbound(app.db, customer_mail(f"c{n}@customer.example", subject, "help"), source="t",
                  envelope=Envelope(f"c{n}@customer.example", ("support@example.com",)), received_at=app.clock.now())


def _armed(driver: SlaDriver) -> object:
    return driver._armed  # the instant the wake-up job was last (re)placed at


def test_processing_arms_the_wake_up_only_when_it_stored_an_earlier_one(make_app: Callable[..., App]) -> None:
    app = make_app(POLICY)
    processor, driver = Processor(app), SlaDriver(app)
    assert processor.take_wakeup() is None
    _mail(app, 1, "a question about invoices")  # P3: its first wake-up is hours away
    processor.drain()
    later = processor.take_wakeup()
    assert later is not None and later > app.clock.now() + timedelta(hours=1)
    assert processor.take_wakeup() is None  # taken once
    driver.arm_no_later_than(later)
    first = _armed(driver)
    assert first == later
    _mail(app, 2, "everything is down")  # P1: 80% of its first response comes much sooner
    processor.drain()
    sooner = processor.take_wakeup()
    assert sooner is not None and sooner < later
    driver.arm_no_later_than(sooner)
    second = _armed(driver)
    assert second == sooner
    driver.arm_no_later_than(later)  # later than the one armed: left as it is
    assert _armed(driver) == second
    driver.rearm()  # from the database: the same earliest
    assert _armed(driver) == second


def test_a_wake_up_running_at_the_stop_does_not_hold_the_stop_up(make_app: Callable[..., App]) -> None:
    """APScheduler's shutdown waits for the running job while holding the lock adding a job takes: a
    wake-up that re-armed itself then would wait for ever, and `helpdesk run` would never stop."""
    app = make_app(POLICY)
    _mail(app, 1, "everything is down")
    Processor(app).drain()
    driver = SlaDriver(app)
    running, release = threading.Event(), threading.Event()
    real_run_due = driver.scheduler.run_due

    def slow_run_due(now: datetime | None = None) -> int:
        running.set()
        release.wait(10)
        return real_run_due(now)

    driver.scheduler.run_due = slow_run_due  # type: ignore[method-assign]
    driver.start()
    driver._aps.add_job(driver.run, "date", id="now")  # a wake-up, running when the stop comes
    wait_for(running.is_set, what="the wake-up to run")
    stopper = threading.Thread(target=driver.shutdown)
    stopper.start()
    wait_for(lambda: driver._aps.state == STATE_STOPPED, what="the stop to begin")
    release.set()  # the wake-up finishes, and re-arms
    stopper.join(10)
    assert not stopper.is_alive(), "the stop waited for ever on the wake-up that re-armed itself"
