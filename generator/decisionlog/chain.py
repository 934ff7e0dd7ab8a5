"""The check of a run of log lines: the hash chain, each record's own fields, checkpoints.

`Scan` is fed lines in log order and collects every problem, each naming the
record (its `seq`), the segment and line, and what is wrong, and the first
record that can no longer be trusted (`first_bad`) — never raising on what the
lines hold. After a break it resynchronises on the line it found, so one
edited line is one problem, not one per later line.

How a break is attributed ("since which record"):

- a line whose `prev` is not the sha256 of the line before: that line before
  was edited (or the `prev` was) — bad from the record before;
- a `seq` that is not the next one: a record was deleted, or lines reordered —
  bad from the `seq` expected;
- a record whose own fields disagree (`tx_digest`, `decision_id`, not canonical)
  — bad from that record;
- a checkpoint whose signed head is not the chain's head: the chain was
  rewritten after it was signed — bad from the first record it should cover.

The same scan checks the tail of a log when the writer opens it (without a
trust history: the writer checks the chain, `verify_log` the signatures too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from mu.generator.decisionlog.checkpoint import (
    SUBJECT_PREFIX,
    ReadCheckpoint,
    head_of,
    read_checkpoint,
    trust_of,
)
from mu.generator.decisionlog.codec import (
    FORMAT,
    GENESIS_PREV,
    HEX64,
    LOG_ID_FORM,
    OUTCOMES,
    TIME_FORM,
    canonical_json,
    line_hash,
    loads_exact,
)
from mu.generator.errors import Location, Problem
from mu.generator.jsonshape import MAX_PROBLEMS, json_type, preview
from mu.generator.provenance.signing import role_hint
from mu.generator.provenance.statement import CHECKPOINT_REASONS
from mu.generator.provenance.trusthistory import TrustHistory

EDIT_HINT = (
    "the log was changed after it was written: compare it with a backup, and trust no "
    "record from this one on"
)


def parse_line(data: bytes) -> tuple[dict[str, Any] | None, str]:
    """A line as a JSON object (numbers exact), or None and what is wrong with it."""
    try:
        value = loads_exact(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, f"is not UTF-8 (byte {exc.start})"
    except json.JSONDecodeError as exc:
        return None, f"is not JSON ({exc.msg[:1].lower()}{exc.msg[1:]} at column {exc.colno})"
    except RecursionError:
        return None, "is nested too deeply"
    except ValueError as exc:  # a repeated key, NaN, or an integer too long to read
        return None, f"is not mu's JSON: {str(exc)[:120]}"
    if not isinstance(value, dict):
        return None, f"is {json_type(value)}, not a JSON object"
    return value, ""


def _int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(value: object, form: Any) -> bool:
    return isinstance(value, str) and form.fullmatch(value) is not None


@dataclass
class Scan:
    """What a scan of log lines has found so far (one per scan; fed in log order)."""

    history: TrustHistory | None  # None: checkpoint signatures are not checked
    log_id: str | None = None
    next_seq: int = 0
    prev: str = GENESIS_PREV  # sha256 of the last line read
    decisions: int | None = 0  # decision records so far; None while unknown (after a gap)
    records: int = 0
    checkpoints: int = 0
    covered_line: int = -1  # seq of the last checkpoint line that counts
    covered_decisions: int | None = 0  # decision records that checkpoint covered
    current_line: int = -1  # ... of the last one signed by a key holding runtime today
    stale: str = ""  # who signed the last checkpoint, when that key lost `runtime`
    last: dict[str, Any] | None = None  # the last line read, parsed (None: unreadable)
    last_where: str = ""
    resync: bool = False  # the next line follows a gap already reported: take it as given
    first_bad: int | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(
        self,
        seq: int | None,
        where: str,
        message: str,
        hint: str = EDIT_HINT,
        location: Location | None = None,
    ) -> None:
        """Record a problem; records from `seq` on are no longer trusted."""
        if seq is not None and (self.first_bad is None or seq < self.first_bad):
            self.first_bad = seq
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(where, message, hint, location))
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append(
                Problem("…", f"more than {MAX_PROBLEMS} problems; the rest are not listed")
            )

    def skip(self, where: str, message: str, location: Location | None = None) -> None:
        """A line that could not be read at all: a problem, and resynchronise after it."""
        self.problem(self.next_seq, where, message, location=location)
        self.next_seq += 1
        self.records += 1
        self.resync = True
        self.decisions = None
        self.last = None

    def resume_after(self, data: bytes) -> None:
        """Continue a scan after `data`, the last line of an earlier segment read elsewhere."""
        line, _ = parse_line(data)
        seq = line.get("seq") if line else None
        self.prev = line_hash(data)
        self.next_seq = seq + 1 if _int(seq) else self.next_seq
        self.last = line
        self.decisions = None
        if line is not None and line.get("kind") == "checkpoint":
            read = read_checkpoint(line.get("envelope"), "checkpoint")
            count = read.predicate.get("decisions") if read.problem is None else None
            if _int(count) and _int(seq):
                self.decisions = self.covered_decisions = count
                self.covered_line = seq

    def feed(self, path: Path, number: int, data: bytes) -> dict[str, Any] | None:
        """Check one complete line (`number` in the segment at `path`); its parsed value."""
        location = Location(str(path), number)
        where = f"`{path.name}` line {number}"
        line, why = parse_line(data)
        if line is None:
            self.skip(where, f"{why}: the line was damaged or edited", location)
            return None
        seq = line.get("seq")
        if not _int(seq):
            self.skip(where, f"has no record number (`seq` is {json_type(seq)})", location)
            return None
        where = f"record {seq} ({where})"
        self._link(line, seq, where, location)
        try:
            canonical = (canonical_json(line) + "\n").encode("utf-8") == data
        except (TypeError, ValueError, RecursionError):
            canonical = False
        if not canonical:
            self.problem(
                seq,
                where,
                "is not in the canonical form mu writes: it was edited",
                location=location,
            )
        kind = line.get("kind")
        if seq == 0 and kind != "genesis":
            self.problem(0, where, "is not the genesis record that starts a log", location=location)
        if kind == "genesis":
            self._genesis(line, seq, where, location)
        elif kind == "decision":
            self._decision(line, seq, where, location)
        elif kind == "checkpoint":
            self._checkpoint(line, seq, where, path, location)
        else:
            shown = f"`{preview(kind)}`" if isinstance(kind, str) else json_type(kind)
            self.problem(
                seq,
                where,
                f"has kind {shown}, not genesis, decision or checkpoint",
                location=location,
            )
        self.prev = line_hash(data)
        self.next_seq = seq + 1
        self.records += 1
        self.last, self.last_where = line, where
        return line

    def _link(self, line: dict[str, Any], seq: int, where: str, location: Location) -> None:
        if self.resync:
            self.resync = False
            return
        last = self.last or {}
        if (
            last.get("kind") == "checkpoint"
            and last.get("reason") == "rotation"
            and (location.line or 0) > 1
        ):
            self.problem(
                seq, where, "follows a rotation checkpoint in the same segment", location=location
            )
        expected = self.next_seq
        if seq > expected:
            gap = f"records {expected} to {seq - 1}" if seq > expected + 1 else f"record {expected}"
            self.problem(
                expected,
                where,
                f"comes where record {expected} belongs: {gap} deleted, or lines reordered",
                location=location,
            )
        elif seq < expected:
            self.problem(
                seq,
                where,
                f"comes after record {expected - 1}: lines were reordered or repeated",
                location=location,
            )
        elif line.get("prev") != self.prev:
            self.problem(
                max(seq - 1, 0),
                where,
                "does not hold the sha256 of the line before "
                f"it: record {seq - 1} was edited (or this record's `prev`)",
                location=location,
            )
        else:
            return
        # Past a break the count of decisions is unknown: the next checkpoint says it.
        self.decisions = None

    def _genesis(self, line: dict[str, Any], seq: int, where: str, location: Location) -> None:
        if seq != 0:
            self.problem(
                seq, where, "is a genesis record in the middle of a log", location=location
            )
            return
        log_id = line.get("log_id")
        wrong = [
            name
            for name, ok in (
                ("log_id", _text(log_id, LOG_ID_FORM)),
                ("format", line.get("format") == FORMAT and _int(line.get("format"))),
                ("time", _text(line.get("time"), TIME_FORM)),
            )
            if not ok
        ]
        if wrong:
            self.problem(
                0,
                where,
                f"has a malformed {', '.join(f'`{w}`' for w in wrong)} "
                f"(this mu writes format {FORMAT})",
                location=location,
            )
        self.log_id = log_id if isinstance(log_id, str) else None

    def _decision(self, line: dict[str, Any], seq: int, where: str, location: Location) -> None:
        checks = (
            ("time", _text(line.get("time"), TIME_FORM)),
            ("release", _text(line.get("release"), HEX64)),
            ("outcome", line.get("outcome") in OUTCOMES),
            ("reasons", _objects(line.get("reasons"))),
            ("actions", _objects(line.get("actions"))),
            ("transaction", "transaction" in line),
            ("tx_digest", _text(line.get("tx_digest"), HEX64)),
        )
        wrong = [name for name, ok in checks if not ok]
        if wrong:
            self.problem(
                seq,
                where,
                f"has a malformed {', '.join(f'`{w}`' for w in wrong)}",
                location=location,
            )
        if self.log_id is not None and line.get("decision_id") != f"{self.log_id}-{seq}":
            self.problem(
                seq,
                where,
                f"has decision_id `{preview(str(line.get('decision_id')))}`"
                f", not `{self.log_id}-{seq}`",
                location=location,
            )
        if "transaction" in line and isinstance(line.get("tx_digest"), str):
            try:
                digest = line_hash(canonical_json(line["transaction"]).encode("utf-8"))
            except (TypeError, ValueError, RecursionError):
                digest = ""
            if digest != line["tx_digest"]:
                self.problem(
                    seq,
                    where,
                    "holds a transaction whose sha256 is not its "
                    "`tx_digest`: the transaction was edited",
                    location=location,
                )
        if self.decisions is not None:
            self.decisions += 1

    def _checkpoint(
        self, line: dict[str, Any], seq: int, where: str, path: Path, location: Location
    ) -> None:
        self.checkpoints += 1
        reason, stamp = line.get("reason"), line.get("time")
        read = read_checkpoint(line.get("envelope"), f"{path.name} line {location.line}")
        if read.problem is not None:
            self.problem(
                seq, where, f"is not a checkpoint mu signs: {read.problem}", location=location
            )
            return
        if reason not in CHECKPOINT_REASONS or not _text(stamp, TIME_FORM):
            self.problem(seq, where, "has a malformed `reason` or `time`", location=location)
            return
        if not self._agrees(read, line, seq, where, location):
            return
        if self.history is not None:
            trust = trust_of(read, self.history, path)
            if not trust.ok:
                self.problem(
                    seq,
                    where,
                    f"is signed by no key the trust root allows: {trust.detail}",
                    hint=role_hint("runtime"),
                    location=location,
                )
                return
            self.stale = "" if trust.current else trust.detail
            if trust.current:
                self.current_line = seq
        self.covered_line = seq
        self.covered_decisions = self.decisions
        if reason == "recovery":
            found = read.predicate.get("recovery") or {}
            start = found.get("uncovered_from")
            self.notes.append(
                f"record {seq}: a recovery checkpoint after an unclean stop: "
                + (
                    f"{found.get('uncovered_records', 0)} decision(s) from record {start} "
                    "had no signed checkpoint"
                    if start is not None
                    else "every record had a signed checkpoint"
                )
                + f"; {found.get('dropped_bytes', 0)} byte(s) of a cut line were dropped"
            )

    def _agrees(
        self,
        read: ReadCheckpoint,
        line: dict[str, Any],
        seq: int,
        where: str,
        location: Location,
    ) -> bool:
        """Whether the signed statement says what the line and the chain say."""
        name, head = head_of(read)
        predicate = read.predicate
        if self.decisions is None:  # after a gap: from here on, count from what was signed
            self.decisions = predicate["decisions"]
        differ = [
            what
            for what, ok in (
                ("subject", name == f"{SUBJECT_PREFIX}{self.log_id}"),
                ("log_id", predicate["log_id"] == self.log_id),
                ("seq", predicate["seq"] == seq - 1),
                ("reason", predicate["reason"] == line.get("reason")),
                ("time", predicate["time"] == line.get("time")),
                ("decisions", predicate["decisions"] == self.decisions),
            )
            if not ok
        ]
        if differ:
            self.problem(
                seq,
                where,
                f"signs other values than the log holds: {', '.join(f'`{d}`' for d in differ)}",
                location=location,
            )
            return False
        # Against the line's own `prev`: when that is not the sha256 of the line before,
        # the break is reported already; the signature still vouches for the chain it names.
        if head != line.get("prev"):
            self.problem(
                self.covered_line + 1,
                where,
                "signs a chain head that is not the "
                f"`prev` of its line: records after record {self.covered_line} "
                "were rewritten",
                location=location,
            )
            return False
        return True


def _objects(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)
