"""The throwaway Dovecot's files: dovecot.conf (the recipe in notes/real-servers.md), its users,
its certificate with TLS, the oauth2 passdb with an introspection URL, and the directories it runs in."""

from __future__ import annotations

import os
from pathlib import Path

from tests.oauth_server import with_oauth2_passdb
from tests.support import self_signed_cert

NOBODY = 65534

_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{dir}/mail/%u
# Throwaway mail: no fsync per message, so appending hundreds of test messages is quick.
mail_fsync = never
first_valid_uid = 100
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
  chroot =
}}
service anvil {{
  chroot =
  # No growing delay for every login from 127.0.0.1 after a test's wrong password.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
"""


def write_dovecot_conf(d: Path, users: dict[str, str], *, port: int, tls_port: int, tls: bool,
                       introspection_url: str | None) -> Path:
    """Lay out ``d`` for a Dovecot serving ``users`` (name: password) and write its dovecot.conf there."""
    for sub in ("run", "state", "mail"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    d.chmod(0o755)
    os.chown(d / "mail", NOBODY, NOBODY)
    (d / "users").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in users.items()))
    ssl_files = ""
    if tls:
        cert, key = self_signed_cert(d)
        ssl_files = f"ssl_cert = <{cert}\nssl_key = <{key}"
    conf = _CONF.format(dir=d, port=port, tls_port=tls_port, uid=NOBODY,
                        ssl="yes" if tls else "no", ssl_files=ssl_files)
    path = d / "dovecot.conf"
    path.write_text(with_oauth2_passdb(conf, d, introspection_url) if introspection_url else conf)
    return path
