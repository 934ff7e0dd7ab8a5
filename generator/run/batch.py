"""`mu decide --batch`: one decision per line of a JSON Lines file, in input order.

Every input line yields exactly one result, in input order: a decision, or
`INVALID` (the line is not a valid transaction) or `ERROR` (the enforcer could
not decide it) with its problems and its line number. A bad line is never
skipped. Memory does not grow with the input: lines are read one at a time
with a per-line bound (`batchread`), and with several workers at most
`2 × jobs` chunks of lines are in flight (`batchpool`).

With `jobs > 1`, past the first `LOCAL_CHUNKS` chunks' worth of lines, a pool
of worker processes decides chunks of lines, and renders them too: the parent
only reads lines and writes text.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from mu.generator.run import batchpool
from mu.generator.run.batchpool import CHUNK_LINES
from mu.generator.run.batchread import (
    ERROR,
    INVALID,
    OUTCOMES,
    BatchLine,
    RawLine,
    decide_line,
    opened,
    read_lines,
)
from mu.generator.run.decide import MAX_TRANSACTION_BYTES, shown
from mu.generator.run.enforcers import load_enforcers

__all__ = [
    "ERROR",
    "INVALID",
    "LINE_RENDERERS",
    "MAX_LISTED",
    "BatchLine",
    "BatchSummary",
    "RawLine",
    "RenderedLine",
    "Tally",
    "decide_batch",
    "decide_line",
    "default_jobs",
    "interrupted_text",
    "line_json",
    "line_text",
    "read_lines",
    "render_batch",
    "summary_text",
]

T = TypeVar("T")
# With workers, the first this many chunks' worth of lines are still decided
# here, each as it arrives: a short batch is over before a worker would have
# started (under spawn each imports the main module and the enforcer package,
# most of a second), and a long one hardly notices.
LOCAL_CHUNKS = 8
# The summary names at most this many failed lines (it must not grow with the file).
MAX_LISTED = 20


@dataclass(frozen=True)
class RenderedLine:
    """One input line's result as text (`render_batch`): what the tally needs, and `text`."""

    line: int
    outcome: str
    decided: bool
    text: str


@dataclass(frozen=True)
class BatchSummary:
    """What a batch decided: lines read, the count of every outcome, the lines that failed.

    `failed` counts INVALID and ERROR lines; `failed_lines` lists the first
    `MAX_LISTED` of their numbers.
    """

    lines: int
    counts: tuple[tuple[str, int], ...]
    failed: int
    failed_lines: tuple[int, ...]

    @property
    def ok(self) -> bool:
        """True when every line was decided (a REJECT is a decision, not a failure)."""
        return self.failed == 0


L = TypeVar("L", BatchLine, RenderedLine)


class Tally:
    """Counts outcomes as the lines stream past, in memory bounded by `MAX_LISTED`."""

    def __init__(self) -> None:
        self._counts = dict.fromkeys(OUTCOMES, 0)
        self._lines = 0
        self._failed = 0
        self._failed_lines: list[int] = []

    def add(self, line: L) -> L:
        """Count `line` and return it (so a loop can count and write in one step)."""
        self._lines += 1
        self._counts[line.outcome] = self._counts.get(line.outcome, 0) + 1
        if not line.decided:
            self._failed += 1
            if len(self._failed_lines) < MAX_LISTED:
                self._failed_lines.append(line.line)
        return line

    def summary(self) -> BatchSummary:
        """The counts so far."""
        return BatchSummary(
            self._lines, tuple(self._counts.items()), self._failed, tuple(self._failed_lines)
        )


def default_jobs() -> int:
    """One worker per CPU this process may run on (its affinity, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def decide_batch(
    source: Path,
    enforcers_dir: Path,
    jobs: int = 1,
    *,
    stdin: BinaryIO | None = None,
    max_line_bytes: int = MAX_TRANSACTION_BYTES,
    chunk_lines: int = CHUNK_LINES,
) -> Generator[BatchLine, None, None]:
    """Decide every line of the JSON Lines file `source` (`-`: `stdin`), in input order.

    An unloadable enforcer package or an unreadable file is an `InputError`,
    raised before the first line is yielded. `jobs` is the number of worker
    processes; 1 decides in this process. Close the generator when stopping
    early: that stops the workers.
    """
    return _batch(source, enforcers_dir, jobs, _as_is, stdin, max_line_bytes, chunk_lines)


def render_batch(
    source: Path,
    enforcers_dir: Path,
    jobs: int,
    render: Callable[[BatchLine], str],
    *,
    stdin: BinaryIO | None = None,
    max_line_bytes: int = MAX_TRANSACTION_BYTES,
    chunk_lines: int = CHUNK_LINES,
) -> Generator[RenderedLine, None, None]:
    """`decide_batch`, each line rendered by `render` where it was decided.

    Rendering a decision costs about as much as shipping it back from a
    worker, so the workers render and the parent only writes text: without
    this the parent, alone, would bound the throughput of any number of
    workers. `render` must be a module-level function (workers get it by name).
    """
    finish = functools.partial(_rendered, render)
    return _batch(source, enforcers_dir, jobs, finish, stdin, max_line_bytes, chunk_lines)


def _as_is(line: BatchLine) -> BatchLine:
    return line


def _rendered(render: Callable[[BatchLine], str], line: BatchLine) -> RenderedLine:
    return RenderedLine(line.line, line.outcome, line.decided, render(line))


def _batch(
    source: Path,
    enforcers_dir: Path,
    jobs: int,
    finish: Callable[[BatchLine], T],
    stdin: BinaryIO | None,
    max_line_bytes: int,
    chunk_lines: int,
) -> Generator[T, None, None]:
    module = load_enforcers(enforcers_dir)
    with opened(source, stdin) as (stream, name):
        lines = read_lines(stream, name, max_line_bytes)
        here = None if jobs <= 1 else LOCAL_CHUNKS * chunk_lines
        for raw in itertools.islice(lines, here):
            yield finish(decide_line(module, raw))
        rest = batchpool.chunks(lines, chunk_lines)
        first = next(rest, None)
        if first is not None:  # a pool only for a batch long enough to need one
            everything = itertools.chain((first,), rest)
            yield from batchpool.pooled(everything, enforcers_dir, module.__name__, jobs, finish)


# Rendering: one line of output per input line, and the closing summary.


def line_json(line: BatchLine) -> str:
    """`line` as one compact JSON object (JSON Lines), keys sorted."""
    return json.dumps(line.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def line_text(line: BatchLine) -> str:
    """`line` for a terminal: `line 3: REJECT tx-3 (approval_over_100k)`, or the problems."""
    head = f"line {line.line}: {line.outcome}"
    if line.transaction_id:
        head += f" {shown(line.transaction_id)}"
    if line.decision is not None:
        reasons = line.decision.get("reasons", ())
        controls = list(dict.fromkeys(str(r["control_id"]) for r in reasons))
        return f"{head} ({', '.join(controls)})" if controls else head
    details = "".join(f"; {p.where}: {p.message}" for p in line.problems)
    return f"{head}: {line.error}{details}"


LINE_RENDERERS: Mapping[str, Callable[[BatchLine], str]] = {"text": line_text, "json": line_json}


def summary_text(summary: BatchSummary) -> str:
    """The summary for standard error: the count of every outcome, then the failed lines."""
    counts = ", ".join(f"{count} {outcome}" for outcome, count in summary.counts)
    text = f"batch: {_plural(summary.lines, 'line')}: {counts}"
    if summary.ok:
        return text
    listed = ", ".join(str(n) for n in summary.failed_lines)
    more = summary.failed - len(summary.failed_lines)
    if more:
        listed += f" and {more} more"
    return (
        f"{text}\nerror: {_plural(summary.failed, 'line')} invalid or not decided: {listed}\n"
        "hint: each has its problems on standard output; fix them and send those lines again"
    )


def interrupted_text(summary: BatchSummary) -> str:
    """What standard error says when the user stopped a batch: the summary so far, and
    where to resume."""
    resume = summary.lines + 1
    return (
        f"{summary_text(summary)}\nerror: interrupted: lines from {resume} on were not decided\n"
        f"hint: send the lines from {resume} on again (`tail -n +{resume} FILE`)"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
