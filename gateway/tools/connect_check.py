"""``helpdesk check-config --connect``: try the database, the relay and each IMAP account, and say
what works, one line each (``ok`` or ``FAIL``), so a setup is proven before mail depends on it."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.clock import Clock
from gateway.config import Config
from gateway.config.imap import load_imap_accounts
from gateway.errors import GatewayError
from gateway.outbound.transports import SmtpTransport
from gateway.sources.imap.connection import describe
from gateway.sources.imap.oauth_providers import token_source
from gateway.sources.imap.session import ImapSession
from gateway.store.db import Database


def connections(config: Config, clock: Clock) -> Iterator[tuple[bool, str]]:
    """(worked, what was found) for the database, the relay and every [[imap]] account."""
    db = Database(config.database.url)
    try:
        state = db.schema_state()
        yield (state.problem is None or (state.kind in ("missing", "older") and db.is_sqlite),
               f"database: {state.problem or 'reachable, at this version schema'}"
               + (" (SQLite: `helpdesk run` migrates it)" if state.problem and db.is_sqlite else ""))
    finally:
        db.dispose()
    if config.outbound.transport == "smtp":
        try:
            yield True, SmtpTransport(config.outbound).probe()
        except GatewayError as exc:
            yield False, str(exc)
    else:
        yield True, f"outbound: mail is written to {config.outbound.directory} (transport = \"directory\")"
    for account in load_imap_accounts(config):
        tokens = None if account.oauth2 is None else token_source(
            account.name, account.oauth2, clock, account.timeout.total_seconds())
        try:
            session = ImapSession.open(account, tokens)
        except Exception as exc:
            yield False, f"imap[{account.name}]: {describe(exc, account)}"
            continue
        try:
            box = session.select()
            yield True, (f"imap[{account.name}]: {account.username}@{account.host}:{account.port}, "
                         f"folder {account.folder!r} has {box.exists} message(s)")
        except Exception as exc:
            yield False, f"imap[{account.name}]: logged in, but folder {account.folder!r}: {describe(exc, account)}"
        finally:
            session.close()
