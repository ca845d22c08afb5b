"""TLS contexts: as a client of a relay or mailbox (its CA: the system's, or a ca_file), and as
the listener's server (a certificate chain and its key)."""

from __future__ import annotations

import ssl
from pathlib import Path


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """Checks the server's certificate and name against the system's CAs, or ``ca_file``'s."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Serves ``cert`` (a PEM chain) with ``key``; raises OSError or ssl.SSLError when they cannot."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context
