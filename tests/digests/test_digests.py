"""Digests by mail on a fake clock: each once per period and reader, in the reader's zone and locale,
and never twice across a restart, a second process or a lost schedule.

Two weeks of November 2026 (London is on UTC): Acme's outage (#1, P1 gold, 30 minutes) is answered
in 10 minutes; Globex's network printer (#2, P3 silver, 8 business hours, routed to Dana's group)
is due Tuesday 11:00 and answered Wednesday 10:00, 7 business hours late.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete

from gateway.cli import main
from gateway.clock import write_clock_file
from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.store.db import Database
from gateway.store.models import Base, DigestSchedule, OutboxMessage
from tests import worlds
from tests.digests.desk import CONFIG, DIGESTS, Desk, text_of

START = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)  # a Sunday


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def two_tickets(desk: Desk) -> None:
    desk.mail(at(11, 16, 10), "Ops <ops@acme.example>", "outage at the depot")
    desk.respond(at(11, 16, 10, 10), 1)
    desk.mail(at(11, 16, 11), "NOC <noc@globex.example>", "network printer")
    desk.respond(at(11, 18, 10), 2)


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    db = Database(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    db.upgrade()
    return Desk(db, START, tmp_path)


def test_every_digest_goes_once_per_period_to_each_reader_in_their_zone(desk: Desk) -> None:
    two_tickets(desk)
    desk.advance(at(12, 1, 15))
    assert desk.digest_mails() == [
        # Rotation: Bob's week ends Monday 16 November 09:00, Alice's on the 23rd, Bob's on the 30th.
        ("11-16 09:00", "oncall-handover", "alice@example.com"), ("11-16 09:00", "oncall-handover", "bob@example.com"),
        # Dana's group has #2 due on Tuesday, and late on Wednesday; Eve has nothing, so no mail.
        ("11-17 08:00", "due-today", "dana@example.com"), ("11-18 08:00", "due-today", "dana@example.com"),
        # Monday 08:00 in Sydney (UTC+11) and in Berlin (UTC+1); Sam's first Monday had nothing to report.
        ("11-22 21:00", "sla-weekly", "sam@example.com"), ("11-23 07:00", "sla-weekly", "greta@example.com"),
        ("11-23 09:00", "oncall-handover", "alice@example.com"), ("11-23 09:00", "oncall-handover", "bob@example.com"),
        ("11-30 09:00", "oncall-handover", "alice@example.com"), ("11-30 09:00", "oncall-handover", "bob@example.com"),
        # November's report on 1 December 09:00 in London and in New York (UTC-5).
        ("12-01 09:00", "organisation-monthly", "it@acme.example"),
        ("12-01 09:00", "organisation-monthly", "ops@acme.example"),
        ("12-01 14:00", "organisation-monthly", "noc@globex.example")]
    weekly = desk.message("sla-weekly", "sam@example.com")
    assert " ".join(weekly["Subject"].split()) == "Weekly SLA report, 16 – 22 Nov 2026: 50% kept"
    assert weekly["Auto-Submitted"] == "auto-generated"
    text = text_of(weekly)
    assert "Promises due: 2, kept: 1, missed: 1 (50% kept); still running at the end: 0." in text
    assert "#2 P3 first response silver" in text and "7 hrs" in text
    # Greta reads figures and dates in German (her [contacts] locale); the words stay English.
    german = text_of(desk.message("sla-weekly", "greta@example.com"))
    assert "Weekly SLA report, 16.–22. Nov. 2026" in german and "(50 % kept)" in german
    assert "17.11.2026, 12:00 7 Std." in german  # #2 was due at 11:00 London, 12:00 in Berlin
    tuesday, wednesday = (text_of(desk.message("due-today", "dana@example.com", i)) for i in (0, 1))
    assert "Due: 1, already late: 0." in tuesday and "11:00 #2 P3 first response network printer Globex" in tuesday
    assert "Due: 1, already late: 1." in wednesday and "late since 17 Nov 2026, 11:00" in wednesday


def test_the_organisation_report_tells_each_contact_their_own(desk: Desk) -> None:
    two_tickets(desk)
    desk.advance(at(12, 1, 15))
    acme = desk.message("organisation-monthly", "ops@acme.example")
    assert acme["Subject"] == "Your support report for November 2026: Acme"
    text = text_of(acme)
    assert "Tickets raised in November 2026: 1. Promises due: 1, kept: 1 (100%). Open now: 1." in text
    assert "#1 first response 30 minutes 16 Nov 2026, 10:30 kept 10 mins" in text
    assert "Globex" not in text and "network printer" not in text  # nothing of another customer's
    assert "(100 %)" in text_of(desk.message("organisation-monthly", "it@acme.example"))  # her language: de
    globex = text_of(desk.message("organisation-monthly", "noc@globex.example"))
    assert "Promises due: 1, kept: 0 (0%). Open now: 1." in globex and "(times in America/New_York)" in globex
    assert "#2 first response 8 business hours 17 Nov 2026, 06:00 missed by 7 hrs 15 hrs" in globex


def test_the_monthly_sla_report_covers_the_calendar_month_before(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    db.upgrade()
    desk = Desk(db, START, tmp_path, extra='[[digests]]\nkind = "sla-monthly"\nto = ["contact:sam"]\n'
                                           'plans = ["silver"]\nlocale = "en_GB"\n')
    two_tickets(desk)
    desk.advance(at(12, 2, 0))
    # 1 December 08:00 in Sydney; the silver plan's one promise (#2), missed.
    assert desk.digest_mails() == [("11-30 21:00", "sla-monthly", "sam@example.com")]
    monthly = desk.message("sla-monthly", "sam@example.com")
    assert " ".join(monthly["Subject"].split()) == "Monthly SLA report, November 2026 (silver): 0% kept"
    text = text_of(monthly)
    assert "Promises due: 1, kept: 0, missed: 1 (0% kept)" in text and "gold" not in text
    # Its weeks as Sydney's calendar has them, from 1 November (a Sunday) to the month's end.
    assert "Compliance by week: 1 Nov: nothing due 2 – 8 Nov: nothing due" in text and "30 Nov: nothing due" in text
    db.dispose()


def test_nothing_is_sent_twice_across_processes_a_restart_and_a_lost_schedule(database: Database,
                                                                              tmp_path: Path) -> None:
    """Two processes on one database (SQLite, and PostgreSQL when configured), then a restart."""
    def connect() -> Database:
        return Database(database.url, schema=database.schema)

    first = Desk(connect(), START, tmp_path)
    two_tickets(first)
    first.advance(at(11, 23, 7, 30))
    sent = first.digest_mails("sla-weekly")
    assert sent == [("11-22 21:00", "sla-weekly", "sam@example.com"),
                    ("11-23 07:00", "sla-weekly", "greta@example.com")]
    second = Desk(connect(), at(11, 23, 7, 30), tmp_path)  # another process, started now
    for desk in (first, second, first, second):
        desk.advance(at(11, 23, 8))
    first.app.db.dispose()  # the first process goes away
    # The schedule is lost, and a process starts at the very instant of Sam's report.
    with second.app.db.transaction() as session:
        session.execute(delete(DigestSchedule))
    restarted = Desk(connect(), at(11, 22, 21), tmp_path)
    restarted.digests.run_due()
    assert restarted.digest_mails("sla-weekly") == sent
    restarted.mail(at(11, 24, 10), "Ops <ops@acme.example>", "outage again")  # something for next week's
    restarted.respond(at(11, 24, 10, 5), 3)
    for desk in (second, restarted):
        desk.advance(at(11, 30, 8))
    assert restarted.digest_mails("sla-weekly")[2:] == [
        ("11-29 21:00", "sla-weekly", "sam@example.com"), ("11-30 07:00", "sla-weekly", "greta@example.com")]
    with restarted.app.db.sessions() as session:
        keys = sorted(session.scalars(OutboxMessage.__table__.select().with_only_columns(OutboxMessage.cause_key)
                                      .where(OutboxMessage.kind == "sla-weekly")))
    assert keys == ["digest:sla-weekly:2026-11-23:greta@example.com", "digest:sla-weekly:2026-11-23:sam@example.com",
                    "digest:sla-weekly:2026-11-30:greta@example.com", "digest:sla-weekly:2026-11-30:sam@example.com"]
    second.app.db.dispose()
    restarted.app.db.dispose()


def test_after_a_long_stop_only_the_latest_period_goes(desk: Desk) -> None:
    """The digest scheduler's process is down from 16 November to 30 December while tickets go on."""
    desk.sending = False
    two_tickets(desk)
    desk.mail(at(12, 22, 10), "Ops <ops@acme.example>", "outage at the depot")
    desk.respond(at(12, 22, 10, 5), 3)
    desk.advance(at(12, 30, 10))
    desk.sending = True
    desk.digests.run_due()
    assert desk.digest_mails("sla-weekly") == [("12-30 10:00", "sla-weekly", "greta@example.com"),
                                               ("12-30 10:00", "sla-weekly", "sam@example.com")]
    weekly = desk.message("sla-weekly", "sam@example.com")
    assert " ".join(weekly["Subject"].split()) == "Weekly SLA report, 21 – 27 Dec 2026: 100% kept"
    # One handover (Monday 28 December's) and one November report per contact, not one per period missed.
    assert len(desk.digest_mails("oncall-handover")) == 2 and len(desk.digest_mails("organisation-monthly")) == 3
    desk.advance(at(12, 31, 10))
    assert len(desk.digest_mails()) == 7


def test_digest_config_errors_name_the_key_and_the_fix() -> None:
    def problems(extra: str) -> list[str]:
        with pytest.raises(ConfigError) as err:
            load_config(None, text=worlds.world(CONFIG, extra))
        return err.value.problems

    assert problems('[[digests]]\nkind = "sla-daily"') == [
        "digests[0].kind: 'sla-daily' is not one of sla-weekly, sla-monthly, organisation-monthly, oncall-handover, "
        "due-today"]
    assert problems('[[digests]]\nkind = "sla-weekly"\nat = "1st 08:00"') == [
        'digests[0].at: a sla-weekly digest goes every week: write it like "mon 08:00"']
    assert problems('[[digests]]\nkind = "sla-monthly"\nat = "31st 08:00"') == [
        "digests[0].at: '31st 08:00': a monthly digest goes on day 1 to 28, which every month has"]
    assert problems('[[digests]]\nkind = "sla-weekly"\nto = ["customer-contacts", "role:boss"]\nplans = ["platinum"]')\
        == ['digests[0].to[0]: "customer-contacts" is for an organisation-monthly digest',
            "digests[0].to[1]: no contact has the role 'boss'; add it to some [contacts.NAME] roles",
            "digests[0].plans: no plan named 'platinum'; use one of gold, silver"]
    assert problems('[[digests]]\nkind = "due-today"\ncalendar = "ukk"\nlocale = "xx_YY"\nevery = "day"') == [
        "digests[0].every: unknown key; the keys are name, kind, to, at, calendar, plans, organisations, locale",
        "digests[0].calendar: no calendar named 'ukk'; define [calendars.ukk] or use one of 24x7, uk",
        "digests[0].locale: 'xx_YY' is not a locale; write it like en_GB, de_DE or fr"]
    assert problems('[[digests]]\nkind = "sla-weekly"\n[[digests]]\nkind = "sla-weekly"') == [
        "digests[1].name: 'sla-weekly' names two digests; give each its own name"]
    assert load_config(None, text=worlds.world(CONFIG, DIGESTS)).digests.digest("due-today") is not None


def test_digests_command_lists_the_schedule_and_previews_one(desk: Desk, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    two_tickets(desk)
    desk.advance(at(11, 23, 12))
    config = tmp_path / "config.toml"
    config.write_text(worlds.world(CONFIG.replace('default_plan = "gold"\n',
                                                  f'default_plan = "gold"\ndata_dir = "{tmp_path}"\n'),
                                   DIGESTS, worlds.database(desk.app.db.url)), encoding="utf-8")
    clock = tmp_path / "clock"
    write_clock_file(clock, at(11, 23, 12))
    monkeypatch.setenv("HELPDESK_CLOCK_FILE", str(clock))
    assert main(["-c", str(config), "digests", "--json"]) == 0
    rows = {(r["digest"], r["slot"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows["sla-weekly", "sam"]["next_local"] == "2026-11-30T08:00:00+11:00"
    assert rows["sla-weekly", "sam"]["last"] == "2026-11-22T21:00:00+00:00"
    assert rows["oncall-handover", "rotation"]["next"] == "2026-11-30T09:00:00+00:00"
    assert rows["organisation-monthly", "Globex|noc@globex.example"]["next_local"] == "2026-12-01T09:00:00-05:00"
    page = tmp_path / "preview.html"
    assert main(["-c", str(config), "digests", "preview", "sla-weekly", "--to", "greta", "--html", str(page)]) == 0
    shown = capsys.readouterr().out
    assert "To: greta@example.com" in shown and "Subject: Weekly SLA report, 16.–22. Nov. 2026: 50\xa0% kept" in shown
    assert 'data-chart="compliance-by-week"' in page.read_text()
    assert main(["-c", str(config), "digests", "preview", "weekly"]) == 2
    assert "no digest named 'weekly'; the digests are sla-weekly" in capsys.readouterr().err
    with desk.app.db.sessions() as session:  # a preview sends nothing
        assert session.query(OutboxMessage).filter(OutboxMessage.kind == "sla-weekly").count() == 2


def test_the_migration_creates_the_table_the_model_describes(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "digest" in repr(d)] == []
