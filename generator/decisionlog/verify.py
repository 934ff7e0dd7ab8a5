"""`mu decisions verify LOG`: is every record as written, and since which record is it not?

The whole log is read, segment by segment, in order (`chain.Scan` checks each
line): the hash chain across segments, each record's fields, and every
checkpoint's signature — by a key holding `runtime` in the trust-root version
the checkpoint names, reached from the pin through `history` (as `mu
verify-receipt` checks any statement). Then the end of the log:

- records after the last checkpoint that counts are not covered by any
  signature: the log was truncated, or the server crashed or is still running;
- a log must end on a `shutdown` checkpoint: one that ends on a `rotation`
  checkpoint lost the segments after it, one that ends on an `interval` or
  `recovery` checkpoint was cut after it or is still being written;
- the last checkpoint must be signed by a key that holds `runtime` in the newest
  trust-root version: a removed key could have signed a shortened log.

With `live=True` (the service is running) the end-of-log findings are notes,
not problems, as is a half-written last line. Hostile content — unreadable
JSON, wrong types, huge lines, links, FIFOs — is a problem, never a traceback;
only a log directory that cannot be listed is an `InputError` (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mu.generator.decisionlog.chain import Scan
from mu.generator.decisionlog.segments import (
    MAX_SEGMENT,
    RawLine,
    Unreadable,
    list_segments,
    read_lines,
    segment_name,
    segments_dir,
)
from mu.generator.errors import Location, Problem
from mu.generator.provenance.trusthistory import TrustHistory

CRASH_HINT = (
    "if the service crashed, starting it again signs a recovery checkpoint; if it is "
    "running, verify with `--live`; otherwise records were cut from the end of the log"
)
ROTATION_HINT = "restore the missing segment files from a backup"
STALE_HINT = (
    "start the service with a key that holds `runtime` now: it signs a checkpoint over "
    "the whole log"
)


@dataclass(frozen=True)
class LogVerdict:
    """What `verify_log` found: counts, the problems (each naming its record, segment and
    line), notes, and the first record that can no longer be trusted."""

    directory: Path
    ok: bool
    log_id: str | None
    segments: int
    records: int  # lines read, of every kind
    decisions: int
    checkpoints: int
    last_seq: int  # -1 for a log without records
    covered_seq: int  # the last record a counted checkpoint covers (-1: none)
    first_bad_seq: int | None
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]
    head: str | None  # sha256 of the last line read


def verify_log(directory: Path, history: TrustHistory, *, live: bool = False) -> LogVerdict:
    """Check the decision log at `directory` against the trust root `history` describes.

    `live`: the service may still be writing it, so a log that does not end on a
    shutdown checkpoint, and a half-written last line, are notes, not problems.
    """
    listing = list_segments(directory)
    scan = Scan(history)
    decisions = 0
    if listing.others:
        shown = ", ".join(f"`{n}`" for n in listing.others[:5])
        scan.notes.append(f"ignored in `{segments_dir(directory)}`: {shown}")
    if not listing.segments:
        scan.problem(
            0,
            f"`{segments_dir(directory)}`",
            "holds no segment files: no log here",
            hint="name the directory `mu serve` writes (`--log`)",
        )
    numbers = list(listing.segments)
    last_number = numbers[-1] if numbers else 0
    expected = 1
    for number, path in listing.segments.items():
        if number != expected:
            missing = segment_name(expected) + (
                "" if number == expected + 1 else f" to {segment_name(number - 1)}"
            )
            scan.problem(scan.next_seq, f"segment `{missing}`", "is missing", hint=ROTATION_HINT)
            scan.resync, scan.decisions = True, None
        expected = number + 1
        decisions += _scan_segment(scan, path, last=number == last_number, live=live)
    _ending(scan, live, listing.segments.get(last_number))
    return LogVerdict(
        directory=directory,
        ok=not scan.problems,
        log_id=scan.log_id,
        segments=len(numbers),
        records=scan.records,
        decisions=decisions,
        checkpoints=scan.checkpoints,
        last_seq=scan.next_seq - 1,
        covered_seq=scan.covered_line - 1 if scan.covered_line >= 0 else -1,
        first_bad_seq=scan.first_bad,
        problems=tuple(scan.problems),
        notes=tuple(scan.notes),
        head=scan.prev if scan.records else None,
    )


def _scan_segment(scan: Scan, path: Path, *, last: bool, live: bool) -> int:
    """Feed one segment's lines to `scan`; the number of decision records in it."""
    where = f"segment `{path.name}`"
    decisions = 0
    lines = 0
    try:
        for raw in read_lines(path):
            lines += 1
            decisions += _one(scan, path, raw, last=last, live=live)
    except Unreadable as exc:
        scan.problem(
            scan.next_seq,
            where,
            exc.reason,
            location=Location(str(path)),
            hint="a segment is a regular file written by `mu serve`: restore it",
        )
        scan.resync, scan.decisions = True, None
        return decisions
    if lines == 0:
        if last and live:
            scan.notes.append(f"{where} is empty: the service is starting it")
        else:
            scan.problem(
                scan.next_seq,
                where,
                "is empty: the service stopped while starting it, or its records were removed",
                hint=CRASH_HINT,
            )
    return decisions


def _one(scan: Scan, path: Path, raw: RawLine, *, last: bool, live: bool) -> int:
    location = Location(str(path), raw.number)
    where = f"`{path.name}` line {raw.number}"
    if raw.status == "long":
        scan.skip(where, "is longer than a record may be (1 MiB)", location)
        return 0
    if raw.status == "cut":
        if last and live:
            scan.notes.append(f"{where} is being written ({len(raw.data)} bytes so far)")
        else:
            scan.problem(
                scan.next_seq,
                where,
                f"is cut off after {len(raw.data)} bytes (no "
                "newline): the service crashed while writing it, or the file was "
                "truncated",
                hint=CRASH_HINT,
                location=location,
            )
        return 0
    line = scan.feed(path, raw.number, raw.data)
    return 1 if line is not None and line.get("kind") == "decision" else 0


def _ending(scan: Scan, live: bool, last_path: Path | None) -> None:
    """The end-of-log checks: coverage, the last checkpoint's reason and signer."""
    if not scan.records:
        return
    last_seq = scan.next_seq - 1
    if scan.covered_line < last_seq:
        first = scan.covered_line + 1
        count = ""
        if scan.decisions is not None and scan.covered_decisions is not None:
            count = f" ({scan.decisions - scan.covered_decisions} decision(s))"
        text = (
            f"are not covered by a signed checkpoint{count}: the log was truncated, or the "
            "server crashed or is still running"
        )
        where = f"records {first} to {last_seq}" if first < last_seq else f"record {last_seq}"
        _end_finding(scan, live, first, where, text, CRASH_HINT)
    elif scan.last is not None and scan.last.get("reason") != "shutdown":
        reason = scan.last.get("reason")
        name = last_path.name if last_path is not None else "?"
        if reason == "rotation":
            number = int(name[:6]) + 1 if name[:6].isdigit() else MAX_SEGMENT
            text = (
                f"is the rotation checkpoint that ends `{name}`, but segment "
                f"`{segment_name(number)}` after it is missing"
            )
            _end_finding(scan, live, last_seq + 1, scan.last_where, text, ROTATION_HINT)
        else:
            text = (
                f"is a {reason} checkpoint, not a shutdown checkpoint, yet ends the log: "
                "records after it were cut off, or the server crashed or is still running"
            )
            _end_finding(scan, live, last_seq + 1, scan.last_where, text, CRASH_HINT)
    if scan.stale and scan.history is not None:
        newest = scan.history.newest.version
        scan.problem(
            scan.current_line + 1,
            f"record {scan.covered_line}",
            f"is the last checkpoint, and its key no longer holds `runtime` in trust root "
            f"version {newest} ({scan.stale})",
            hint=STALE_HINT,
        )


def _end_finding(scan: Scan, live: bool, seq: int, where: str, text: str, hint: str) -> None:
    if live:
        scan.notes.append(f"{where} {text} (live log: not a failure)")
    else:
        scan.problem(seq, where, text, hint=hint)
