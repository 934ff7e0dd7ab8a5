"""What the writer finds when it opens a log: the tail's chain, a cut last line, a crash.

Opening is the one moment the writer reads the log, so it checks what it is
about to extend: the chain of the last segment, from the last line of the
segment before it (or from the genesis record when the only checkpoint to
count decisions from is missing) to its end. Signatures are `verify_log`'s
business; the writer only refuses a chain that is broken (`broken`), so it
never appends to a log someone changed. A last line without its newline is a
write that a crash interrupted — never answered, since answers follow the
fsync — and is cut away (`cut_back`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mu.generator.decisionlog.chain import Scan, parse_line
from mu.generator.decisionlog.segments import (
    Listing,
    Unreadable,
    first_line,
    last_line,
    read_lines,
    segment_name,
)
from mu.generator.errors import CheckFailed, Problem

BROKEN_HINT = (
    "run `mu decisions verify DIR` to see what changed, then move the log directory aside "
    "and start again: the service starts a new log in an empty directory"
)
sync = getattr(os, "fdatasync", os.fsync)


@dataclass(frozen=True)
class Recovery:
    """What `open()` found: a new log, a clean one, or what an unclean stop left."""

    log_id: str
    created: bool  # a new log was started
    clean: bool  # the last run ended on a shutdown checkpoint (or the log is new)
    last_seq: int  # the last record after opening (a recovery checkpoint included)
    decisions: int
    segment: int  # the segment the next record goes to
    uncovered_from: int | None  # first record no checkpoint covered (None: all covered)
    uncovered_records: int  # decision records the last run left without a checkpoint
    dropped_bytes: int  # of a cut last line, truncated away
    checkpoint: int | None  # seq of the recovery checkpoint written (None: none)


@dataclass(frozen=True)
class Tail:
    """The checked tail: the scan at its end, the last segment's complete lines and their
    length in bytes, and the bytes of a cut line after them."""

    scan: Scan
    lines: int
    good: int
    dropped: int


def scan_tail(directory: Path, listing: Listing) -> Tail:
    """Check the chain of the last segment (see the module docstring); `CheckFailed`
    (`broken`) when a segment is missing or a line does not chain."""
    segments = listing.segments
    numbers = list(segments)
    if numbers != list(range(1, len(numbers) + 1)):
        missing = next(n for n in range(1, numbers[-1] + 1) if n not in segments)
        raise broken(directory, [Problem(f"segment `{segment_name(missing)}`", "is missing")])
    scan = Scan(None)
    start = numbers[-1]
    if start > 1:
        genesis, before = first_line(segments[1]), last_line(segments[start - 1])
        parsed = parse_line(genesis)[0] if genesis else None
        log_id = parsed.get("log_id") if parsed else None
        if before is None or not isinstance(log_id, str):
            problem = Problem(f"segment `{segment_name(start - 1)}`", "has no last record")
            raise broken(directory, [problem])
        scan.log_id = log_id
        scan.resume_after(before)
        if scan.decisions is None:  # no checkpoint to count from: count from the start
            scan, start = Scan(None), 1
    lines = good = dropped = 0
    for number in range(start, numbers[-1] + 1):
        path, last = segments[number], number == numbers[-1]
        lines = good = 0
        try:
            for raw in read_lines(path):
                if raw.status == "cut" and last:
                    dropped = len(raw.data)
                elif raw.status != "ok":
                    scan.skip(f"`{path.name}` line {raw.number}", "is cut or too long")
                else:
                    scan.feed(path, raw.number, raw.data)
                    lines, good = lines + 1, raw.offset + len(raw.data)
        except Unreadable as exc:
            scan.problem(scan.next_seq, f"segment `{path.name}`", exc.reason)
    if scan.problems:
        raise broken(directory, scan.problems)
    return Tail(scan, lines, good, dropped)


def cut_back(path: Path, length: int) -> None:
    """Truncate the segment at `path` to `length` bytes, durably."""
    os.truncate(path, length)
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        sync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Make a new entry of `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def broken(directory: Path, problems: Sequence[Problem]) -> CheckFailed:
    """The refusal to append to a log whose tail does not chain."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return CheckFailed(
        f"the decision log `{directory}` is broken, so nothing is appended to it: "
        f"{first.where} {first.message}{more}",
        hint=BROKEN_HINT,
        problems=problems,
    )
