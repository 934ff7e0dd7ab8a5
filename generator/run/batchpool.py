"""The worker pool of `mu decide --batch --jobs N`: chunks of lines decided in order.

Workers are started with "spawn": they inherit no state (no threads, no open
files, no half-imported modules) from the parent, so the pool behaves the same
on every platform. Each imports the enforcer package once, by path, and checks
it is the very package (same digest) the parent loaded. At most `2 × jobs`
chunks are in flight; results come back in input order whatever order the
workers finish in. Only the parent stops a batch: workers ignore Ctrl-C, and
closing the generator (or an exception in the parent) shuts the pool down.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from mu.generator.errors import CheckFailed, InputError, MuError
from mu.generator.run.batchread import BatchLine, RawLine, decide_line
from mu.generator.run.enforcers import load_enforcers

T = TypeVar("T")
# A chunk is what one worker decides per round trip: large enough that the
# pickling and queueing cost is small beside the decisions, small enough that
# the first results come out early and the in-flight window stays small.
CHUNK_LINES = 256
CHUNK_BYTES = 1024 * 1024
# Chunks in flight per worker: one being decided and one queued behind it, so
# no worker waits for the parent, and memory does not grow with the input.
WINDOW_PER_JOB = 2


def chunks(lines: Iterable[RawLine], chunk_lines: int) -> Iterator[tuple[RawLine, ...]]:
    """`lines` in tuples of at most `chunk_lines` lines (fewer once `CHUNK_BYTES` is reached)."""
    chunk: list[RawLine] = []
    size = 0
    for raw in lines:
        chunk.append(raw)
        size += len(raw.data)
        if len(chunk) >= chunk_lines or size >= CHUNK_BYTES:
            yield tuple(chunk)
            chunk, size = [], 0
    if chunk:
        yield tuple(chunk)


def pooled(
    batches: Iterator[tuple[RawLine, ...]],
    enforcers_dir: Path,
    expected: str,
    jobs: int,
    finish: Callable[[BatchLine], T],
) -> Iterator[T]:
    """Decide the chunks `batches` on `jobs` worker processes; `finish` each line there.

    `expected` is the module name (digest-derived) of the package the parent
    loaded from `enforcers_dir`; a worker that loads anything else refuses to
    decide (`InputError`). `finish` must be picklable (a module-level function
    or a `functools.partial` of one). Results are yielded in input order. A
    worker that dies stops the batch with a `CheckFailed` naming the first
    line not decided.
    """
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(str(enforcers_dir.resolve()), expected),
    )
    # Chunks submitted and not yet yielded, oldest first. `Executor.map` would
    # submit the whole input at once; this window bounds memory and still
    # keeps every worker busy.
    pending: deque[tuple[int, Future[list[T]]]] = deque()
    try:
        for chunk in batches:
            with _interrupts_held():  # a worker may start in `submit`
                future = pool.submit(_decide_chunk, chunk, finish)
            pending.append((chunk[0].number, future))
            if len(pending) >= WINDOW_PER_JOB * jobs:
                yield from _collected(*pending.popleft())
        while pending:
            yield from _collected(*pending.popleft())
    finally:
        # Whatever ends the batch (the last line, a closed generator, Ctrl-C, an
        # error): chunks not started are dropped, running ones finish, workers exit.
        pool.shutdown(wait=True, cancel_futures=True)


class WorkerUnusable(Exception):
    """Raised in a worker that could not load the parent's enforcer package."""


# The enforcer package of this worker process, or why it has none.
_worker: ModuleType | str = "the worker process was not initialised"


def _start_worker(directory: str, expected: str) -> None:
    """Pool initializer: load the enforcer package once per worker process."""
    global _worker
    # Ctrl-C reaches the whole process group; only the parent stops the batch
    # (and shuts the pool down in order), so a worker never dies mid-chunk.
    # (Where SIGINT can be masked, it already is: see `_interrupts_held`.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        module = load_enforcers(Path(directory))
    except MuError as exc:
        _worker = exc.message
        return
    # The name holds the package's digest: a worker must not decide with other
    # bytes than the parent checked (a `mu generate` may replace them meanwhile).
    _worker = module if module.__name__ == expected else "the package changed on disk"


def _decide_chunk(chunk: tuple[RawLine, ...], finish: Callable[[BatchLine], T]) -> list[T]:
    """Decide (and `finish`) one chunk in a worker process."""
    if isinstance(_worker, str):
        raise WorkerUnusable(_worker)
    return [finish(decide_line(_worker, raw)) for raw in chunk]


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold back SIGINT in this thread meanwhile; one that arrives is delivered after.

    A worker process inherits the signal mask (it survives exec), so one
    started here never sees Ctrl-C, not even while it is still importing
    (before its initializer runs): the parent alone stops the batch, and
    shuts the pool down in order, with no traceback from a worker.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _collected(first_line: int, future: Future[list[T]]) -> list[T]:
    try:
        return future.result()
    except BrokenProcessPool:
        raise CheckFailed(
            f"a worker process stopped abruptly: line {first_line} and the lines after it "
            "were not decided",
            hint=f"send the lines from {first_line} on again (`tail -n +{first_line} FILE`), "
            "or run with `--jobs 1`; check the memory limit of the host",
        ) from None
    except WorkerUnusable as exc:
        raise InputError(
            f"a worker process cannot use the enforcer package: {exc}",
            hint="run the batch again once the package is no longer being regenerated",
        ) from None
