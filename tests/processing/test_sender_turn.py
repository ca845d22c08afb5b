"""On SQLite the processor ends a batch early when the sender has waited for the write lock: an
acknowledgement already made does not wait for twenty more mails to be processed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from gateway.app import App
from gateway.processing import worker
from gateway.processing.worker import Processor
from gateway.store.inbound import Envelope, store_inbound
from tests.support import customer_mail, wait_for

ENV = Envelope(mail_from="alice@customer.example", rcpt_to=("support@example.com",))


def test_the_batch_ends_once_the_sender_has_waited(make_app: Callable[..., App],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    if not app.db.is_sqlite:
        pytest.skip("PostgreSQL's writers do not queue for one lock: nothing to give way to")
    for i in range(10):
        store_inbound(app.db, customer_mail(f"c{i}@customer.example", f"req {i}", "hi"), source="t",
                      envelope=ENV, received_at=app.clock.now())
    seen: list[int] = []

    def sender() -> None:  # what the sender's record of a mail sent would see when its turn comes
        with app.db.writers_first(), app.db.transaction() as s:
            seen.append(s.execute(text("SELECT count(*) FROM inbound_messages WHERE state != 'pending'")).scalar_one())

    thread = threading.Thread(target=sender)
    real = worker.process_inbound

    def first_mail_meets_the_sender(*args: Any, **kwargs: Any) -> str:
        if not thread.is_alive() and not seen:
            thread.start()  # the batch holds the write lock: the sender has to wait
            wait_for(lambda: app.db.first_writer_waiting(0.0), what="the sender waiting")
        return real(*args, **kwargs)

    monkeypatch.setattr(worker, "process_inbound", first_mail_meets_the_sender)
    monkeypatch.setattr(worker, "YIELD_AFTER", 0.0)
    counts = Processor(app).drain()
    thread.join(10)
    assert sum(counts.values()) == 10
    assert seen == [1], f"the sender got in after {seen} mails were processed, not after the first"
