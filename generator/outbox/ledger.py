"""The ledger sink: JSON lines appended to the files of `[ledgers.<name>]`, idempotently.

One line per delivery and ledger it names, appended under an exclusive
`flock` (another process may append too) and made durable with fsync before
the delivery counts as delivered. `deliver_many` appends the lines of several
deliveries to one ledger in one write with one fsync: the workers hand it a
whole batch, so the fsync, the dearest part, is paid once per batch.

It is idempotent: a line whose idempotency key is already in the file is not
written again (a crash can come between the write and the outbox's record of
it). The keys in the file are indexed on first use, as 16-byte digests; the
index follows appends by others and is rebuilt if the file is replaced. A
torn last line (a crash mid-write) is left as it is and the next line starts
on a line of its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mu.generator.jsonread import loads_strict
from mu.generator.layout import shown_path
from mu.generator.outbox import render
from mu.generator.outbox.config import LedgerConfig
from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.protocol import DeliveryError
from mu.generator.outbox.status import printable

_READ_CHUNK = 1024 * 1024
# A ledger line's idempotency key (`render.ledger_line` writes it compact; others may not).
_LEDGER_KEY = re.compile(rb'"idempotency_key"\s*:\s*("(?:[^"\\\n]|\\.)*")')


@dataclass
class _Index:
    """The idempotency keys (as digests) in a ledger file, up to `size` bytes of it."""

    device: int
    inode: int
    size: int
    keys: set[bytes]


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode(), digest_size=16).digest()


class LedgerSink:
    """Appends ledger actions to the files of `[ledgers.<name>]`."""

    def __init__(self, ledgers: Mapping[str, LedgerConfig]) -> None:
        self.ledgers = ledgers
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}
        self._indexes: dict[Path, _Index] = {}

    def deliver(self, delivery: Delivery, timeout: float) -> None:
        """Append to every ledger the action names, unless its key is already there."""
        (error,) = self.deliver_many([delivery], timeout)
        if error is not None:
            raise error

    def deliver_many(
        self, deliveries: Sequence[Delivery], timeout: float
    ) -> list[Exception | None]:
        """Append each delivery to every ledger it names, one write and one fsync per
        ledger; for each delivery None when every one of its ledgers has its line, else the
        error (a delivery naming an unconfigured ledger is written nowhere)."""
        errors: list[Exception | None] = [None] * len(deliveries)
        by_ledger: dict[str, list[int]] = {}
        for i, delivery in enumerate(deliveries):
            errors[i] = _unwritable(delivery, self.ledgers)
            if errors[i] is None:
                for name in dict.fromkeys(delivery.targets):
                    by_ledger.setdefault(name, []).append(i)
        for name, indexes in by_ledger.items():
            ledger = self.ledgers[name]
            try:
                with self._lock_of(ledger.path):
                    self._append(ledger, [deliveries[i] for i in indexes])
            except DeliveryError as exc:
                for i in indexes:
                    errors[i] = errors[i] or exc
        return errors

    def _lock_of(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def _append(self, ledger: LedgerConfig, deliveries: Sequence[Delivery]) -> None:
        name = printable(ledger.name, 80)
        try:
            fd = os.open(ledger.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise DeliveryError(
                f"cannot open the ledger `{name}` at `{shown_path(ledger.path)}`: {exc.strerror}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another process appending (a second service)
            index = self._index(ledger.path, fd)
            now = time.time()
            keys: dict[bytes, bytes] = {}  # digest → line, in order; a repeat written once
            for delivery in deliveries:
                key = _digest(delivery.idempotency_key)
                if key not in index.keys and key not in keys:
                    keys[key] = render.ledger_line(delivery, ledger.name, now=now)
            if not keys:
                return  # all there already (a crash came between the write and its record)
            data = b"".join(keys.values())
            if index.size and os.pread(fd, 1, index.size - 1) != b"\n":
                data = b"\n" + data  # a torn last line (a crash mid-write) stays a line apart
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
            index.keys.update(keys)
            index.size += len(data)
        except OSError as exc:
            raise DeliveryError(
                f"cannot append to the ledger `{name}` at `{shown_path(ledger.path)}`: "
                f"{exc.strerror}"
            ) from None
        finally:
            os.close(fd)  # releases the flock

    def _index(self, path: Path, fd: int) -> _Index:
        """The index of the open ledger, read from the file as far as it is not yet."""
        info = os.fstat(fd)
        index = self._indexes.get(path)
        if index is None or (index.device, index.inode) != (info.st_dev, info.st_ino) or (
            info.st_size < index.size
        ):
            index = _Index(info.st_dev, info.st_ino, 0, set())
            self._indexes[path] = index
        tail = b""
        offset = index.size
        while offset < info.st_size:
            chunk = os.pread(fd, min(_READ_CHUNK, info.st_size - offset), offset)
            if not chunk:
                break
            offset += len(chunk)
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            for line in lines:
                _index_line(index, line)
        _index_line(index, tail)  # a last line without newline (torn, or written by hand)
        index.size = offset
        return index


def _unwritable(delivery: Delivery, ledgers: Mapping[str, LedgerConfig]) -> DeliveryError | None:
    """Why `delivery` cannot be appended at all, or None."""
    if not delivery.targets:
        return DeliveryError("the ledger action names no ledger")
    for name in delivery.targets:
        if name not in ledgers:
            return DeliveryError(
                f"the ledger `{printable(name, 80)}` is not configured "
                f"(`[ledgers.{printable(name, 80)}]` in the service configuration)"
            )
    return None


def _index_line(index: _Index, line: bytes) -> None:
    match = _LEDGER_KEY.search(line)
    if match is None:
        return
    try:
        key = loads_strict(match.group(1))
    except ValueError:
        return
    if isinstance(key, str):
        index.keys.add(_digest(key))
