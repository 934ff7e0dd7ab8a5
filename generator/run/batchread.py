"""The lines of a batch: read one at a time, bounded, and each decided to one `BatchLine`.

A batch is foreign input of any length, so nothing here grows with it: lines
are read with a per-line bound (an over-long line is read past in pieces,
never held), and every line, whatever it holds, yields exactly one result: a
decision, `INVALID` (the line is not a valid transaction) or `ERROR` (the
enforcer could not decide it). A bad line is never skipped and never stops
the lines after it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from mu.generator.errors import InputError, Problem
from mu.generator.run.decide import (
    MAX_TRANSACTION_BYTES,
    STDIN,
    STDIN_NAME,
    parse_transaction,
    refusal_problems,
    shown,
)

INVALID = "INVALID"  # the line is not a valid transaction: decided as invalid, never approved
ERROR = "ERROR"  # the enforcer could not decide the transaction: fails closed too
OUTCOMES = ("APPROVE", "REJECT", "REVIEW", INVALID, ERROR)
# Reading past an over-long line goes in pieces of this size, so it is never held.
_SKIP_BYTES = 64 * 1024
_SOURCE = "the line"
_FILE_HINT = "pass a JSON Lines file (one transaction object per line), or `-` for standard input"


@dataclass(frozen=True)
class RawLine:
    """One line of a batch as read: its 1-based number and its bytes, without the newline.

    `refused` is set (and `data` empty) when the reader already knows the line
    cannot be a transaction, such as a line longer than the bound, whose bytes
    were read past rather than kept.
    """

    number: int
    data: bytes
    refused: str = ""


@dataclass(frozen=True)
class BatchLine:
    """The result of one input line.

    `outcome` is the decision's outcome (APPROVE, REJECT, REVIEW), `INVALID`
    or `ERROR`; `decision` is `Decision.to_dict(trace=False)` when there is one, else
    `error` and `problems` say why not. `transaction_id` is the transaction's
    `id` whenever the line parsed far enough to have one.
    """

    line: int
    outcome: str
    transaction_id: str | None = None
    decision: Mapping[str, Any] | None = None
    error: str = ""
    problems: tuple[Problem, ...] = ()

    @property
    def decided(self) -> bool:
        """True when the enforcer returned a decision (APPROVE, REJECT or REVIEW)."""
        return self.decision is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: `line`, `outcome`, `transaction_id`, and `decision` or
        `error` with `problems`."""
        data: dict[str, Any] = {
            "line": self.line,
            "outcome": self.outcome,
            "transaction_id": self.transaction_id,
        }
        if self.decision is not None:
            data["decision"] = dict(self.decision)
        else:
            data["error"] = self.error
            data["problems"] = [{"where": p.where, "message": p.message} for p in self.problems]
        return data


@contextmanager
def opened(source: Path, stdin: BinaryIO | None = None) -> Iterator[tuple[BinaryIO, str]]:
    """The batch `source` (`-`: `stdin`, else this process's standard input) and its name.

    A file that cannot be opened is an `InputError` naming it.
    """
    if str(source) == STDIN:
        yield (stdin or sys.stdin.buffer), STDIN_NAME
        return
    name = f"`{shown(str(source))}`"
    try:
        handle = open(source, "rb")  # noqa: SIM115 -- closed below, after the last yield
    except OSError as exc:
        raise InputError(
            f"cannot read {name}: {(exc.strerror or str(exc)).lower()}", hint=_FILE_HINT
        ) from None
    with handle:
        yield handle, name


def read_lines(
    stream: BinaryIO, name: str = STDIN_NAME, max_line_bytes: int = MAX_TRANSACTION_BYTES
) -> Iterator[RawLine]:
    """The lines of `stream`, each at most `max_line_bytes` (without its newline).

    A final newline ends the last line; it does not start an empty one. A
    longer line is read past in pieces and yields a refused `RawLine`, so
    memory stays bounded whatever the input holds. A read error (a directory,
    a device failing) is an `InputError` naming `name` and the last line read.
    """
    number = 0
    while True:
        data = _read(stream, max_line_bytes + 1, name, number)
        if not data:
            return
        number += 1
        if data.endswith(b"\n"):
            yield RawLine(number, data[:-1])
        elif len(data) <= max_line_bytes:
            yield RawLine(number, data)  # the last line, without a final newline
        else:
            size = len(data) + _skip_line(stream, name, number)
            yield RawLine(
                number,
                b"",
                f"{_SOURCE} is {size:,} bytes long, more than the {max_line_bytes:,} "
                "a transaction may have",
            )


def decide_line(module: ModuleType, raw: RawLine) -> BatchLine:
    """Decide one line with the enforcer package `module`: always a `BatchLine`, never raises.

    Parsing is `mu decide`'s strict parser (duplicate keys, bounded depth and
    numbers, valid UTF-8); nothing that fails it reaches the enforcer. Any
    exception of the enforcer (a defect one transaction triggers) makes this
    line `ERROR` and leaves the lines after it alone.
    """
    if raw.refused:
        return BatchLine(raw.number, INVALID, error=raw.refused)
    if not raw.data.strip():
        return BatchLine(raw.number, INVALID, error=f"{_SOURCE} is blank, not a transaction")
    try:
        transaction = parse_transaction(raw.data, _SOURCE, one_line=True)
    except InputError as exc:
        return BatchLine(raw.number, INVALID, error=exc.message, problems=exc.problems)
    given = transaction.get("id")
    transaction_id = given if isinstance(given, str) else None
    try:
        # No trace: it would be most of every line and of the time (`mu decide TX` shows it).
        data = module.evaluate(transaction).to_dict(trace=False)
        outcome = data["outcome"]
    except module.InvalidTransaction as exc:
        problems = tuple(refusal_problems(exc))
        return BatchLine(
            raw.number,
            INVALID,
            transaction_id,
            error=f"the transaction is refused (fails closed): {len(problems)} problem(s)",
            problems=problems,
        )
    except module.EnforcementError as exc:
        return BatchLine(
            raw.number,
            ERROR,
            transaction_id,
            error=f"the enforcer could not decide: {shown(str(exc), 400)}",
        )
    except Exception as exc:
        return BatchLine(
            raw.number,
            ERROR,
            transaction_id,
            error=f"the enforcer failed: {type(exc).__name__}: {shown(str(exc), 400)}",
        )
    if outcome not in OUTCOMES[:3]:
        # Only a decision counts as one; anything else fails closed, never passes.
        return BatchLine(
            raw.number,
            ERROR,
            transaction_id,
            error=f"the enforcer returned the outcome `{shown(str(outcome))}`, not a decision",
        )
    decided_id = data.get("transaction_id")
    return BatchLine(
        raw.number,
        outcome,
        decided_id if isinstance(decided_id, str) and decided_id else transaction_id,
        data,
    )


def _read(stream: BinaryIO, size: int, name: str, after: int) -> bytes:
    try:
        return stream.readline(size)
    except OSError as exc:
        raise InputError(
            f"cannot read {name} after line {after}: {(exc.strerror or str(exc)).lower()}",
            hint=_FILE_HINT,
        ) from None


def _skip_line(stream: BinaryIO, name: str, number: int) -> int:
    """Read past the rest of line `number`; the bytes skipped, its newline not counted."""
    skipped = 0
    while True:
        data = _read(stream, _SKIP_BYTES, name, number - 1)
        if not data:
            return skipped
        if data.endswith(b"\n"):
            return skipped + len(data) - 1
        skipped += len(data)
