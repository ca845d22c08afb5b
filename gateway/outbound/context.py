"""What the gateway's own mail is made from, as the domain code sees it: a narrow view of the application.

Tickets, escalation and outbound code are handed the application built at start, but may read only
what these protocols name: the validated config, the templates, the reply-token secret and the
outbox policy (and, for the sender, the database and the clock). ``gateway.app.App`` satisfies both.
"""

from __future__ import annotations

from typing import Protocol

from gateway.clock import Clock
from gateway.config import Config
from gateway.outbound.outbox import OutboxPolicy
from gateway.outbound.templating import Templates
from gateway.store.db import Database


class MailContext(Protocol):
    """Composing and queueing a mail: config, templates, the reply-token secret, the outbox policy."""

    @property
    def config(self) -> Config: ...

    @property
    def templates(self) -> Templates: ...

    @property
    def secret(self) -> bytes: ...

    @property
    def outbox_policy(self) -> OutboxPolicy: ...

    @property
    def support_addresses(self) -> tuple[str, ...]: ...


class SendContext(Protocol):
    """Delivering the outbox: the database, the clock, and the config's [outbound] settings."""

    @property
    def config(self) -> Config: ...

    @property
    def db(self) -> Database: ...

    @property
    def clock(self) -> Clock: ...
