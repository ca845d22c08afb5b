"""APScheduler drives the SLA, digest and maintenance schedulers: a wake-up at the earliest instant, and a sweep."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from apscheduler.schedulers.background import BackgroundScheduler

from gateway.app import App
from gateway.clock import wall_time_in
from gateway.timekeeping.digests import DigestScheduler
from gateway.timekeeping.maintenance import MaintenanceScheduler
from gateway.timekeeping.scheduler import SlaScheduler

log = logging.getLogger("gateway.sla")


class SlaDriver:
    """Runs ``SlaScheduler.run_due`` when the earliest ``next_deadline`` comes, re-armed after every run
    and whenever processing may have created a sooner deadline; a periodic sweep is the safety net
    (and what follows an injected clock that moves in jumps)."""

    def __init__(self, app: App, on_work: Callable[[], None] | None = None) -> None:
        self.app = app
        self.scheduler = SlaScheduler(app)
        self.digests = DigestScheduler(app)
        self.maintenance = MaintenanceScheduler(app)
        self.on_work = on_work
        self._aps = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                      "misfire_grace_time": None})
        self._lock = threading.Lock()
        self._armed_lock = threading.Lock()
        self._armed: datetime | None = None  # the instant the wake-up is armed at
        self._stopping = False

    def start(self) -> None:
        self._aps.add_job(self.run, "interval", seconds=self.app.config.sla.sweep_interval.total_seconds(),
                          id="sla-sweep")
        self._aps.start()
        self.rearm()

    def shutdown(self) -> None:
        # APScheduler's shutdown waits for the running wake-up while holding the lock that adding
        # a job takes: a wake-up that re-armed itself then would wait for ever. No arming from here on.
        with self._armed_lock:
            self._stopping = True
        self._aps.shutdown(wait=True)

    def run(self) -> None:
        with self._lock:
            try:
                handled = self.scheduler.run_due()
            except Exception:
                log.exception("SLA wake-up failed; the next sweep tries again")
                return
            try:
                handled += self.digests.run_due()
            except Exception:
                log.exception("digest wake-up failed; the next sweep tries again")
            try:
                handled += self.maintenance.run_due()
            except Exception:
                log.exception("maintenance wake-up failed; the next sweep tries again")
        if handled and self.on_work is not None:
            self.on_work()
        self.rearm()

    def rearm(self) -> None:
        """Arm the wake-up at the earliest deadline or digest (replacing the one armed before)."""
        try:
            instants = [self.scheduler.earliest(), self.digests.earliest(), self.maintenance.earliest()]
        except Exception:
            log.exception("cannot read the earliest SLA deadline or digest")
            return
        earliest = min((i for i in instants if i is not None), default=None)
        if earliest is None:
            with self._armed_lock:
                self._armed = None
            return  # nothing to arm: the sweep looks again
        self._arm(earliest, only_if_earlier=False)

    def arm_no_later_than(self, instant: datetime | None) -> None:
        """Processing stored a wake-up at ``instant``: re-arm only if it is earlier than the one armed
        (no query: a later one is found when the armed wake-up runs, which re-arms from the database)."""
        if instant is not None:
            self._arm(instant, only_if_earlier=True)

    def _arm(self, instant: datetime, *, only_if_earlier: bool) -> None:
        with self._armed_lock:
            if self._stopping:
                return
            now = self.app.clock.now()
            # An armed instant already past is as good as none: its run may have failed before re-arming.
            if only_if_earlier and self._armed is not None and now < self._armed <= instant:
                return
            self._armed = instant
            run_date = wall_time_in(instant - now)
            self._aps.add_job(self.run, "date", run_date=run_date, id="sla-wake", replace_existing=True)
