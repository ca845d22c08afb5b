"""IMAP with OAuth2 against a real Dovecot whose oauth2 passdb asks a local
introspection endpoint about each token; and `helpdesk run` through expiry and revocation."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from imapclient.exceptions import LoginError

from gateway.clock import FakeClock, FileClock, write_clock_file
from gateway.config.imap_oauth import DEFAULT_SCOPES, OAuth2Settings
from gateway.sources.imap.oauth_providers import token_source
from gateway.sources.imap.poller import ImapPoller
from gateway.sources.imap.session import ImapSession
from gateway.sources.imap.waiting import Backoff
from gateway.store.db import Database
from tests import worlds
from tests.imap_server import Dovecot, account, count, mails, polling, running_dovecot
from tests.oauth_server import OAuthServer, running_oauth
from tests.support import GatewayProcess, free_port, running, wait_for, write_config

pytestmark = pytest.mark.dovecot
USERS = {"support": "secret", "sales": "secret2"}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'imap.sqlite3'}")
    database.upgrade()
    yield database
    database.dispose()


@contextlib.contextmanager
def _servers(oauth: OAuthServer) -> Iterator[tuple[Dovecot, str]]:
    with running_oauth(oauth) as url, running_dovecot(USERS, introspection_url=f"{url}/introspect") as server:
        yield server, url


def _settings(kind: str, url: str) -> OAuth2Settings:
    if kind == "generic-xoauth2":
        return OAuth2Settings("generic", token_url=f"{url}/token", client_id="support-app",
                              client_secret="support-secret")
    return OAuth2Settings("google", "OAUTHBEARER", DEFAULT_SCOPES["google"], token_url=f"{url}/token",
                          client_id="gmail-client", client_secret="gmail-secret", refresh_token="support-refresh")


def _service_account(url: str) -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "client_email": "helpdesk@project.iam.gserviceaccount.com",
            "private_key": pem, "token_uri": f"{url}/token"}


@pytest.mark.parametrize("kind", ["generic-xoauth2", "google-oauthbearer", "google-service-account",
                                  "microsoft-xoauth2"])
def test_mail_is_ingested_with_a_valid_token(db: Database, clock: FakeClock, kind: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    oauth = OAuthServer(clock, clients={"support-app": ("support-secret", "support"),
                                        "m365-app": ("m365-secret", "support")},
                        refresh_tokens={"support-refresh": "support"})
    with _servers(oauth) as (server, url), contextlib.ExitStack() as stack:
        if kind == "microsoft-xoauth2":
            # msal speaks only HTTPS: the same server, also over TLS, stands in for the Entra ID tenant.
            entra = stack.enter_context(running_oauth(oauth, tls_dir=tmp_path))
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
            settings = OAuth2Settings("microsoft", scope=DEFAULT_SCOPES["microsoft"], authority=f"{entra}/tenant",
                                      client_id="m365-app", client_secret="m365-secret")
        elif kind == "google-service-account":
            settings = OAuth2Settings("google", scope=DEFAULT_SCOPES["google"], service_account=_service_account(url),
                                      subject="support")
        else:
            settings = _settings(kind, url)
        server.append(mails(3, kind))
        poller = ImapPoller(account(server, password="", oauth2=settings), db, clock)
        assert poller.sync_once().stored == 3
        assert server.uids(criteria="UNSEEN") == []
        [token] = oauth.tokens_for("support")
        assert oauth.introspected("support", active=True) == 1
        # The next connection reuses the token while it is fresh; one past its renewal time gets a new one.
        server.append(mails(1, f"{kind}-later"))
        assert poller.sync_once().stored == 1 and oauth.tokens_for("support") == [token]
        clock.advance(timedelta(minutes=50))
        server.append(mails(1, f"{kind}-renewed"))
        assert poller.sync_once().stored == 1 and len(oauth.tokens_for("support")) == 2
    assert count(db) == 5


def test_the_token_stays_out_of_the_protocol_trace_and_a_missing_mechanism_is_named(
        db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    oauth = OAuthServer(clock, clients={"support-app": ("support-secret", "support")})
    with _servers(oauth) as (server, url), caplog.at_level(logging.DEBUG, logger="imapclient"):
        ImapSession.open(account(server, password="", oauth2=_settings("generic-xoauth2", url)),
                         token_source("support", _settings("generic-xoauth2", url), clock, 5)).close()
        [token] = oauth.tokens_for("support")
        assert "AUTHENTICATE" in caplog.text and "write literal size" in caplog.text
        assert token not in caplog.text
    with running_oauth(oauth) as url, running_dovecot() as plain:  # no oauth2 passdb: no AUTH=XOAUTH2
        tokens = token_source("support", _settings("generic-xoauth2", url), clock, 5)
        with pytest.raises(LoginError, match=r"does not offer AUTH=XOAUTH2 \(it offers LOGIN, PLAIN\)"):
            ImapSession.open(account(plain, password="", oauth2=_settings("generic-xoauth2", url)), tokens)
        assert tokens.fetched == 0


def test_a_refused_token_is_reported_once_and_retried_with_a_new_one(
        db: Database, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    oauth = OAuthServer(clock, clients={"support-app": ("support-secret", "support")}, revoked={"support"})
    with _servers(oauth) as (server, url):
        server.append(mails(2, "revoked"))
        poller = ImapPoller(account(server, password="", oauth2=_settings("generic-xoauth2", url)), db, clock,
                            backoff=Backoff(0.02, 0.2))
        with caplog.at_level(logging.DEBUG, logger="gateway.imap"), polling(poller):
            wait_for(lambda: poller.failures >= 4, 20, what="four refused logins")
            assert count(db) == 0 and poller.tokens is not None and poller.tokens.fetched >= 4
            oauth.revoked.clear()
            wait_for(lambda: count(db) == 2, 20, what="the mail, once the grant is back")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert errors[0].startswith("imap[support]: login refused for user 'support': XOAUTH2 access token refused")
    assert "retrying with backoff" in errors[0]
    for token in oauth.tokens_for("support"):
        assert token not in caplog.text


def _imap(name: str, server: Dovecot, url: str, **keys: str) -> str:
    # The test moves the clock by an hour at a time: not a silence worth a STALE report.
    return worlds.imap(name, server.port, stale_after="3h", auth="oauth2", oauth2_provider="generic",
                       oauth2_token_url=f"{url}/token", **keys)


def _inbound(db: Path, where: str = "") -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        try:
            return int(conn.execute(f"SELECT count(*) FROM inbound_messages {where}").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0


@pytest.mark.slow
def test_helpdesk_run_through_expiry_and_revocation(tmp_path: Path) -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    clock_file = tmp_path / "clock"
    write_clock_file(clock_file, start)
    (tmp_path / "sales-refresh-token").write_text("sales-refresh-zz9\n")
    oauth = OAuthServer(FileClock(clock_file), clients={"support-app": ("support-secret-q7", "support")},
                        refresh_tokens={"sales-refresh-zz9": "sales"})
    with _servers(oauth) as (server, url):
        server.append(mails(4, "first"))
        server.append(mails(2, "sales-first"), user="sales")
        smtp_port = free_port()
        config = write_config(tmp_path / "config.toml", smtp_port=smtp_port, relay_port=None, extra=(
            _imap("support", server, url, oauth2_client_id="support-app",
                  oauth2_client_secret_env="SUPPORT_CLIENT_SECRET")
            + _imap("sales", server, url, oauth2_client_id="sales-app", oauth2_mechanism="oauthbearer",
                    oauth2_refresh_token_file="sales-refresh-token")
            + '\n[logging]\nlevel = "DEBUG"\n'))
        gw = GatewayProcess(config, smtp_port, env={"SUPPORT_CLIENT_SECRET": "support-secret-q7",
                                                    "HELPDESK_CLOCK_FILE": str(clock_file)})
        db = tmp_path / "var" / "helpdesk.sqlite3"
        assert b"OK" in gw.cli("check-config").stdout
        with running(gw):
            wait_for(lambda: _inbound(db) == 6, 60, what="the first six mails")
            assert [len(oauth.tokens_for(u)) for u in ("support", "sales")] == [1, 1]

            # An hour later both tokens have expired, for the gateway and for the server alike.
            write_clock_file(clock_file, start + timedelta(minutes=61))
            server.append(mails(1, "expiry"))
            server.append(mails(1, "sales-expiry"), user="sales")
            wait_for(lambda: _inbound(db) == 8, 30, what="the mail that woke the pollers")
            wait_for(lambda: [len(oauth.tokens_for(u)) for u in ("support", "sales")] == [2, 2], 30,
                     what="a new token for each account")
            wait_for(lambda: oauth.introspected("support", True) >= 2 and oauth.introspected("sales", True) >= 2,
                     30, what="a login with each new token")
            # The expired tokens were never offered: renewed before use, not after a refusal.
            assert oauth.introspected("support", False) == oauth.introspected("sales", False) == 0
            server.append(mails(2, "after-renewal"))
            wait_for(lambda: _inbound(db) == 10, 30, what="mail read through the renewed session")

            # Then the sales grant is revoked: its renewal is refused, the support account goes on.
            oauth.revoked.add("sales")
            write_clock_file(clock_file, start + timedelta(minutes=122))
            server.append(mails(1, "support-late"))
            server.append(mails(1, "sales-late"), user="sales")  # wakes it: it renews before the pass
            wait_for(lambda: oauth.introspected("sales", False) >= 3, 60, what="three refused sales logins")
            server.append(mails(2, "sales-while-refused"), user="sales")
            server.append(mails(2, "support-while-sales-refused"))
            wait_for(lambda: _inbound(db) == 13, 30, what="support's mail while sales is refused")
            status = json.loads(gw.cli("status", "--json").stdout)
            assert len(server.uids(user="sales", criteria="UNSEEN")) == 3

            oauth.revoked.clear()
            wait_for(lambda: _inbound(db) == 16, 90, what="sales' waiting mail, once the grant is back")
        assert gw.proc is not None and gw.proc.returncode == 0
    assert _inbound(db, "WHERE source = 'imap'") == 16
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(DISTINCT source_key) FROM inbound_messages").fetchone()[0] == 16
    heartbeat = {h["account"]: h for h in status["imap"]}
    assert "XOAUTH2" not in heartbeat["sales"]["last_error"]
    assert "OAUTHBEARER access token refused" in heartbeat["sales"]["last_error"]
    log = gw.log.read_text()
    refusals = [line for line in log.splitlines() if "imap[sales]" in line and " ERROR " in line]
    assert len(refusals) == 1, refusals
    assert "login refused for user 'sales': OAUTHBEARER access token refused" in refusals[0]
    assert "imap[support]" not in "\n".join(line for line in log.splitlines() if " ERROR " in line)
    assert len([line for line in log.splitlines() if "imap[sales]: recovered" in line]) == 1
    renewals = [line for line in log.splitlines() if " INFO " in line and "new OAuth2 access token" in line]
    # Each account at start and at its two renewals; the fetches retrying after the refusal are DEBUG.
    assert len(renewals) == 6, renewals
    for secret in ["support-secret-q7", "sales-refresh-zz9", *(i.token for i in oauth.issued)]:
        assert secret not in log, "a secret or token in the log"
