"""An IMAP session's commands on its account's folder: select, search, fetch, acknowledge.

The search finds the mail still to store; the fetch reads it without setting \\Seen; the
acknowledgement of what is stored is a MOVE to the done folder (or COPY, \\Deleted, UID
EXPUNGE), or else \\Seen."""

from __future__ import annotations

import imaplib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from gateway.sources.imap.connection import ImapConnection, server_text

log = logging.getLogger("gateway.imap")

SEEN, DELETED = b"\\Seen", b"\\Deleted"


@dataclass(frozen=True, slots=True)
class Fetched:
    """One message as fetched: its bytes, and when the server received it (INTERNALDATE)."""

    raw: bytes
    arrived: datetime | None


@dataclass(frozen=True, slots=True)
class Mailbox:
    uidvalidity: int
    uidnext: int | None
    exists: int


class ImapSession(ImapConnection):
    """A logged-in connection working its account's folder; every call may raise one of IMAP_ERRORS."""

    def select(self) -> Mailbox:
        info = self.client.select_folder(self.account.folder)
        self.news_since_select()  # what SELECT itself reported is the pass's starting point
        return Mailbox(uidvalidity=int(info[b"UIDVALIDITY"]),
                       uidnext=int(info[b"UIDNEXT"]) if b"UIDNEXT" in info else None,
                       exists=int(info.get(b"EXISTS", 0)))

    def news_since_select(self) -> bool:
        """Whether the server announced new mail (EXISTS, RECENT) since the folder was selected,
        in answers to our own commands: a mail delivered during a pass. imaplib keeps such
        announcements; the server does not repeat them when IDLE begins."""
        untagged = self.client._imap.untagged_responses
        return bool(untagged.pop("EXISTS", None)) | bool(untagged.pop("RECENT", None))

    def ensure_done_folder(self) -> None:
        done = self.account.done_folder
        if done is not None and not self.client.folder_exists(done):
            self.client.create_folder(done)
            log.info("imap[%s]: created the done folder %r", self.account.name, done)

    def candidates(self, last_uid: int) -> list[int]:
        """The UIDs still to store: not yet moved out, or not yet \\Seen, or newer than ``last_uid``.

        With a done folder, everything left in the folder is work. Without one, \\Seen is the
        mark of a stored message, and UIDs above the highest one stored are taken even when a
        person has already read them in their mail client.
        """
        if self.account.done_folder is not None:
            return sorted(int(u) for u in self.client.search(["NOT", "DELETED"]))
        found = {int(u) for u in self.client.search(["UNSEEN", "NOT", "DELETED"])}
        # "UID n:*" also matches the highest UID when n is above it (RFC 3501 6.4.4): filter.
        found.update(int(u) for u in self.client.search(["UID", f"{last_uid + 1}:*", "NOT", "DELETED"])
                     if int(u) > last_uid)
        return sorted(found)

    def larger_than(self, octets: int) -> set[int]:
        """The UIDs in the folder larger than ``octets`` (SEARCH LARGER: one short answer)."""
        return {int(u) for u in self.client.search(["LARGER", str(octets), "NOT", "DELETED"])}

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE of each UID that still exists."""
        sizes: dict[int, int] = {}
        for chunk in _chunks(uids, 500):
            for uid, data in self.client.fetch(chunk, ["RFC822.SIZE"]).items():
                if b"RFC822.SIZE" in data:
                    sizes[int(uid)] = int(data[b"RFC822.SIZE"])
        return sizes

    def fetch(self, uids: Sequence[int]) -> tuple[dict[int, Fetched], dict[int, str]]:
        """Each UID's bytes via BODY.PEEK[] (which leaves \\Seen alone) and INTERNALDATE; the refusals.

        A server that refuses the batch is asked again one message at a time, so that one
        message it will not give does not hold back the others.
        """
        try:
            return self._fetch(uids), {}
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            if len(uids) == 1:
                return {}, {uids[0]: f"the server would not give it: {server_text(exc)}"}
        bodies: dict[int, Fetched] = {}
        refused: dict[int, str] = {}
        for uid in uids:
            got, why = self.fetch([uid])
            bodies.update(got)
            refused.update(why)
        return bodies, refused

    def _fetch(self, uids: Sequence[int]) -> dict[int, Fetched]:
        """One UID FETCH for the batch, read as imaplib hands it over.

        imapclient's response parser tokenises every response and costs a third of a bulk
        fetch; a message body comes from imaplib as one literal already, beside a prefix
        that names its UID and INTERNALDATE. The common shape
        (``n (UID u INTERNALDATE "..." BODY[] {size}``) is read here; a message the server
        answered in any other shape is fetched again through imapclient.
        """
        typ, data = self.client._imap.uid("FETCH", ",".join(str(u) for u in uids),
                                          "(UID INTERNALDATE BODY.PEEK[])")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"UID FETCH refused: {_text(data)}")
        wanted = set(uids)
        bodies: dict[int, Fetched] = {}
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                found = _LITERAL_PREFIX.search(item[0])
                if found is not None and int(found[1]) in wanted:
                    bodies[int(found[1])] = Fetched(bytes(item[1]), internal_date(found[2]))
        rest = [uid for uid in uids if uid not in bodies]
        if rest:
            response = self.client.fetch(rest, ["INTERNALDATE", "BODY.PEEK[]"])
            for uid, fields in response.items():
                body, arrived = fields.get(b"BODY[]"), fields.get(b"INTERNALDATE")
                if body is not None:
                    # imapclient gives local naive times; astimezone() reads them as local.
                    bodies[int(uid)] = Fetched(bytes(body), arrived.astimezone()
                                               if isinstance(arrived, datetime) else None)
        return bodies

    def acknowledge(self, uids: Sequence[int]) -> None:
        """Mark stored messages done: MOVE to the done folder (or COPY, \\Deleted, UID EXPUNGE), else \\Seen."""
        for chunk in _chunks(uids, 500):
            self._acknowledge(chunk)

    def _acknowledge(self, uids: list[int]) -> None:
        done = self.account.done_folder
        if done is None:
            self.client.add_flags(uids, [SEEN], silent=True)
        elif self.can(b"MOVE"):
            self.client.move(uids, done)
        else:
            self.client.copy(uids, done)
            self.client.add_flags(uids, [DELETED], silent=True)
            # Without UIDPLUS a plain EXPUNGE would also remove what others marked \Deleted;
            # the candidates skip \Deleted messages, so leaving them for the owner is safe.
            if self.can(b"UIDPLUS"):
                self.client.uid_expunge(uids)


# "* 12 FETCH (UID 345 INTERNALDATE "22-Nov-2026 09:15:02 +0000" BODY[] {1234}": the prefix
# imaplib gives with a body literal.
_LITERAL_PREFIX = re.compile(rb'^\d+ \(UID (\d+) INTERNALDATE "([^"]*)" BODY\[\] \{\d+\}$')


_INTERNAL_DATE = re.compile(rb"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\s*")
_MONTHS = {name: number for number, name in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"), 1)}
_ZONES: dict[bytes, timezone] = {}


def internal_date(value: bytes) -> datetime | None:
    """An IMAP date-time (``22-Nov-2026 09:15:02 +0000``, the day may be space-padded), or None.

    Read by hand, not by strptime: it is asked once per fetched message, and strptime's
    cost was a tenth of a bulk fetch.
    """
    found = _INTERNAL_DATE.fullmatch(value)
    month = _MONTHS.get(found[2].lower()) if found is not None else None
    if found is None or month is None:
        return None
    zone = _ZONES.get(found[7] + found[8] + found[9])
    if zone is None:
        minutes = int(found[8]) * 60 + int(found[9])
        if minutes >= 24 * 60:
            return None
        zone = _ZONES.setdefault(found[7] + found[8] + found[9],
                                 timezone(timedelta(minutes=-minutes if found[7] == b"-" else minutes)))
    try:
        return datetime(int(found[3]), month, int(found[1]), int(found[4]), int(found[5]), int(found[6]),
                        tzinfo=zone)
    except ValueError:
        return None


def _text(data: Any) -> str:
    return " ".join(d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in data or ())[:300]


def _chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
