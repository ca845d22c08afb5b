"""[incidents], status contacts and a rule's incident: each mistake names its key and the fix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.config import ConfigError, load_config
from gateway.store.db import Database
from gateway.store.models import Base

BASE = """
[gateway]
support_address = "support@example.com"

[contacts.sam]
name = "Sam"
address = "sam@example.com"
roles = ["service-delivery-manager"]

[[customers]]
name = "Acme"
domains = ["acme.example"]
{customer}

{incidents}
"""


def _problems(incidents: str = "", customer: str = "") -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(None, text=BASE.format(incidents=incidents, customer=customer))
    return err.value.problems


def test_a_good_policy_reads_as_written() -> None:
    config = load_config(None, text=BASE.format(customer='status_contacts = ["noc@acme.example"]', incidents="""
[incidents]
resolve_tickets = "resolved"

[incidents.reports.incident-report]
due = "5 working days"
priorities = ["P1"]
min_customers = 2
remind = ["role:service-delivery-manager"]

[incidents.reports.pir]
title = "PIR"
due = "10 working days"
priorities = ["P1"]
min_duration = "4h"
match = "any"
"""))
    settings = config.incidents
    assert settings.resolve_tickets == "resolved"
    report = settings.reports["incident-report"]
    assert report.title == "Incident Report" and report.remind == ("role:service-delivery-manager",)
    assert report.qualifies("P1", 2, timedelta(minutes=5))[0]
    assert not report.qualifies("P1", 1, timedelta(hours=9))[0]  # one client: not "multiple"
    pir = settings.reports["pir"]
    assert pir.qualifies("P2", 1, timedelta(hours=5))[0]  # long running is enough
    assert not pir.qualifies("P2", 1, timedelta(hours=1))[0]
    assert config.policy.directory.organisations["Acme"].status_contacts == ("noc@acme.example",)
    assert set(settings.report_kinds()) == {"incident-report", "pir", "rca"}


@pytest.mark.parametrize(("incidents", "expected"), [
    ('[incidents]\nresolve_tickets = "closed"',
     "incidents.resolve_tickets: must be one of 'resolution-proposed', 'resolved', 'unchanged', not 'closed'"),
    ('[incidents]\ncalendar = "nowhere"', "incidents.calendar: no calendar named 'nowhere'; define [calendars."),
    ('[incidents]\nreports_due = 1',
     "incidents.reports_due: unknown key; the keys are calendar, reports, resolve_tickets"),
    ("[incidents.reports.pir]\npriorities = [\"P1\"]", 'incidents.reports.pir.due: missing; write by when'),
    ('[incidents.reports.pir]\ndue = "soonish"', "incidents.reports.pir.due: cannot read duration 'soonish'"),
    ('[incidents.reports.pir]\ndue = "case by case"', "incidents.reports.pir.due: a report needs a deadline"),
    ('[incidents.reports.pir]\ndue = "2 days"\npriorities = ["P0"]', "incidents.reports.pir.priorities: a list"),
    ('[incidents.reports.pir]\ndue = "2 days"\nmin_customers = 0', "incidents.reports.pir.min_customers: how many"),
    ('[incidents.reports.pir]\ndue = "2 days"\nmin_duration = "long"', "incidents.reports.pir.min_duration: 'long'"),
    ('[incidents.reports.pir]\ndue = "2 days"\nmatch = "most"', 'incidents.reports.pir.match: "all"'),
    ('[incidents.reports.pir]\ndue = "2 days"\nremind_at = 1.5', "incidents.reports.pir.remind_at: a share"),
    ('[incidents.reports.pir]\ndue = "2 days"\nremind = ["role:ceo"]',
     "incidents.reports.pir.remind: no contact has the role 'ceo'"),
    ('[incidents.reports.pir]\ndue = "2 days"\nescalate = ["contact:nobody"]',
     "incidents.reports.pir.escalate: no contact or engineer 'nobody'"),
    ('[incidents.reports.pir]\ndue = "2 days"\nwhen = "P1"', "incidents.reports.pir.when: unknown key"),
    ('[incidents.reports.Post_Incident]\ndue = "2 days"', "incidents.reports.Post_Incident: name a report"),
])
def test_each_mistake_names_its_key(incidents: str, expected: str) -> None:
    problems = _problems(incidents)
    assert any(p.startswith(expected) for p in problems), problems


def test_status_contacts_are_addresses() -> None:
    problems = _problems(customer='status_contacts = ["not an address"]')
    assert any(p.startswith("customers[0].status_contacts[0]: ") for p in problems), problems
    problems = _problems(customer='status_contacts = "noc@acme.example"')
    assert any(p.startswith("customers[0].status_contacts: must be a list") for p in problems), problems


def test_a_rule_names_an_incident_by_its_title() -> None:
    rule = '[[rules]]\nname = "voice"\nwhen = { words = ["voice"] }\nthen = { incident = "" }'
    problems = _problems(rule)
    assert any("then.incident" in p and "is not an incident's title" in p for p in problems), problems
    config = load_config(None, text=BASE.format(customer="", incidents=rule.replace('""', '"Voice  outage"')))
    assert next(r for r in config.rules if r.name == "voice").actions.incident == "Voice outage"


def test_the_migration_creates_the_tables_the_models_describe(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    db.upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "incident" in repr(d)] == []
    db.dispose()
