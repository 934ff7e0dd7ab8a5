"""The files of a decision log: `<dir>/segments/000001.jsonl`, `000002.jsonl`, ...

Segment files are foreign input to a verifier: another process, or an
attacker, may have put a FIFO, a link or a gigabyte without a newline in their
place. Reading them is bounded (`MAX_LINE` a line), never follows a link and
never blocks; what cannot be read is reported by the caller as a problem.
Only a log directory that cannot be listed at all is an `InputError`.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mu.generator.decisionlog.codec import MAX_LINE
from mu.generator.errors import InputError

SEGMENTS = "segments"
SEGMENT_NAME = re.compile(r"^([0-9]{6})\.jsonl\Z")
MAX_SEGMENT = 999_999
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
_HINT = "name the decision log directory (`mu serve --log DIR`; default `TARGET.decisions/`)"


def segments_dir(directory: Path) -> Path:
    """Where the segment files of the log at `directory` live."""
    return directory / SEGMENTS


def segment_name(number: int) -> str:
    """`000001.jsonl` for segment 1."""
    return f"{number:06d}.jsonl"


@dataclass(frozen=True)
class Listing:
    """The segment files found (number → path, ascending) and any other names beside them."""

    segments: dict[int, Path]
    others: tuple[str, ...]


def list_segments(directory: Path) -> Listing:
    """The segments of the log at `directory`; `InputError` when it cannot be listed.

    A log without a `segments/` directory has no segments (an empty listing).
    """
    if not directory.is_dir():
        raise InputError(f"decision log `{directory}` is not a directory", hint=_HINT)
    where = segments_dir(directory)
    if not where.exists() and not where.is_symlink():
        return Listing({}, ())
    try:
        names = os.listdir(where)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise InputError(f"cannot list decision log `{where}`: {reason}", hint=_HINT) from None
    found: dict[int, Path] = {}
    others = []
    for name in sorted(names):
        match = SEGMENT_NAME.match(name)
        if match and int(match.group(1)) > 0:
            found[int(match.group(1))] = where / name
        else:
            others.append(name)
    return Listing(dict(sorted(found.items())), tuple(others))


class Unreadable(Exception):
    """A segment file that cannot be read as one: `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _open_regular(path: Path) -> int:
    """A read descriptor of the regular file at `path` (never a link, FIFO or device)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if path.is_symlink():
            raise Unreadable("is a symbolic link") from None
        raise Unreadable(f"cannot be read: {(exc.strerror or str(exc)).lower()}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise Unreadable("is not a regular file")
    return fd


@dataclass(frozen=True)
class RawLine:
    """One line of a segment: its 1-based number, byte offset, bytes (newline included).

    `status` is `ok`, `long` (over `MAX_LINE` bytes: `data` is empty) or `cut` (the
    file ends without its newline: a write that did not finish).
    """

    number: int
    offset: int
    data: bytes
    status: Literal["ok", "long", "cut"]


def read_lines(path: Path) -> Iterator[RawLine]:
    """Every line of the segment at `path`, bounded; `Unreadable` when it is not a file."""
    fd = _open_regular(path)
    with os.fdopen(fd, "rb", buffering=1024 * 1024) as handle:
        number, offset = 0, 0
        while True:
            try:
                data = handle.readline(MAX_LINE + 1)
            except OSError as exc:
                raise Unreadable(f"cannot be read: {(exc.strerror or str(exc)).lower()}") from None
            if not data:
                return
            number += 1
            if len(data) > MAX_LINE:
                size = len(data)
                while data and not data.endswith(b"\n"):
                    data = handle.readline(MAX_LINE)
                    size += len(data)
                yield RawLine(number, offset, b"", "long")
                offset += size
                continue
            yield RawLine(number, offset, data, "ok" if data.endswith(b"\n") else "cut")
            offset += len(data)


def first_line(path: Path) -> bytes | None:
    """The first complete line of a segment, or None (empty, cut, too long, unreadable)."""
    try:
        for raw in read_lines(path):
            return raw.data if raw.status == "ok" else None
    except Unreadable:
        return None
    return None


def last_line(path: Path) -> bytes | None:
    """The last complete line of a segment (a cut line after it is ignored), or None."""
    try:
        fd = _open_regular(path)
    except Unreadable:
        return None
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        start = max(0, size - 2 * (MAX_LINE + 1))
        handle.seek(start)
        chunk = handle.read(size - start)
    end = chunk.rfind(b"\n")
    if end < 0:
        return None
    begin = chunk.rfind(b"\n", 0, end) + 1
    if begin == 0 and start > 0:
        return None  # longer than a line may be
    return chunk[begin : end + 1]
