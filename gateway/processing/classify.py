"""How the rules see a mail: the sender's directory entry and context, and whether a reply still reopens."""

from __future__ import annotations

from datetime import datetime

from gateway.app import App
from gateway.config.customers import SenderInfo
from gateway.store.models import Ticket
from parsers import ParsedMail
from rules import Classification, RuleContext


def reopens(app: App, ticket: Ticket, arrived: datetime) -> bool:
    """Whether a customer's mail arriving at ``arrived`` joins ``ticket`` (reopening it if need
    be), rather than opening a follow-up: not to a closed ticket, nor to one resolved longer ago
    than the reopen window."""
    if ticket.status == "closed":
        return False
    return not (ticket.status == "resolved" and ticket.status_since is not None
                and arrived - ticket.status_since > app.config.gateway.reopen_window)


def _rule_context(app: App, info: SenderInfo, at: datetime, *, current: str | None, reply: bool) -> RuleContext:
    plan = app.config.policy.plan(info.plan)
    business = app.config.policy.calendar(plan.calendar, info.timezone.key)
    return RuleContext(organisation=info.organisation.name if info.organisation else None, plan=plan.name,
                       vip=info.vip, is_contact=info.is_contact, after_hours=not business.is_open(at),
                       declared_priority_trusted=plan.declared_priority_trusted, is_reply=reply or current is not None,
                       current_priority=current, default_priority=plan.default_priority)


def classify(app: App, mail: ParsedMail, at: datetime, *, current: str | None = None,
             reply: bool = False) -> tuple[SenderInfo, Classification]:
    """The sender's directory entry and the rules' decision on ``mail``.

    A reply (to a ticket at priority ``current``; or, with ``reply``, to a closed one, which
    opens a follow-up) is read on its new words alone: its subject and the history it quotes
    were read when they were new.
    """
    assert mail.sender is not None
    info = app.config.policy.directory.lookup(mail.sender.key)
    return info, app.config.rules.classify(mail, _rule_context(app, info, at, current=current, reply=reply))
