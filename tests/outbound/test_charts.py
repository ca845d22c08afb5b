"""The HTML building blocks: figures in the reader's locale, bars as wide as their values, text escaped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.errors import UsageError
from gateway.outbound.charts import MET, Bar, Column, Figures, Segment, bar_chart, document, table, tiles, widths
from gateway.reports.series import week_starts
from gateway.tools.report_html import figures_for
from tests.html_audit import mail_safe_problems

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(("tag", "percent", "number", "duration"), [
    ("en_GB", "66.7%", "1,336.5", "22 hrs 17 mins"),
    ("de-DE", "66,7\xa0%", "1.336,5", "22 Std., 17 Min."),
    ("fr_FR", "66,7\xa0%", "1\u202f336,5", "22\u202fh 17\xa0min"),
])
def test_figures_in_the_readers_locale(tag: str, percent: str, number: str, duration: str) -> None:
    f = Figures(tag)
    assert (f.percent(66.66), f.number(1336.5)) == (percent, number)
    assert f.duration(1336.7) == duration


def test_durations_keep_the_two_largest_units() -> None:
    f = Figures("en_GB")
    assert [f.duration(m) for m in (0.4, 15, 60, 90, 1440, 3 * 1440 + 59, None)] == [
        "0 mins", "15 mins", "1 hr", "1 hr 30 mins", "1 day", "3 days 1 hr", "–"]
    assert (f.percent(100.0), f.percent(0.0), f.percent(None)) == ("100%", "0%", "–")


def test_a_locale_says_its_language_and_direction() -> None:
    assert (Figures("de-DE").lang, Figures("de_DE").direction) == ("de-DE", "ltr")
    assert Figures("ar_EG").direction == "rtl" and 'dir="rtl"' in document("t", [], Figures("ar_EG"))
    assert Figures("en_GB").moment(datetime(2026, 11, 23, 14, 5, tzinfo=UTC)) == "23 Nov 2026, 14:05"
    with pytest.raises(ValueError, match="xx_YY"):
        Figures("xx_YY")


def test_bar_widths_are_whole_percentages_of_the_scale() -> None:
    assert widths([2, 1], 4) == [50, 25]
    assert widths([0.001, 0, 99.999], 100) == [1, 0, 99]  # what is there shows, and the bar fits
    assert widths([1, 1, 1], 3) == [33, 33, 33] and widths([5], 0) == [0]


def test_a_chart_draws_each_segment_and_escapes_its_text() -> None:
    chart = bar_chart("c", "<b>title</b>", [
        Bar("<script>alert(1)</script>", (Segment(3, MET, "met"), Segment(1, "#d55e00", "missed")), "75%"),
        Bar("empty", (), "–")], key=[(MET, "met")])
    assert "<script>" not in chart and "&lt;script&gt;alert(1)&lt;/script&gt;" in chart
    assert "&lt;b&gt;title" in chart
    assert 'data-segment="met" title="met" width="75%"' in chart and 'width="25%"' in chart
    assert chart.count("data-bar=") == 2 and "data-legend" in chart
    assert "nothing to show" in bar_chart("c", "", [])


def test_tables_and_pages_are_what_mail_clients_render() -> None:
    f = Figures("en_GB")
    rows = [["#1", "<i>x</i>"], ["#2", "y"]]
    parts = [tiles([("72%", "kept")]), table("t", [Column("a"), Column("b", True)], rows),
             bar_chart("c", "t", [Bar("a", (Segment(1, MET, "met"),), "1")])]
    page = document("<title>", parts, f)
    assert mail_safe_problems(page) == []
    assert "&lt;i&gt;x&lt;/i&gt;" in page and "<title>&lt;title&gt;</title>" in page
    assert "Content-Security-Policy" in page and 'lang="en-GB"' in page
    assert "none" in table("t", [Column("a")], [])


def test_the_audit_finds_what_mail_clients_drop() -> None:
    bad = ('<style>p{}</style><p class="x" onclick="f()" style="display:flex">'
           '<img src="https://example.com/a.png"></p>')
    assert mail_safe_problems(bad) == ["<style>", "<p class>: styles must be inline", "<p onclick>",
                                       "<p style='display:flex'>", "<img>", "<img src='https://example.com/a.png'>"]


def test_weeks_start_at_midnight_in_the_zone_across_a_clock_change() -> None:
    # British Summer Time ends on Sunday 25 October 2026.
    start, end = datetime(2026, 10, 14, 12, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    starts = week_starts(start, end, LONDON)
    assert starts == [start, datetime(2026, 10, 18, 23, tzinfo=UTC), datetime(2026, 10, 26, 0, tzinfo=UTC),
                      datetime(2026, 11, 2, 0, tzinfo=UTC)]
    assert [s.astimezone(LONDON).weekday() for s in starts[1:]] == [0, 0, 0]
    sundays = week_starts(start, end, LONDON, first_weekday=6)
    assert [s.astimezone(LONDON).date() for s in sundays[1:]] == [date(2026, 10, 18), date(2026, 10, 25),
                                                                  date(2026, 11, 1)]
    monday = datetime(2026, 11, 16, tzinfo=UTC)
    assert week_starts(monday, monday + timedelta(days=14), LONDON) == [monday, monday + timedelta(days=7)]


@pytest.mark.parametrize(("env", "lang"), [
    ({"LANG": "de_DE.UTF-8"}, "de-DE"), ({"LC_ALL": "fr_FR.UTF-8", "LANG": "de_DE.UTF-8"}, "fr-FR"),
    ({"LC_NUMERIC": "en_GB.UTF-8", "LANG": "C.UTF-8"}, "en-GB"), ({"LANG": "C.UTF-8"}, "en"), ({"LANG": "xx"}, "en"),
    ({}, "en")])
def test_a_page_without_locale_takes_the_environments(env: dict[str, str], lang: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_NUMERIC", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert figures_for(None).lang == lang
    with pytest.raises(UsageError, match="--locale 'xx_YY' is not a locale"):
        figures_for("xx_YY")
