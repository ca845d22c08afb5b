"""The SLA report as a page, and the weekly SLA digest mail's HTML, opened in headless Chromium.

Three weeks of tickets across priorities, some promises kept and some missed, with the figures
each chart must show worked out by hand. `helpdesk report sla --html` writes the page; the
weekly digest to the service delivery manager is queued as the scheduler queues it. Chromium
opens the page and the digest (taken back out of its MIME message): no errors, no scripts,
nothing fetched, the charts' bars there and as wide as their figures say. With
``HELPDESK_SCREENSHOTS`` set to a directory (``docs``), the screenshots are left there for the README.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.digests.readers import slots
from gateway.digests.schedule import latest_occasion
from gateway.digests.send import send
from gateway.outbound.charts import Figures, document
from gateway.processing.worker import Processor
from gateway.reports.series import sla_series
from gateway.reports.sla_report import report
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import OutboxMessage, Ticket
from gateway.tickets.workflow import public_update, set_status
from gateway.timekeeping.scheduler import SlaScheduler
from tests import worlds
from tests.browser import CHROMIUM, Chromium
from tests.html_audit import mail_safe_problems
from tests.support import GatewayProcess, customer_mail, free_port, require, write_config

POLICY = worlds.world(
    worlds.UK_CALENDAR,
    worlds.plan(default_priority="P3", priorities={
        "P1": {"first_response": "15m", "resolution": "4h", "calendar": "24x7"},
        "P2": {"first_response": "30m", "resolution": "8h", "calendar": "24x7"},
        "P3": worlds.FOUR_BUSINESS_HOURS,
        "P4": {"first_response": "8 business hours"},
    }),
    worlds.OWN_RULES,  # these tickets' priorities come from these rules alone
    # One word each gives a priority; anything else is the plan's P3.
    *(worlds.rule(word, [word], priority=p) for word, p in (("outage", "P1"), ("urgent", "P2"), ("question", "P4"))),
    # The service delivery manager, who gets the weekly report by mail.
    worlds.contact("dana", "Dana Delivery", roles=["service-delivery-manager"], locale="en_GB"),
    worlds.table("[[digests]]", kind="sla-weekly", at="mon 08:00"),
)
MONDAY = datetime(2026, 11, 16, tzinfo=UTC)  # London is on UTC in November
END = MONDAY + timedelta(days=21)
PERIOD = ("--from", "2026-11-16", "--to", "2026-12-07")

# (day, hour, minute, what, ticket or subject): the three weeks, in order.
STORY: list[tuple[int, int, int, str, Any]] = [
    (0, 10, 0, "open", "outage at the depot"), (0, 10, 5, "respond", 1),            # P1: 5 min
    (0, 11, 0, "open", "urgent: invoices"), (0, 11, 45, "respond", 2),             # P2: 45 min, 15 late
    (0, 12, 0, "resolve", 1), (0, 15, 0, "resolve", 2),                            # both in time
    (1, 10, 0, "open", "printer"), (1, 12, 0, "respond", 3),                       # P3: 2 business hours
    (2, 9, 30, "open", "a question"), (3, 10, 0, "respond", 4),                    # P4: 8.5 business hours
    (7, 9, 0, "open", "outage again"), (7, 9, 10, "respond", 5), (7, 16, 0, "resolve", 5),  # resolved 3 h late
    (8, 14, 0, "open", "urgent: payroll"), (8, 14, 20, "respond", 6), (8, 20, 0, "resolve", 6),
    (9, 10, 0, "open", "login"), (9, 10, 30, "respond", 7),
    (11, 16, 0, "open", "backup"), (14, 10, 0, "respond", 8),                      # Friday 16:00 to Monday 10:00
    (15, 22, 0, "open", "outage at night"), (15, 22, 40, "respond", 9), (16, 1, 0, "resolve", 9),
    (16, 11, 0, "open", "vpn"), (16, 11, 15, "respond", 10),
    (17, 9, 0, "open", "urgent: orders"), (17, 9, 5, "respond", 11),               # never resolved: breached
    (18, 10, 0, "open", "one more question"), (18, 11, 0, "respond", 12),
    (20, 15, 0, "open", "sunday"),                                                 # still running at the end
]
# Worked out by hand: (days, due, met) of each week, what each chart writes.
T = "\u2009–\u2009"  # babel sets a span's dash between thin spaces
WEEKS = [(f"16{T}22 Nov", 6, 4, "66.7% (4/6)"), (f"23{T}29 Nov", 5, 4, "80% (4/5)"),
         (f"30 Nov{T}6 Dec", 7, 5, "71.4% (5/7)")]
BREACHES = [("P1", "2", ["first response", "resolution"]), ("P2", "2", ["first response", "resolution"]),
            ("P4", "1", ["first response"])]
FIRST_RESPONSES = ["3", "2", "3", "1", "2", "0", "1", "0", "0"]  # < 15 min, 15-30 min, ... ≥ 3 days
TILES = ["72.2%", "18", "5", "1"]

CHARTS_JS = """(() => {
  const bars = name => [...document.querySelectorAll(`[data-chart="${name}"] tr[data-bar]`)].map(tr => ({
    label: tr.dataset.bar, text: tr.lastElementChild.textContent,
    track: tr.children[1].getBoundingClientRect().width,
    segments: [...tr.querySelectorAll('[data-segment]')]
              .map(td => [td.dataset.segment, td.getBoundingClientRect().width])
  }));
  return {charts: Object.fromEntries(['compliance-by-week', 'breaches-by-priority', 'first-response-times']
                                     .map(name => [name, bars(name)])),
          tiles: [...document.querySelectorAll('[data-tile] div:first-child')].map(d => d.textContent),
          tables: [...document.querySelectorAll('[data-table]')].map(t => t.dataset.table),
          scripts: document.scripts.length, sheets: document.styleSheets.length, images: document.images.length,
          fetched: performance.getEntriesByType('resource').length, lang: document.documentElement.lang};
})()"""


def _run(app: App, clock: FakeClock, step: tuple[int, int, int, str, Any]) -> None:
    day, hour, minute, what, arg = step
    clock.set(MONDAY + timedelta(days=day, hours=hour, minutes=minute))
    SlaScheduler(app).run_due()
    if what == "open":
        sender = f"{arg.split()[-1]}.{day}@customer.example"
        store_inbound(app.db, customer_mail(sender, arg, "Please help."), source="t",
                      envelope=Envelope(sender, ("support@example.com",)), received_at=clock.now())
        Processor(app).drain()
        return
    with app.db.transaction() as session:
        ticket = session.get(Ticket, arg)
        assert ticket is not None
        if what == "respond":
            public_update(session, app, ticket, clock.now(), "dana")
        else:
            set_status(session, app, ticket, "resolved", clock.now(), "dana")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, App]]:
    """A config file, and the gateway's data after the three weeks (the clock on the Monday after)."""
    root = tmp_path_factory.mktemp("world")
    config = write_config(root / "config.toml", smtp_port=free_port(), relay_port=None, extra=POLICY)
    clock = FakeClock(MONDAY)
    app = build_app(load_config(config), clock)
    app.db.upgrade()
    for step in STORY:
        _run(app, clock, step)
    clock.set(END + timedelta(hours=9))
    SlaScheduler(app).run_due()
    (root / "clock").write_text(clock.now().isoformat())
    yield config, app
    app.db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    require(CHROMIUM is not None, "no chromium to open the pages in (apt-get install chromium)")
    chromium = Chromium()
    try:
        yield chromium
    finally:
        chromium.close()


def _keep(png: Path) -> None:
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    if os.environ.get("HELPDESK_SCREENSHOTS"):
        keep = Path(os.environ["HELPDESK_SCREENSHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(png, keep / png.name)


def _width_is(segment: list[Any], track: float, share: float) -> None:
    assert abs(segment[1] - track * share) <= max(2.0, track * 0.011), (segment, track, share)


def test_the_browser_would_see_a_script_error(browser: Chromium, tmp_path: Path) -> None:
    """The checks below are not empty: a failing script and a refused fetch are reported."""
    page = tmp_path / "bad.html"
    page.write_text('<p>x</p><script>throw new Error("seen")</script>')
    browser.open(page)
    assert any("seen" in e for e in browser.errors())
    page.write_text(str(document("t", [], Figures("en"))).replace("</body>", '<img src="https://example.com/a.png">'
                                                                             "</body>"))
    browser.open(page)
    assert any("Content Security Policy" in e for e in browser.errors())


def test_the_weeks_add_up_to_the_report(world: tuple[Path, App]) -> None:
    app = world[1]
    with app.db.sessions() as session:
        data = report(session, app.config.policy, MONDAY, END, now=app.clock.now())
        series = sla_series(session, app.config.policy, MONDAY, END, app.config.gateway.timezone,
                            now=app.clock.now())
    assert [(w["due"], w["met"]) for w in series["weeks"]] == [(due, met) for _, due, met, _ in WEEKS]
    for figure in ("due", "met", "missed"):
        assert sum(w[figure] for w in series["weeks"]) == sum(r[figure] for r in data["rows"])
    first = next(r for r in data["rows"] if r["clock"] == "first_response")
    assert len(series["first_response"]) == first["due"]
    assert sum(1 for r in series["first_response"] if r["outcome"] == "met") == first["met"]
    # Ticket 8, Friday 16:00 to Monday 10:00: two business hours; ticket 2, 45 minutes on a 24x7 clock.
    taken = {r["ticket"]: (r["minutes"], r["business"]) for r in series["first_response"]}
    assert (taken[8], taken[2]) == ((120.0, True), (45.0, False))


@pytest.mark.slow
def test_report_page_opened_in_chromium(world: tuple[Path, App], browser: Chromium, tmp_path: Path) -> None:
    config, _ = world
    gw = GatewayProcess(config, 0, env={"HELPDESK_CLOCK_FILE": str(config.parent / "clock")})
    page = tmp_path / "sla-report.html"
    data = json.loads(gw.cli("report", "sla", *PERIOD, "--html", str(page), "--locale", "en_GB", "--json").stdout)
    due = {r["clock"]: r["due"] for r in data["rows"]}
    assert (due, len(data["breaches"])) == ({"first_response": 12, "resolution": 6}, 5)
    assert mail_safe_problems(page.read_text()) == []

    browser.open(page)
    assert browser.errors() == []
    dom = browser.evaluate(CHARTS_JS)
    assert (dom["scripts"], dom["sheets"], dom["images"], dom["fetched"], dom["lang"]) == (0, 0, 0, 0, "en-GB")
    assert dom["tiles"] == TILES and dom["tables"] == ["report", "breaches"]
    weeks = dom["charts"]["compliance-by-week"]
    assert [(w["label"], w["text"]) for w in weeks] == [(label, text) for label, _, _, text in WEEKS]
    for week, (_, due_in_week, met, _) in zip(weeks, WEEKS, strict=True):
        assert [name for name, _ in week["segments"]] == ["met", "missed"]
        _width_is(week["segments"][0], week["track"], met / due_in_week)
    breaches = dom["charts"]["breaches-by-priority"]
    assert [(b["label"], b["text"], [n for n, _ in b["segments"]]) for b in breaches] == BREACHES
    _width_is(breaches[2]["segments"][0], breaches[0]["track"], 1 / 2)  # the longest bar is the full width
    first = dom["charts"]["first-response-times"]
    assert [b["text"] for b in first] == FIRST_RESPONSES
    assert first[0]["label"] == "< 15 mins" and first[-1]["label"] == "≥ 3 days"
    assert sum(int(b["text"]) for b in first) == due["first_response"]
    _keep(browser.screenshot(tmp_path / "sla-report.png"))

    german = gw.cli("report", "sla", *PERIOD, "--html", "-", "--locale", "de-DE").stdout.decode()
    assert '<html lang="de-DE"' in german and "72,2\xa0%" in german and "66,7\xa0% (4/6)" in german
    assert "16.–22. Nov." in german
    bad = gw.cli("report", "sla", *PERIOD, "--html", "-", "--locale", "xx_YY", check=False)
    assert bad.returncode == 2 and "--locale" in bad.stderr.decode()


def _digest(app: App) -> EmailMessage:
    """The weekly digest to the service delivery manager, queued as the scheduler queues it."""
    digest = app.config.digests.digest("sla-weekly")
    assert digest is not None
    [slot] = slots(app.config, digest)
    occasion = latest_occasion(app.config, digest, slot, app.clock.now())
    assert occasion is not None and occasion.key == "2026-12-07"  # the week 30 November to 6 December
    with app.db.transaction() as session:
        assert send(session, app, occasion, slot.key, app.clock.now()) == ["dana@example.com"]
        raw = session.scalar(select(OutboxMessage.raw).where(OutboxMessage.kind == "sla-weekly"))
    assert raw is not None
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


@pytest.mark.slow
def test_digest_html_in_a_mail_opened_in_chromium(world: tuple[Path, App], browser: Chromium,
                                                  tmp_path: Path) -> None:
    received = _digest(world[1])
    assert " ".join(str(received["Subject"]).split()) == "Weekly SLA report, 30 Nov – 6 Dec 2026: 71.4% kept"
    part = received.get_body(("html",))
    assert part is not None
    html = part.get_content()
    assert mail_safe_problems(html) == []
    page = tmp_path / "digest.html"
    page.write_text(html, encoding="utf-8")

    browser.open(page)
    assert browser.errors() == []
    dom = browser.evaluate(CHARTS_JS)
    assert (dom["scripts"], dom["sheets"], dom["images"], dom["fetched"]) == (0, 0, 0, 0)
    # Six weeks to the end of the one reported: three before the first ticket, then the three above.
    assert [w["text"] for w in dom["charts"]["compliance-by-week"]] == ["nothing due"] * 3 + [t for *_, t in WEEKS]
    # #9 answered 40 minutes into a P1 (15 minutes), #11 (P2) never resolved within its 8 hours.
    assert [b["label"] for b in dom["charts"]["breaches-by-priority"]] == ["P1", "P2"]
    assert dom["tiles"] == ["71.4%", "7", "2", "1"] and dom["tables"] == ["report", "breaches"]
    def rows(name: str) -> Any:
        return browser.evaluate(f"[...document.querySelectorAll('[data-table={name}] tbody tr')]"
                                ".map(r => r.cells[0].textContent)")

    assert rows("breaches") == ["#9", "#11"] and rows("report") == ["standard", "standard"]
    _keep(browser.screenshot(tmp_path / "digest.png", width=720))
