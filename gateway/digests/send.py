"""A digest's mail for one occasion: written for each reader in their zone and locale, and queued
once per period and recipient (``digest:NAME:PERIOD:ADDRESS``), across restarts and processes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.digests.content import Content, Occasion
from gateway.digests.due_today import due_today_digest
from gateway.digests.handover import handover_digest
from gateway.digests.organisation import organisation_digest
from gateway.digests.readers import Reader, readers
from gateway.digests.sla import sla_digest
from gateway.outbound.context import MailContext
from gateway.outbound.outbox import Draft, queue, stored_cause_key
from gateway.store.models import OutboxMessage
from gateway.store.tickets import record

Builder = Callable[[Session, MailContext, Occasion, Reader, datetime], Content | None]
BUILDERS: dict[str, Builder] = {"sla-weekly": sla_digest, "sla-monthly": sla_digest,
                                "organisation-monthly": organisation_digest, "oncall-handover": handover_digest,
                                "due-today": due_today_digest}


def cause_key(name: str, period: str, address: str) -> str:
    """Once per digest, period and recipient."""
    return f"digest:{name}:{period}:{address.lower()}"


def _served(session: Session, key: str) -> bool:
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.cause_key == stored_cause_key(key))
                          .limit(1)) is not None


def write(session: Session, ctx: MailContext, occasion: Occasion, reader: Reader, now: datetime) -> Content | None:
    """The mail ``reader`` gets for ``occasion``, or None when the digest has nothing to say to them."""
    return BUILDERS[occasion.digest.kind](session, ctx, occasion, reader, now)


def send(session: Session, ctx: MailContext, occasion: Occasion, slot: str, now: datetime) -> list[str]:
    """Queue the occasion's mail to each reader the slot names; return the addresses queued."""
    digest = occasion.digest
    sent = []
    for reader in readers(ctx.config, digest, slot, occasion.at, occasion.handover):
        key = cause_key(digest.name, occasion.key, reader.address)
        if _served(session, key):
            continue
        content = write(session, ctx, occasion, reader, now)
        if content is None:
            continue
        queued = queue(session, ctx.outbox_policy, Draft(
            kind=digest.kind, cause_key=key, ticket_id=None, to=((reader.name, reader.address),),
            subject=content.subject, text=content.text, html=content.html, auto_submitted="auto-generated"), now)
        if queued is not None:
            sent.append(reader.address)
    if sent:
        record(session, None, "digest-sent", now, digest=digest.name, kind=digest.kind, period=occasion.key,
               due=occasion.at.isoformat(), to=sent)
    return sent
