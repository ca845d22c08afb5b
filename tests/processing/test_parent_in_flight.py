"""With several processes on PostgreSQL, a reply taken up while the mail it answers is still being
processed elsewhere waits for it, and lands on its ticket, instead of opening one of its own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Connection, RootTransaction, event, select, text

from gateway.app import App
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from gateway.store.models import InboundMessage, Ticket
from parsers.headers import raw_message_id
from tests.support import customer_mail

ENVELOPE = Envelope("alice@customer.example", ("support@example.com",))


def _store(app: App, raw: bytes) -> int:
    return store_inbound(app.db, raw, source="t", envelope=ENVELOPE, received_at=app.clock.now()).inbound_id


def _parent_in_other_hands(app: App) -> tuple[int, int, Connection, RootTransaction]:
    """A mail and a reply to it, stored; another process has claimed the mail and is still working
    on it (its row locked by the connection and transaction returned). PostgreSQL only."""
    if app.db.is_sqlite:
        pytest.skip("SQLite has one writer: a batch is processed whole before another is claimed")
    parent = _store(app, customer_mail("Alice <alice@customer.example>", "Printer", "It jams.",
                                       message_id="<printer-1@customer.example>"))
    reply = _store(app, customer_mail("Alice <alice@customer.example>", "Re: Printer", "Still jams.",
                                      message_id="<printer-2@customer.example>",
                                      in_reply_to="<printer-1@customer.example>"))
    other = app.db.engine.connect()
    other_tx = other.begin()
    other.execute(text("SELECT id FROM inbound_messages WHERE id = :id FOR UPDATE"), {"id": parent})
    return parent, reply, other, other_tx


def test_the_queue_records_each_mails_message_id_as_it_is_stored(make_app: Callable[..., App]) -> None:
    app = make_app()
    first = _store(app, customer_mail("Alice <alice@customer.example>", "Printer", "It jams.",
                                      message_id="<printer-1@customer.example>"))
    with app.db.sessions() as session:
        assert session.get(InboundMessage, first).message_id == "<printer-1@customer.example>"  # type: ignore[union-attr]


@pytest.mark.parametrize("raw, found", [
    (b"From: a@b.example\r\nMessage-ID: <x@y.example>\r\n\r\nbody", "<x@y.example>"),
    (b"message-id:\r\n <folded@y.example>\r\nSubject: s\r\n\r\n", "<folded@y.example>"),
    (b"Subject: s\n\nMessage-ID: <in-the-body@y.example>\n", None),
    (b"Subject: no id\r\n\r\n", None),
    (b"Message-ID: not an id at all\r\n\r\n", None),
    (b"Message-ID: <a\x00b@y.example>\r\n\r\n", None),  # what no database text column takes
    (b"Message-ID: <caf\xe9@y.example>\r\n\r\n", None),  # not UTF-8
    ("Message-ID: <café@y.example>\r\n\r\n".encode(), "<café@y.example>"),
])
def test_a_message_id_is_read_from_the_header_block_alone(raw: bytes, found: str | None) -> None:
    assert raw_message_id(raw) == found


def test_a_reply_waits_for_its_parent_in_another_process(make_app: Callable[..., App]) -> None:
    app = make_app()
    parent, reply, other, other_tx = _parent_in_other_hands(app)
    try:
        assert Processor(app).drain() == {"deferred": 1}
        with app.db.sessions() as session:
            assert session.get(InboundMessage, reply).state == "pending"  # type: ignore[union-attr]
            assert session.scalars(select(Ticket)).all() == []
    finally:
        other_tx.rollback()
        other.close()
    assert Processor(app).drain() == {"ticket": 1, "reply": 1}
    with app.db.sessions() as session:
        tickets = session.scalars(select(Ticket)).all()
        rows = {r.id: r for r in session.scalars(select(InboundMessage))}
    assert len(tickets) == 1
    assert rows[reply].ticket_id == rows[parent].ticket_id == tickets[0].id


def test_a_parent_committed_while_its_reply_is_looked_up_is_not_missed(make_app: Callable[..., App]) -> None:
    """The other process commits the parent just after this one looked for the reply's thread (and
    found nothing): the reply must still land on the parent's ticket, not open a second one."""
    app = make_app()
    parent, reply, other, other_tx = _parent_in_other_hands(app)
    finished: list[dict[str, int]] = []

    def parent_done_meanwhile(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "FROM messages" in statement and not finished and other_tx.is_active:
            other_tx.rollback()  # the other process's work on the parent, committed now:
            finished.append(Processor(make_app()).drain())

    event.listen(app.db.engine, "after_cursor_execute", parent_done_meanwhile)
    try:
        Processor(app).drain()
    finally:
        event.remove(app.db.engine, "after_cursor_execute", parent_done_meanwhile)
        if other_tx.is_active:
            other_tx.rollback()
        other.close()
    Processor(app).drain()
    with app.db.sessions() as session:
        tickets = session.scalars(select(Ticket)).all()
        rows = {r.id: r for r in session.scalars(select(InboundMessage))}
    assert len(tickets) == 1, f"{len(tickets)} tickets for one thread"
    assert rows[reply].state == "done" and rows[reply].ticket_id == rows[parent].ticket_id == tickets[0].id
