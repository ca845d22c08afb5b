"""The OAuth2 keys of [[imap]]: defaults per provider, secrets kept out of sight,
and problems that name the key and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.config.imap import imap_problems, load_imap_accounts
from gateway.config.imap_oauth import OAuth2Settings

BASE = '[gateway]\nsupport_address = "support@example.com"\n'
ACCOUNT = '[[imap]]\nname = "{name}"\nhost = "imap.example.com"\nusername = "support@example.com"\n'


def _load(tmp_path: Path, *blocks: str) -> str:
    text = BASE + f'data_dir = "{tmp_path}"\n' + "\n".join(
        ACCOUNT.format(name=f"a{i}") + block for i, block in enumerate(blocks))
    path = tmp_path / "config.toml"
    path.write_text(text)
    return str(path)


def _settings(tmp_path: Path, block: str) -> OAuth2Settings:
    [account] = load_imap_accounts(load_config(Path(_load(tmp_path, block))))
    assert account.oauth2 is not None and account.password == ""
    return account.oauth2


def _problems(tmp_path: Path, *blocks: str) -> list[str]:
    return imap_problems(load_config(Path(_load(tmp_path, *blocks))))


def test_microsoft_with_a_client_secret_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("M365_SECRET", "very-secret-value")
    s = _settings(tmp_path, 'auth = "oauth2"\noauth2_provider = "microsoft"\noauth2_tenant_id = "contoso.example"\n'
                            'oauth2_client_id = "app-id"\noauth2_client_secret_env = "M365_SECRET"\n')
    assert (s.provider, s.mechanism, s.scope) == ("microsoft", "XOAUTH2", "https://outlook.office365.com/.default")
    assert s.authority == "https://login.microsoftonline.com/contoso.example"
    assert s.client_secret == "very-secret-value" and "very-secret-value" not in repr(s)


def test_google_by_refresh_token_file_and_by_service_account(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("G_SECRET", "client-secret")
    (tmp_path / "refresh.txt").write_text("1//refresh-token\n")
    s = _settings(tmp_path, 'auth = "oauth2"\noauth2_provider = "google"\noauth2_mechanism = "oauthbearer"\n'
                            'oauth2_client_id = "id.apps.googleusercontent.com"\n'
                            'oauth2_client_secret_env = "G_SECRET"\n'
                            'oauth2_refresh_token_file = "refresh.txt"\n')
    assert (s.mechanism, s.scope, s.token_url) == ("OAUTHBEARER", "https://mail.google.com/",
                                                   "https://oauth2.googleapis.com/token")
    assert s.refresh_token == "1//refresh-token" and "refresh-token" not in repr(s)
    key = {"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com", "private_key": "PEM",
           "token_uri": "https://oauth2.googleapis.com/token"}
    (tmp_path / "sa.json").write_text(json.dumps(key))
    s = _settings(tmp_path, 'auth = "oauth2"\noauth2_provider = "google"\noauth2_service_account_file = "sa.json"\n')
    assert s.subject == "support@example.com" and s.service_account == key and "PEM" not in repr(s)


def test_generic_endpoint_http_only_on_loopback(tmp_path: Path) -> None:
    s = _settings(tmp_path, 'auth = "oauth2"\noauth2_provider = "generic"\n'
                            'oauth2_token_url = "http://127.0.0.1:8080/token"\noauth2_client_id = "gw"\n')
    assert (s.token_url, s.client_secret, s.refresh_token, s.scope) == ("http://127.0.0.1:8080/token", "", "", "")
    [problem] = _problems(tmp_path, 'auth = "oauth2"\noauth2_provider = "generic"\n'
                                    'oauth2_token_url = "http://login.example.com/token"\noauth2_client_id = "gw"\n')
    assert problem.startswith("imap[0].oauth2_token_url: must be an https:// URL")


def test_each_problem_names_its_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_SECRET", raising=False)
    monkeypatch.setenv("SET_SECRET", "x")
    (tmp_path / "not-a-key.json").write_text("{}")
    problems = _problems(
        tmp_path,
        'auth = "oauth2"\n',
        'auth = "oauth2"\noauth2_provider = "microsoft"\npassword_env = "SET_SECRET"\n',
        'auth = "oauth2"\noauth2_provider = "microsoft"\noauth2_tenant_id = "t"\noauth2_client_id = "c"\n'
        'oauth2_client_secret_env = "SET_SECRET"\noauth2_certificate_file = "missing.pem"\n',
        'auth = "oauth2"\noauth2_provider = "google"\noauth2_client_id = "c"\n'
        'oauth2_client_secret_env = "UNSET_SECRET"\noauth2_service_account_file = "not-a-key.json"\n',
        'password_env = "SET_SECRET"\noauth2_provider = "google"\n',
        'auth = "oauth2"\noauth2_provider = "generic"\noauth2_mechanism = "plain"\noauth2_tenant_id = "t"\n'
        'oauth2_client_secret_env = "SET_SECRET"\noauth2_client_secret_file = "s.txt"\n',
        'auth = "kerberos"\npassword_env = "SET_SECRET"\n',
    )
    text = "\n".join(problems)
    for expected in (
        "imap[0].oauth2_provider: missing; with auth = \"oauth2\" say who issues the tokens",
        "imap[1].password_env: not used with auth = \"oauth2\"",
        "imap[1].oauth2_tenant_id: missing; give the directory (tenant) ID",
        "imap[1].oauth2_client_id: missing",
        "imap[1].oauth2_client_secret_env: missing; give the client secret",
        "imap[2].oauth2_certificate_file: ",
        "imap[2].oauth2_certificate_file: give a client secret or a certificate, not both",
        "imap[3].oauth2_client_id: not used with oauth2_service_account_file",
        "imap[3].oauth2_service_account_file: ",
        "is not a service account's JSON key",
        "imap[4].oauth2_provider: only used with auth = \"oauth2\"",
        "imap[5].oauth2_mechanism: must be one of 'xoauth2', 'oauthbearer'",
        "imap[5].oauth2_tenant_id: not used with oauth2_provider = \"generic\"",
        "imap[5].oauth2_token_url: missing",
        "imap[5].oauth2_client_secret_file: give the client secret either by",
        "imap[6].auth: must be one of 'password', 'oauth2'",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert "UNSET_SECRET" not in text  # a key that is not used is not read either


def test_status_reads_the_accounts_without_the_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_SECRET", raising=False)
    config = load_config(Path(_load(tmp_path, 'auth = "oauth2"\noauth2_provider = "generic"\n'
                                              'oauth2_token_url = "https://login.example.com/token"\n'
                                              'oauth2_client_id = "gw"\noauth2_client_secret_env = "UNSET_SECRET"\n')))
    assert "UNSET_SECRET" in "\n".join(imap_problems(config))
    [account] = load_imap_accounts(config, need_passwords=False)
    assert account.oauth2 is not None and account.oauth2.client_id == "gw"
