"""DKIM signatures (RFC 6376) on the mail the gateway sends, made with dkimpy at hand-over.

Signing where the mail leaves, not where it is queued: a retried mail is signed again with
the key configured now, and the outbox keeps the bytes as composed. A mail dkimpy cannot
sign still goes, unsigned, with a warning: an unsigned acknowledgement may be filtered, a
missing one is a broken promise.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import dkim

if TYPE_CHECKING:
    from gateway.outbound.transports import BeforeData, Delivered, Transport

log = logging.getLogger("gateway.outbound")

# Relaxed for the body too: a relay that re-wraps long lines or trims trailing space must not
# break the signature (RFC 6376 section 3.4.4).
_CANONICALIZE = (b"relaxed", b"relaxed")


class DkimSigner:
    def __init__(self, domain: str, selector: str, key_file: Path) -> None:
        self.domain, self.selector = domain.encode("ascii"), selector.encode("ascii")
        self.key = key_file.read_bytes()

    def sign(self, raw: bytes) -> bytes:
        """``raw`` with a DKIM-Signature header in front; ``raw`` itself when it cannot be signed."""
        try:
            header: bytes = dkim.sign(raw, self.selector, self.domain, self.key, canonicalize=_CANONICALIZE)
        except Exception as exc:  # dkimpy's errors are several classes; none may stop the mail
            log.warning("DKIM: could not sign a mail (%s: %s); it goes unsigned", exc.__class__.__name__, exc)
            return raw
        return header + raw


class SignedTransport:
    """Signs each mail, then hands it to the transport underneath."""

    def __init__(self, inner: Transport, signer: DkimSigner) -> None:
        self.inner, self.signer = inner, signer

    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes, message_id: str,
             before_data: BeforeData | None = None) -> Delivered:
        signed = self.signer.sign(raw)
        if before_data is None:
            return self.inner.send(mail_from, rcpt_to, signed, message_id)
        return self.inner.send(mail_from, rcpt_to, signed, message_id, before_data)

    def close(self) -> None:
        self.inner.close()
