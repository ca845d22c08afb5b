"""The grammar of #eta, #update-every, #merge and #reply, and what cannot go together in one mail (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parsers.case_commands import eta_instant
from parsers.commands import NAMES, SYNTAX, Command, parse_reply

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("line", "args"), [
    ("#eta +4h", ("in", "14400")),
    ("#eta +1h30m", ("in", "5400")),
    ("#eta + 2 days", ("in", "172800")),
    ("#eta +90 minutes", ("in", "5400")),
    ("#eta 2026-11-24 15:00", ("at", "2026-11-24T15:00:00", "")),
    ("#eta 2026-11-24T9:30", ("at", "2026-11-24T09:30:00", "")),
    ("#eta 2026-11-24 15:00 Europe/Berlin", ("at", "2026-11-24T15:00:00", "Europe/Berlin")),
    ("#eta 2026-11-24 15:00 +0100", ("at", "2026-11-24T15:00:00", "+01:00")),
    ("#eta 2026-11-24 15:00 Z", ("at", "2026-11-24T15:00:00", "UTC")),
    ("#ETA None", ("none",)),
    ("#update-every 2h", ("2h",)),
    ("#update-every 4 business hours", ("4 business hours",)),
    ("#update-every PLAN", ("plan",)),
    ("#merge 12", ("12",)),
    ("#merge #12", ("12",)),
    ("#reply Service-Restored", ("service-restored",)),
])
def test_each_form_is_read(line: str, args: tuple[str, ...]) -> None:
    reply = parse_reply(line)
    assert reply.refusals == ()
    assert reply.commands == (Command(line.split()[0][1:].lower(), args, line),)


@pytest.mark.parametrize(("line", "why"), [
    ("#eta tomorrow", "#eta needs +4h, +1h30m, +2d, an instant like 2026-11-24 15:00 (the customer's time zone) "
                      "or none"),
    ("#eta +0h", "#eta needs a time ahead"),
    ("#eta +4 fortnights", "#eta needs +4h"),
    ("#eta +400d", "#eta is more than a year ahead"),
    ("#eta 2026-02-30 10:00", "#eta: 2026-02-30 10:00 is not a date and time"),
    ("#eta 2026-11-24 15:00 Mars/Olympus", "#eta: 'Mars/Olympus' is neither a UTC offset like +01:00 nor a time zone"),
    ("#eta 2026-11-24 15:00 +15:00", "#eta: +15:00 is not a UTC offset"),
    ("#update-every", "#update-every needs an interval, like 2h or 90 minutes, or plan"),
    ("#merge", "#merge needs the number of the ticket this one joins, like #merge 12"),
    ("#merge 12 13", "#merge needs the number"),
    ("#merge twelve", "#merge needs the number"),
    ("#reply", "#reply needs the name of one canned reply"),
    ("#reply two words", "#reply needs the name of one canned reply"),
    ("#reply ../etc/passwd", "#reply needs the name of one canned reply"),
])
def test_a_malformed_command_is_refused_with_the_form_it_needs(line: str, why: str) -> None:
    reply = parse_reply(line + "\nHello")
    assert reply.commands == ()
    assert len(reply.refusals) == 1 and reply.refusals[0].line == line
    assert reply.refusals[0].why.startswith(why)


@pytest.mark.parametrize(("text", "why"), [
    ("#merge 3\nSame as your other request.", "#merge stands alone"),
    ("#merge 3\n#status closed", "#merge stands alone"),
    ("#reply a\n#reply b", "one #reply per mail"),
    ("#reply a\n#note", "#reply sends a canned reply to the customer and #note keeps the mail internal"),
])
def test_what_cannot_go_together_is_refused(text: str, why: str) -> None:
    reply = parse_reply(text)
    assert reply.refusals and all(r.why.startswith(why) for r in reply.refusals)


def test_a_canned_reply_may_come_with_text_and_promises() -> None:
    reply = parse_reply("#eta +2h\n#update-every 1h\n#reply restored\nAnd please reboot.")
    assert [c.name for c in reply.commands] == ["eta", "update-every", "reply"]
    assert reply.text == "And please reboot." and reply.refusals == ()


def test_the_commands_are_listed_for_engineers() -> None:
    for name in ("eta", "update-every", "merge", "reply", "escalate"):
        assert name in NAMES
        assert any(line.startswith(f"#{name} ") for line in SYNTAX)
    unknown = parse_reply("#upgrade now").refusals[0].why
    assert "#eta" in unknown and "#update-every" in unknown and "#merge" in unknown and "#reply" in unknown
    assert "#escalate" in unknown


@pytest.mark.parametrize(("line", "args"), [
    ("#escalate development", ("development",)),
    ("#escalate Level-Two", ("level-two",)),
])
def test_escalate_names_one_stage(line: str, args: tuple[str, ...]) -> None:
    (command,) = parse_reply(line).commands
    assert (command.name, command.args) == ("escalate", args)


@pytest.mark.parametrize("line", ["#escalate", "#escalate product development", "#escalate <dev>"])
def test_escalate_without_one_stage_name_is_refused(line: str) -> None:
    (refusal,) = parse_reply(line).refusals
    assert refusal.why.startswith("#escalate needs the name of one stage of the ticket's plan")


@pytest.mark.parametrize(("line", "zone", "expected"), [
    ("#eta +4h", "Europe/London", "2026-11-23T14:00:00+00:00"),
    ("#eta 2026-11-24 15:00", "America/Toronto", "2026-11-24T20:00:00+00:00"),  # EST, UTC-5
    ("#eta 2027-06-01 15:00", "America/Toronto", "2027-06-01T19:00:00+00:00"),  # EDT, UTC-4
    ("#eta 2026-11-24 15:00 Australia/Sydney", "America/Toronto", "2026-11-24T04:00:00+00:00"),
    ("#eta 2026-11-24 15:00 -03:30", "Europe/London", "2026-11-24T18:30:00+00:00"),
    ("#eta 2026-11-24 15:00 UTC", "Asia/Tokyo", "2026-11-24T15:00:00+00:00"),
])
def test_an_eta_is_an_instant_read_in_the_customers_zone_unless_it_names_one(line: str, zone: str,
                                                                             expected: str) -> None:
    (command,) = parse_reply(line).commands
    instant = eta_instant(command.args, NOW, zone)
    assert instant is not None and instant.isoformat() == expected


def test_eta_none_is_no_instant() -> None:
    (command,) = parse_reply("#eta none").commands
    assert eta_instant(command.args, NOW, "UTC") is None
