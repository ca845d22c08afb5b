"""Engineer command lines: what is a command, what is text, and why a line is refused (pure)."""

from __future__ import annotations

import pytest

from parsers.commands import Command, parse_reply


def test_commands_at_the_top_then_text() -> None:
    reply = parse_reply("#status pending\n#Priority p2 customer confirmed the impact\n\n"
                        "Hello Alice,\n#status closed stays text here.\n")
    assert reply.commands == (
        Command("status", ("pending",), "#status pending"),
        Command("priority", ("P2", "customer confirmed the impact"), "#Priority p2 customer confirmed the impact"),
    )
    assert reply.text == "Hello Alice,\n#status closed stays text here."
    assert not reply.refusals and not reply.is_note


def test_blank_lines_before_and_between_commands() -> None:
    reply = parse_reply("\n\n  #ack\n\n#assign me\nThanks")
    assert [c.name for c in reply.commands] == ["ack", "assign"]
    assert reply.text == "Thanks"


def test_only_commands_leave_no_text() -> None:
    reply = parse_reply("#status resolved\n#assign fox\n")
    assert reply.text == "" and len(reply.commands) == 2


def test_note_keeps_its_own_line_as_text() -> None:
    reply = parse_reply("#note called them, waiting for logs\nMore detail below.")
    assert reply.is_note
    assert reply.text == "called them, waiting for logs\nMore detail below."


@pytest.mark.parametrize(("line", "args"), [
    ("#cc add carol@acme.example", ("add", "carol@acme.example")),
    ("#cc remove <Carol@Acme.example>", ("remove", "carol@acme.example")),
    ("#status Resolution-Proposed", ("resolution-proposed",)),
    ("#priority P1", ("P1", "")),
    ("#assign Dana", ("dana",)),
])
def test_arguments(line: str, args: tuple[str, ...]) -> None:
    reply = parse_reply(line)
    assert not reply.refusals
    assert reply.commands[0].args == args


@pytest.mark.parametrize(("line", "why"), [
    ("#stauts open", "unknown command #stauts"),
    ("#status done", "#status needs one of"),
    ("#status", "#status needs one of"),
    ("#priority urgent", "#priority needs one of"),
    ("#assign dana fox", "#assign needs one word"),
    ("#ack now", "#ack takes no argument"),
    ("#cc invite carol@acme.example", "#cc needs add or remove"),
    ("#cc add carol", "#cc needs add or remove"),
    ("#cc add a@b.example c@d.example", "#cc needs add or remove"),
    ("#cc add " + "x" * 300 + "@acme.example", "#cc needs add or remove"),  # longer than any address
])
def test_refused_lines_say_why(line: str, why: str) -> None:
    reply = parse_reply(f"{line}\nHello")
    assert len(reply.refusals) == 1
    assert reply.refusals[0].line == line
    assert why in reply.refusals[0].why
    assert reply.text == "Hello"


@pytest.mark.parametrize("text", ["#123 is the other ticket", "# Heading", "Hi\n#status closed", "##status open"])
def test_text_that_only_looks_like_a_command(text: str) -> None:
    reply = parse_reply(text)
    assert not reply.commands and not reply.refusals
    assert reply.text == text
