"""Where `helpdesk import` reads a mailbox's history from: mbox, Maildir, a folder of .eml files, IMAP."""

from __future__ import annotations

import contextlib
import dataclasses
import mailbox
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Protocol, cast

from gateway.config.imap import ImapAccount
from gateway.sources.imap.session import ImapSession
from parsers.dates import EARLIEST, as_utc, parse_date

_HEADER_LIMIT = 64 * 1024
_IMAP_CHUNK = 200


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One message of a source, before its bytes are read: where it is and when it arrived."""

    locator: str | int  # the source's own handle: an mbox/Maildir key, a file name, an IMAP UID
    date: datetime | None  # its Date header (else the source's own date), None when neither is believable
    order: int  # its place in the source


class MailSource(Protocol):
    """A mailbox to import: a first pass over its dates, then its bytes in the order asked."""

    name: str

    def scan(self, now: datetime) -> Iterator[Entry]: ...

    def read(self, entries: Sequence[Entry]) -> list[bytes | None]:
        """The bytes of ``entries``, in order; None for one the source no longer has or will not give."""

    def close(self) -> None: ...


def arrival(raw_header: bytes, fallback: datetime | None, now: datetime) -> datetime | None:
    """When a message arrived, for the import: its Date header, else the source's own date
    (mbox From_ line, Maildir delivery time, file time, INTERNALDATE), each believed only
    between 1980 and ``now`` (parsers.dates: a date in the future is a broken clock)."""
    end = raw_header.find(b"\n\n")
    crlf = raw_header.find(b"\r\n\r\n")
    if crlf != -1 and (end == -1 or crlf < end):
        end = crlf
    head = raw_header[:_HEADER_LIMIT] if end == -1 else raw_header[:min(end, _HEADER_LIMIT)]
    value = BytesHeaderParser(policy=compat32).parsebytes(head).get("Date")
    for candidate in (parse_date(str(value)) if value else None, fallback):
        if candidate is None:
            continue
        with contextlib.suppress(ValueError, OverflowError):
            moment = as_utc(candidate)
            if EARLIEST <= moment <= now:
                return moment
    return None


def _timestamp(seconds: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError):
        return None


class MboxSource:
    """An mbox file (as mail clients, Google Takeout and ``mailbox.mbox`` write it)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such mbox file")
        self.name = str(path)
        self._box = mailbox.mbox(path, create=False)

    def scan(self, now: datetime) -> Iterator[Entry]:
        for order, key in enumerate(self._box.iterkeys()):
            from_line, _, raw = self._box.get_bytes(key, True).partition(b"\n")
            yield Entry(key, arrival(raw, _from_line_date(from_line), now), order)

    def read(self, entries: Sequence[Entry]) -> list[bytes | None]:
        return [self._box.get_bytes(cast(str, e.locator)) for e in entries]  # its keys are ints, typed str

    def close(self) -> None:
        self._box.close()


def _from_line_date(line: bytes) -> datetime | None:
    # "From sender Tue Nov 24 10:00:00 2026": the delivery time, in asctime form (no zone: UTC).
    words = line.decode("ascii", "replace").split()
    if len(words) < 7:
        return None
    try:
        return datetime.strptime(" ".join(words[2:7]), "%a %b %d %H:%M:%S %Y").replace(tzinfo=UTC)
    except ValueError:
        return None


class MaildirSource:
    """A Maildir (cur/ and new/; its messages are only read, never moved or flagged)."""

    def __init__(self, path: Path) -> None:
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise FileNotFoundError(f"{path}: not a Maildir (no cur/ or new/)")
        self.name = str(path)
        self._box = mailbox.Maildir(path, factory=None, create=False)

    def scan(self, now: datetime) -> Iterator[Entry]:
        for order, key in enumerate(sorted(self._box.iterkeys())):
            message = self._box.get_message(key)  # its get_date() is the delivery time (the file's)
            yield Entry(key, arrival(self._box.get_bytes(key), _timestamp(message.get_date()), now), order)

    def read(self, entries: Sequence[Entry]) -> list[bytes | None]:
        return [self._box.get_bytes(str(e.locator)) for e in entries]

    def close(self) -> None:
        self._box.close()


class EmlDirSource:
    """A folder of one-message files (``*.eml``, or every regular file when none ends so), recursively."""

    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such folder")
        self.name = str(path)
        files = sorted(p for p in path.rglob("*.eml") if p.is_file())
        self._files = files or sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))

    def scan(self, now: datetime) -> Iterator[Entry]:
        for order, path in enumerate(self._files):
            with open(path, "rb") as fh:
                head = fh.read(_HEADER_LIMIT)
            yield Entry(str(path), arrival(head, _timestamp(path.stat().st_mtime), now), order)

    def read(self, entries: Sequence[Entry]) -> list[bytes | None]:
        return [_read_file(Path(str(e.locator))) for e in entries]

    def close(self) -> None:
        pass


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class ImapSource:
    """One folder of an ``[[imap]]`` account, read-only: EXAMINE, BODY.PEEK; no flag is changed."""

    def __init__(self, account: ImapAccount, folder: str) -> None:
        self.account = dataclasses.replace(account, folder=folder)
        self.name = f"imap {account.name}/{folder}"
        self._session = ImapSession.open(self.account)
        try:
            self._session.client.select_folder(folder, readonly=True)
        except BaseException:
            self._session.close()
            raise

    def scan(self, now: datetime) -> Iterator[Entry]:
        client = self._session.client
        uids = sorted(int(u) for u in client.search(["ALL"]))
        order = 0
        for start in range(0, len(uids), _IMAP_CHUNK):
            chunk = uids[start:start + _IMAP_CHUNK]
            answer = client.fetch(chunk, ["INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (DATE)]"])
            for uid in chunk:
                fields = answer.get(uid, {})
                head = fields.get(b"BODY[HEADER.FIELDS (DATE)]") or b""
                arrived = fields.get(b"INTERNALDATE")
                # imapclient gives a naive local time; astimezone() reads it as local.
                fallback = arrived.astimezone() if isinstance(arrived, datetime) else None
                yield Entry(uid, arrival(bytes(head) + b"\r\n", fallback, now), order)
                order += 1

    def read(self, entries: Sequence[Entry]) -> list[bytes | None]:
        uids = [int(e.locator) for e in entries]
        fetched, _refused = self._session.fetch(uids)  # a message expunged meanwhile is simply gone
        return [fetched[uid].raw if uid in fetched else None for uid in uids]

    def close(self) -> None:
        self._session.close()

