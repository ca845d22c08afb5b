"""The composition root: config and clock in, every component wired once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gateway.clock import Clock
from gateway.config import Config
from gateway.outbound.outbox import OutboxPolicy
from gateway.outbound.reply_token import load_secret
from gateway.outbound.templating import Templates
from gateway.store.db import Database
from parsers import Limits, OwnIdentity


@dataclass(frozen=True)
class App:
    """What every worker needs, built once by ``build_app``."""

    config: Config
    clock: Clock
    db: Database
    templates: Templates
    secret: bytes
    outbox_policy: OutboxPolicy
    own: OwnIdentity
    limits: Limits

    @property
    def support_addresses(self) -> tuple[str, ...]:
        return self.config.gateway.all_addresses


def build_app(config: Config, clock: Clock, *, db: Database | None = None) -> App:
    g = config.gateway
    loop_token = g.support_address.lower()
    own_addresses = frozenset(a.lower() for a in (*g.all_addresses, config.outbound.from_address))
    budget = config.processing.parse_time_budget / timedelta(seconds=1)
    return App(
        config=config,
        clock=clock,
        db=db or Database(config.database.url),
        templates=Templates(config.templates_dir),
        secret=load_secret(g.secret_env, g.data_dir),
        outbox_policy=OutboxPolicy(
            from_name=g.name, from_address=config.outbound.from_address,
            message_id_domain=g.message_id_domain, loop_token=loop_token,
            max_per_address_per_hour=config.outbound.max_per_address_per_hour,
            max_per_ticket_per_hour=config.outbound.max_per_ticket_per_hour),
        own=OwnIdentity(addresses=own_addresses, message_id_domain=g.message_id_domain.lower(),
                        loop_token=loop_token),
        limits=Limits(time_budget_s=budget),
    )
