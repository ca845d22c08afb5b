"""Test worlds: gateway configs built as TOML text from named pieces.

A piece is TOML text (one or a few tables); ``world`` joins pieces, and a test's own TOML, into
one config. What several tests share is written here once; what only one test needs stays in
that test. Pieces are text, not dicts, so a test may still ``str.replace`` a line of its world.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

SUPPORT = "support@example.com"
LOOPBACK = "127.0.0.1"


def value(v: Any) -> str:
    """``v`` as a TOML value: strings quoted, lists and inline tables as one line, dates bare."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, str | Path):
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
    return "[" + ", ".join(value(x) for x in v) + "]"


def table(header: str, **keys: Any) -> str:
    """``[header]`` (or ``[[header]]``, written so) and its keys, in order; None leaves a key out."""
    head = header if header.startswith("[") else f"[{header}]"
    return "".join([f"{head}\n", *(f"{k} = {value(v)}\n" for k, v in keys.items() if v is not None)])


def world(*pieces: str) -> str:
    """One config text: the pieces in order, a blank line between them; empty pieces left out.

    A piece that starts with keys rather than a table header adds them to the table before it.
    """
    return "\n".join(p.strip("\n") + "\n" for p in pieces if p.strip())


# The gateway itself: who it is, where it keeps its data, how mail comes in and goes out.

def gateway(data_dir: Path | str | None = None, *, name: str | None = "Example Support",
            timezone: str | None = "Europe/London", **keys: Any) -> str:
    return table("gateway", support_address=SUPPORT, name=name, timezone=timezone, data_dir=data_dir, **keys)


def database(url: str) -> str:
    return table("database", url=url)


def sqlite_in(data_dir: Path) -> str:
    """The database URL the gateway would pick by itself in ``data_dir``."""
    return f"sqlite:///{data_dir}/helpdesk.sqlite3"


def smtp(port: int, **keys: Any) -> str:
    """The listener on loopback."""
    return table("smtp", host=LOOPBACK, port=port, **keys)


def outbound(*, relay_port: int | None = None, directory: Path | str | None = None, **keys: Any) -> str:
    """Mail out to a relay on loopback at ``relay_port``, or else into a directory."""
    if relay_port:
        return table("outbound", transport="smtp", host=LOOPBACK, port=relay_port, **keys)
    return table("outbound", transport="directory", directory=directory, **keys)


def processing(poll_interval: str) -> str:
    return table("processing", poll_interval=poll_interval)


def sla(sweep_interval: str) -> str:
    return table("sla", sweep_interval=sweep_interval)


def imap(name: str, port: int, username: str | None = None, **keys: Any) -> str:
    """A mailbox on a test IMAP server on loopback, without TLS; ``username`` is ``name`` unless given."""
    return table("[[imap]]", name=name, host=LOOPBACK, port=port, security="none", username=username or name,
                 **keys)


# People: engineers who work tickets by mail, contacts the policy names.

def engineers(*team: str, **keys: Any) -> str:
    """[engineers], trusting our own MX's Authentication-Results, then its ``team``."""
    return world(table("engineers", trusted_authserv_ids=["mx.example.com"], **keys), *team)


def engineer(handle: str, name: str, *groups: str) -> str:
    """One of [[engineers.team]], at example.com, in ``groups`` (none: no groups key)."""
    return table("[[engineers.team]]", handle=handle, name=name, address=f"{handle}@example.com",
                 groups=list(groups) or None)


def dana(*groups: str) -> str:
    return engineer("dana", "Dana Scully", *groups)


def fox(*groups: str) -> str:
    return engineer("fox", "Fox Mulder", *groups)


def contact(handle: str, name: str, **keys: Any) -> str:
    return table(f"contacts.{handle}", name=name, address=f"{handle}@example.com", **keys)


SAM = contact("sam", "Sam Duty", roles=["duty-manager"])
# Someone `helpdesk respond/set --by` may name: a contact (engineers get mail), with no role.
DANA_CONTACT = contact("dana", "Dana Scully", roles=[])

# Alice and Bob take turns on call, a week each from Monday 09:00 London time.
ONCALL = world(
    contact("alice", "Alice Oncall"),
    contact("bob", "Bob Oncall"),
    table("oncall", timezone="Europe/London", handover="mon 09:00", start=date(2026, 11, 2),
          rotation=["alice", "bob"]),
)


# Customers.

def customer(name: str, *domains: str, **keys: Any) -> str:
    return table("[[customers]]", name=name, domains=list(domains), **keys)


def acme(*contacts: str, **keys: Any) -> str:
    """Acme, at acme.example; ``contacts`` are its designated contacts (a bare name is at acme.example)."""
    listed = [c if "@" in c else f"{c}@acme.example" for c in contacts] if contacts else None
    return customer("Acme", "acme.example", contacts=listed, **keys)


# Business hours, plans and their promises.

def calendar(name: str = "uk", hours: str = "09:00-17:00") -> str:
    """A London office calendar, open ``hours`` Monday to Friday."""
    return table(f"calendars.{name}", timezone="Europe/London", days="mon-fri", open=hours)


UK_CALENDAR = calendar()


def plan(name: str = "standard", calendar: str = "uk", *,
         priorities: Mapping[str, Mapping[str, Any]] | None = None, **keys: Any) -> str:
    """[plans.NAME] on ``calendar``, then one [plans.NAME.priorities.P] table a priority's targets."""
    return world(table(f"plans.{name}", calendar=calendar, **keys),
                 *(table(f"plans.{name}.priorities.{p}", **targets)
                   for p, targets in (priorities or {}).items()))


FOUR_BUSINESS_HOURS = {"first_response": "4 business hours"}
# A P1 answered in 15 minutes and updated every 30, round the clock; a P3 in 4 business hours.
P1_UPDATED_EVERY_30M = plan(priorities={
    "P1": {"first_response": "15m", "update_every": "30m", "calendar": "24x7"},
    "P3": FOUR_BUSINESS_HOURS,
})


# Escalation.

def tier(policy: str, name: str, **keys: Any) -> str:
    return table(f"[[escalation.{policy}.tiers]]", name=name, **keys)


def page_tier(policy: str, name: str, notify: list[str] | None = None) -> str:
    """A P1 opened out of hours pages the on-call every 15 minutes; status_notice tells the customer so."""
    return tier(policy, name, at="after hours", notify=notify, priorities=["P1"], repeat="15m",
                status_notice="1h")


# Rules.

# The rules a world lists are the only ones: not the shipped defaults.
OWN_RULES = ("# These rules alone: the tests read their own small rule set, not the shipped defaults.\n"
             + table("rule_set", mode="replace"))


def rule(name: str, words: list[str], description: str | None = None, **then: Any) -> str:
    """A rule that fires on any of ``words`` and does ``then`` (priority, route, notify)."""
    return table("[[rules]]", name=name, description=description, when={"words": words}, then=then)


OUTAGE_IS_P1 = rule("outage", ["down", "outage"], "Everything is down.", priority="P1")
