"""Proving an engineer: Authentication-Results from our MTA only, dkimpy with a key map, reply tokens."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest

from gateway.app import App, build_app
from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.outbound import reply_token
from gateway.processing.engineers.auth_results import aligned, parse_header, trusted_block, verdict
from gateway.processing.engineers.identity import (
    PROOF_AUTH_RESULTS,
    PROOF_DKIM,
    PROOF_TOKEN,
    authenticate,
    dkim_verdict,
)
from gateway.store.db import Database
from parsers import ParsedMail, parse
from tests import worlds
from tests.support import HELPDESK, OUTSIDE

DATA = Path(__file__).parents[1] / "data" / "engineers"
KEY = (DATA / "dkim-test.key").read_bytes()
TXT = (DATA / "dkim-test.txt").read_text().strip()
KEYS = {"sel._domainkey.example.com": TXT}
MX = "mx.example.com"


# --- Authentication-Results, RFC 8601 -------------------------------------------------------

def test_parse_header_with_comments_versions_and_quotes() -> None:
    parsed = parse_header('mx.example.com 1; (checked at the edge) dkim=pass (2048-bit key) '
                          'header.d=Example.COM header.s=sel header.b="ab;cd"; spf=pass smtp.mailfrom=a@b.example;'
                          ' dmarc=fail (p=reject) header.from=example.com')
    assert parsed is not None
    assert parsed.authserv_id == "mx.example.com"
    assert [(r.method, r.result) for r in parsed.results] == [("dkim", "pass"), ("spf", "pass"), ("dmarc", "fail")]
    assert parsed.results[0].domain("header.d") == "example.com"
    assert parsed.results[0].properties["header.b"] == "ab;cd"


def test_parse_header_none() -> None:
    parsed = parse_header("mx.example.com; none")
    assert parsed is not None and parsed.results == ()


@pytest.mark.parametrize("value", ['', ';;;', 'mx.example.com; dkim=pass (unclosed', 'mx.example.com; dkim="pass',
                                   '(only a comment)', 'mx.example.com; =pass; dkim=; x' + "(" * 500])
def test_parse_header_never_raises_on_junk(value: str) -> None:
    parsed = parse_header(value)
    assert parsed is None or all(r.result != "pass" or r.method == "dkim" for r in parsed.results)


def _headers(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return pairs


def test_only_the_topmost_run_counts() -> None:
    headers = _headers(
        ("Authentication-Results", f"{MX}; dkim=none"),
        ("Received", f"from attacker.example by {MX}"),
        ("Authentication-Results", f"{MX}; dkim=pass header.d=example.com"),
        ("From", "dana@example.com"),
    )
    block = trusted_block(headers, [MX])
    assert len(block) == 1
    assert verdict(block, "example.com")[0] is False


def test_a_trusted_id_below_a_senders_header_is_a_forgery() -> None:
    # Our MTA's Received on top, then the sender's own header with a forged result below it.
    headers = _headers(
        ("Received", f"from attacker.example by {MX}"),
        ("From", "dana@example.com"),
        ("To", "support@example.com"),
        ("Subject", "Re: [#1] outage"),
        ("Authentication-Results", f"{MX}; dkim=pass header.d=example.com"),
    )
    assert trusted_block(headers, [MX]) == ()
    assert verdict(trusted_block(headers, [MX]), "example.com")[0] is False


def test_another_authserv_id_above_ours_ends_the_search() -> None:
    headers = _headers(
        ("Received", f"from attacker.example by {MX}"),
        ("Authentication-Results", "elsewhere.example; none"),
        ("Authentication-Results", f"{MX}; dkim=pass header.d=example.com"),
    )
    assert trusted_block(headers, [MX]) == ()


def test_delivery_trace_fields_above_our_results_are_allowed() -> None:
    headers = _headers(
        ("Return-Path", "<dana@example.com>"),
        ("Delivered-To", "support@example.com"),
        ("X-Original-To", "support@example.com"),
        ("Received", f"from mail.example.com by {MX}"),
        ("Authentication-Results", f"{MX}; dkim=pass header.d=example.com"),
        ("From", "dana@example.com"),
    )
    assert verdict(trusted_block(headers, [MX]), "example.com")[0] is True


def test_two_headers_from_our_mta_both_count() -> None:
    headers = _headers(
        ("Received", "by helpdesk.example.com"),
        ("Authentication-Results", f"{MX}; dkim=pass header.d=example.com"),
        ("Authentication-Results", f"{MX}; dmarc=pass header.from=example.com"),
        ("Received", f"from mail.example.com by {MX}"),
    )
    assert len(trusted_block(headers, [MX])) == 2
    assert verdict(trusted_block(headers, [MX]), "example.com") == (True, f"{MX}: dkim=pass header.d=example.com")


def test_other_authserv_ids_are_ignored() -> None:
    headers = _headers(("Authentication-Results", "mx.google.com; dkim=pass header.d=example.com"))
    assert trusted_block(headers, [MX]) == ()
    assert verdict((), "example.com")[0] is False


@pytest.mark.parametrize(("value", "ok"), [
    ("dkim=pass header.d=example.com", True),
    ("dkim=pass header.i=@example.com", True),
    ("dkim=pass header.d=EXAMPLE.com.", True),
    ("dkim=pass header.d=evil.example", False),
    ("dkim=pass header.d=com", False),
    ("dkim=fail header.d=example.com", False),
    ("dmarc=pass header.from=example.com", True),
    ("dmarc=pass header.from=other.example", False),
    ("dkim=pass header.d=example.com; dmarc=fail header.from=example.com", False),
    ("spf=pass smtp.mailfrom=dana@example.com", False),
])
def test_verdict_needs_an_aligned_pass(value: str, ok: bool) -> None:
    block = trusted_block((("Authentication-Results", f"{MX}; {value}"),), [MX])
    assert verdict(block, "example.com")[0] is ok


def test_alignment_is_relaxed_downwards_only() -> None:
    assert aligned("example.com", "eu.example.com")
    assert not aligned("eu.example.com", "example.com")
    assert not aligned("xample.com", "example.com")


# --- dkimpy, with a key map instead of DNS ---------------------------------------------------

def _mail(sender: str = "Dana <dana@example.com>", body: str = "Hello\n") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.com"
    msg["Subject"] = "Re: [#1] Printer"
    msg["Message-ID"] = "<r1@example.com>"
    msg.set_content(body)
    return msg.as_bytes().replace(b"\n", b"\r\n")


def _signed(raw: bytes, domain: str = "example.com", **kw: object) -> bytes:
    sig = dkim.sign(raw, b"sel", domain.encode(), KEY, include_headers=[b"from", b"to", b"subject"], **kw)
    return bytes(sig) + raw


def test_dkimpy_pass_with_the_key_map() -> None:
    ok, why = dkim_verdict(_signed(_mail()), "example.com", KEYS)
    assert ok, why


def test_dkimpy_body_changed_after_signing() -> None:
    raw = _signed(_mail()).replace(b"Hello", b"Goodbye")
    assert dkim_verdict(raw, "example.com", KEYS)[0] is False


def test_dkimpy_unknown_key_or_unsigned() -> None:
    assert dkim_verdict(_mail(), "example.com", KEYS) == (False, "no DKIM-Signature")
    assert dkim_verdict(_signed(_mail()), "example.com", {"other._domainkey.example.com": TXT})[0] is False


def test_dkimpy_length_tag_does_not_count() -> None:
    ok, why = dkim_verdict(_signed(_mail(), length=True), "example.com", KEYS)
    assert not ok and "l=" in why


def test_dkimpy_unaligned_signature() -> None:
    keys = {"sel._domainkey.evil.example": TXT}
    ok, why = dkim_verdict(_signed(_mail(), domain="evil.example"), "example.com", keys)
    assert not ok and "not aligned" in why


# --- authenticate(): every proof through one door --------------------------------------------

def _app(tmp_path: Path, agents: str) -> App:
    """Dana and Fox, with ``agents`` (TOML keys) in [engineers]."""
    config = load_config(None, text=worlds.world(
        worlds.gateway(tmp_path / "var", name=None, timezone=None),
        worlds.table("engineers"), agents,
        worlds.dana(), worlds.fox(),
    ))
    return build_app(config, FakeClock(datetime(2026, 11, 23, tzinfo=UTC)),
                     db=Database(f"sqlite:///{tmp_path / 'db.sqlite3'}"))


def _parsed(raw: bytes) -> ParsedMail:
    return parse(raw, received_at=datetime(2026, 11, 23, tzinfo=UTC))


def _to_token(app: App, ticket: int, bound_to: str | None) -> str:
    return reply_token.reply_address("support@example.com", ticket,
                                     reply_token.make_token(app.secret, ticket, bound_to=bound_to))


def test_token_issued_to_the_sender_proves_them(tmp_path: Path) -> None:
    app = _app(tmp_path, "")
    to = _to_token(app, 7, "dana@example.com")
    raw = _mail().replace(b"To: support@example.com", f"To: {to}".encode())
    who = authenticate(app, raw, _parsed(raw), ())
    assert who.proof == PROOF_TOKEN and who.engineer is not None and who.engineer.handle == "dana"
    assert who.token_ticket == 7


def test_token_in_the_envelope_only_counts_too(tmp_path: Path) -> None:
    app = _app(tmp_path, "")
    raw = _mail()
    assert authenticate(app, raw, _parsed(raw), (_to_token(app, 7, "dana@example.com"),)).proven


def test_token_of_another_engineer_proves_nothing(tmp_path: Path) -> None:
    app = _app(tmp_path, "")
    raw = _mail("Fox <fox@example.com>").replace(b"To: support@example.com",
                                                 f"To: {_to_token(app, 7, 'dana@example.com')}".encode())
    who = authenticate(app, raw, _parsed(raw), ())
    assert not who.proven
    assert who.token_owner is not None and who.token_owner.handle == "dana"
    assert "issued to dana" in who.reason


def test_customer_with_an_engineer_token(tmp_path: Path) -> None:
    app = _app(tmp_path, "")
    raw = _mail("Alice <alice@acme.example>")
    who = authenticate(app, raw, _parsed(raw), (_to_token(app, 7, "dana@example.com"),))
    assert not who.proven and who.claimed is None and who.token_owner is not None


def test_reply_token_proof_can_be_switched_off(tmp_path: Path) -> None:
    app = _app(tmp_path, "reply_token = false")
    raw = _mail()
    who = authenticate(app, raw, _parsed(raw), (_to_token(app, 7, "dana@example.com"),))
    assert not who.proven and "neither" in who.reason


def test_authentication_results_proof(tmp_path: Path) -> None:
    app = _app(tmp_path, f'trusted_authserv_ids = ["{MX}"]')
    raw = f"Authentication-Results: {MX}; dkim=pass header.d=example.com\r\n".encode() + _mail()
    who = authenticate(app, raw, _parsed(raw), ())
    assert who.proof == PROOF_AUTH_RESULTS


def test_two_from_addresses_are_refused(tmp_path: Path) -> None:
    app = _app(tmp_path, f'trusted_authserv_ids = ["{MX}"]')
    raw = f"Authentication-Results: {MX}; dkim=pass header.d=example.com\r\n".encode() + \
        _mail("Dana <dana@example.com>, Mallory <m@evil.example>")
    assert not authenticate(app, raw, _parsed(raw), ()).proven


def test_dkimpy_proof_through_config(tmp_path: Path) -> None:
    app = _app(tmp_path, f'verify_dkim = true\ndkim_keys = {{ "sel._domainkey.example.com" = "{TXT}" }}')
    raw = _signed(_mail())
    who = authenticate(app, raw, _parsed(raw), ())
    assert who.proof == PROOF_DKIM, who.reason
    forged = _signed(_mail()).replace(b"Hello", b"Pay me")
    assert not authenticate(app, forged, _parsed(forged), ()).proven


# --- the [engineers] keys -----------------------------------------------------------------------

def test_documented_engineers_block_loads() -> None:
    config = load_config(Path(__file__).parents[2] / "config.example.toml")
    assert config.staff.cc_participants == "contacts"
    assert config.staff.auth.trusted_authserv_ids == ("mx.example.com",)
    assert sorted(config.staff.engineers) == ["dana", "fox"]


@pytest.mark.parametrize(("agents", "problem"), [
    ('cc_participants = "everyone"', "engineers.cc_participants"),
    ('dkim_keys = ["sel"]', "engineers.dkim_keys"),
    ("verify_dmarc = true", "engineers.verify_dmarc: unknown key"),
])
def test_engineers_key_problems_name_the_key(agents: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, text=f'[gateway]\nsupport_address = "support@example.com"\n[engineers]\n{agents}\n')
    assert any(problem in p for p in err.value.problems)


def test_the_old_agents_keys_still_load_and_say_what_to_rename(tmp_path: Path) -> None:
    """[agents] and [[agents.engineers]] (the names before [engineers] and [[engineers.team]])
    are read for one more release; check-config says what to rename and still passes."""
    old = (f'[gateway]\nsupport_address = "support@example.com"\ndata_dir = "{tmp_path / "var"}"\n'
           '[agents]\ntrusted_authserv_ids = ["mx.example.com"]\n'
           '[[agents.engineers]]\nhandle = "dana"\nname = "Dana Scully"\naddress = "dana@example.com"\n')
    config = load_config(None, text=old)
    assert sorted(config.staff.engineers) == ["dana"]
    assert config.staff.auth.trusted_authserv_ids == ("mx.example.com",)
    assert len(config.deprecations) == 1 and "[[engineers.team]]" in config.deprecations[0]
    path = tmp_path / "config.toml"
    path.write_text(old)
    checked = subprocess.run([*HELPDESK, "-c", str(path), "check-config"], capture_output=True, text=True,
                             cwd=OUTSIDE, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "deprecated: agents: [agents] is now [engineers]" in checked.stderr
    assert load_config(None, text=old.replace("[agents]", "[engineers]").replace(
        "[[agents.engineers]]", "[[engineers.team]]")).deprecations == ()
