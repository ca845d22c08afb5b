"""APScheduler drives the SLA, digest and maintenance schedulers: a wake-up at the earliest instant, and a sweep."""

from __future__ import annotations

import logging
import threading

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

    def __init__(self, app: App, on_work: threading.Event | None = None) -> None:
        self.app = app
        self.scheduler = SlaScheduler(app)
        self.digests = DigestScheduler(app)
        self.maintenance = MaintenanceScheduler(app)
        self.on_work = on_work
        self._aps = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                      "misfire_grace_time": None})
        self._lock = threading.Lock()

    def start(self) -> None:
        self._aps.add_job(self.run, "interval", seconds=self.app.config.sla.sweep_interval.total_seconds(),
                          id="sla-sweep")
        self._aps.start()
        self.rearm()

    def shutdown(self) -> None:
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
            self.on_work.set()
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
            return
        run_date = wall_time_in(earliest - self.app.clock.now())
        self._aps.add_job(self.run, "date", run_date=run_date, id="sla-wake", replace_existing=True)
