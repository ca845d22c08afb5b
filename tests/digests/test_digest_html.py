"""The handover, the organisation report and the due-today list as their readers' mail clients get them:
the HTML part taken out of the queued mail, checked for what mail clients refuse, and opened in
headless Chromium: no errors, nothing fetched, the charts' bars and the tables there.

(The weekly SLA digest is opened, and its screenshot taken, in tests/tools/test_report_html.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.store.db import Database
from tests.browser import CHROMIUM, Chromium
from tests.digests.desk import Desk, html_of
from tests.digests.test_digests import START, at, two_tickets
from tests.html_audit import mail_safe_problems
from tests.support import require

pytestmark = pytest.mark.slow

DOM_JS = """(() => ({
  charts: Object.fromEntries([...document.querySelectorAll('[data-chart]')].map(c => [c.dataset.chart,
    [...c.querySelectorAll('tr[data-bar]')].map(tr => ({label: tr.dataset.bar, text: tr.lastElementChild.textContent,
      segments: [...tr.querySelectorAll('[data-segment]')].map(td => [td.dataset.segment,
                                                                     Math.round(td.getBoundingClientRect().width)])}))
  ])),
  tables: Object.fromEntries([...document.querySelectorAll('[data-table]')].map(t => [t.dataset.table,
    [...t.querySelectorAll(':scope > tbody > tr')].map(r => r.cells[0].textContent)])),
  tiles: [...document.querySelectorAll('[data-tile] div:first-child')].map(d => d.textContent),
  scripts: document.scripts.length, images: document.images.length,
  fetched: performance.getEntriesByType('resource').length}))()"""


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("digests")
    db = Database(f"sqlite:///{root / 'd.sqlite3'}")
    db.upgrade()
    desk = Desk(db, START, root)
    two_tickets(desk)
    # Sunday evening: a P3 for Acme, 4 business hours from Monday 09:00, due in Bob's new shift.
    desk.mail(datetime(2026, 11, 22, 20, 0, tzinfo=UTC), "Ops <ops@acme.example>", "printer jam")
    desk.advance(at(12, 1, 15))
    yield desk
    db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    require(CHROMIUM is not None, "no chromium to open the mails in (apt-get install chromium)")
    chromium = Chromium(width=800)
    try:
        yield chromium
    finally:
        chromium.close()


def _open(browser: Chromium, html: str, path: Path) -> Any:
    assert mail_safe_problems(html) == []
    path.write_text(html, encoding="utf-8")
    browser.open(path)
    assert browser.errors() == []
    dom = browser.evaluate(DOM_JS)
    assert (dom["scripts"], dom["images"], dom["fetched"]) == (0, 0, 0)
    return dom


def test_the_handover_in_a_browser(desk: Desk, browser: Chromium, tmp_path: Path) -> None:
    dom = _open(browser, html_of(desk.message("oncall-handover", "bob@example.com", 1)), tmp_path / "handover.html")
    # Alice hands over to Bob on 23 November: #1 (P1) open; #3 due at 13:00 that day; nothing paged.
    assert dom["tiles"] == ["1", "0/0", "0", "1"]
    assert dom["tables"]["urgent"] == ["#1"] and dom["tables"]["due"] == ["23 Nov 2026, 13:00"]
    days = dom["charts"]["due-by-day"]
    # Each day of the shift, Monday 09:00 to the next Monday 09:00.
    assert [d["label"] for d in days] == [f"{n} Nov 2026" for n in range(23, 31)]
    assert [d["text"] for d in days] == ["1"] + ["0"] * 7
    assert [name for name, _ in days[0]["segments"]] == ["P3"]


def test_the_organisation_report_in_a_browser(desk: Desk, browser: Chromium, tmp_path: Path) -> None:
    dom = _open(browser, html_of(desk.message("organisation-monthly", "ops@acme.example")), tmp_path / "acme.html")
    assert dom["tiles"] == ["2", "50%", "1", "2"]  # #1 kept in 10 minutes; #3 answered by nobody: missed
    assert dom["tables"] == {"raised": ["#1", "#3"], "promises": ["#1", "#3"], "open": ["#1", "#3"]}
    [first_response] = dom["charts"]["promises-kept"]
    assert (first_response["label"], first_response["text"]) == ("first response", "50% (1/2)")
    (kept, kept_width), (missed, missed_width) = first_response["segments"]
    assert (kept, missed) == ("kept", "missed") and abs(kept_width - missed_width) <= 2


def test_due_today_in_a_browser(desk: Desk, browser: Chromium, tmp_path: Path) -> None:
    dom = _open(browser, html_of(desk.message("due-today", "dana@example.com", 0)), tmp_path / "due.html")
    assert dom["tiles"] == ["1", "0", "1"] and dom["tables"] == {"due-today": ["11:00"]}
