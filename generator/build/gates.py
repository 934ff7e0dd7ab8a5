"""The gates of a build — ontology, golden, coverage, reference, determinism — run
without writing.

`mu build` runs them before it writes anything; `mu replay` runs them on a
snapshot to recompute a receipt. Nothing here touches the repository, and
nothing here knows the trust root's policy: the approvals and override gates
of a trusted build are `generator.build.policy`'s. `waived` (the violations a
verified override names) is the only way policy reaches these gates.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from mu.generator.build.coverage import coverage_gate, coverage_record
from mu.generator.build.crosscheck import CrossCheck, cross_check, reference_gate
from mu.generator.cache import NO_CACHE, Cache
from mu.generator.child import CHILD_CWD, child_env, module_command
from mu.generator.compile import regen
from mu.generator.compile.load import SourceFile
from mu.generator.compile.pipeline import Compiled, ValidationFailed, compile_ontology
from mu.generator.compile.validate import ValidationReport, ViolationKey
from mu.generator.config import Percent, load_config
from mu.generator.files import compare_trees
from mu.generator.layout import Layout
from mu.generator.progress import Progress, Step, silent
from mu.generator.provenance.predicates import CoverageRecord
from mu.generator.provenance.verdict import Check
from mu.generator.run.golden import GoldenReport, load_suite, run_suite
from mu.generator.run.packages import imported

# A seed the parent process almost surely does not use (it runs randomised).
DETERMINISM_SEED = "20261123"
# The second compile does the same work as the first; far longer means it hangs.
DETERMINISM_TIMEOUT = 1800


@dataclass(frozen=True)
class GateRun:
    """Every gate's verdict, and what each stage produced when it ran."""

    gates: tuple[Check, ...]
    sources: tuple[SourceFile, ...]
    validation: ValidationReport | None
    compiled: Compiled | None
    golden: GoldenReport | None
    # The semantic digest of the ontology attempted (None when it could not be read).
    digest: str | None = None
    waived: frozenset[ViolationKey] = frozenset()  # what the run was asked to let through
    # The coverage the run required (`[build] min_coverage`) and found; None before golden.
    coverage: CoverageRecord | None = None

    @property
    def ok(self) -> bool:
        """True when every gate passed."""
        return all(g.ok for g in self.gates)

    @property
    def ontology_failed(self) -> bool:
        """True when O ⊭ Σ (or a condition does not compile): nothing was compiled."""
        return self.compiled is None and self.validation is not None


def run_golden(
    files: Mapping[str, bytes], golden_dir: Path, progress: Progress = silent
) -> GoldenReport:
    """Import the rendered package `files` from memory and run the whole suite against it."""
    suite = load_suite(golden_dir)
    with imported((files,), "golden") as (package,):
        return run_suite(package, suite, suite.cases, progress)


@dataclass(frozen=True)
class Tested:
    """The golden run of a rendered package, and its cross-check with the reference."""

    golden: GoldenReport
    reference: CrossCheck


def check_package(
    compiled: Compiled, golden_dir: Path, progress: Progress = silent
) -> Tested:
    """Import `compiled`'s package once from memory; run the golden suite against it, then
    decide golden and boundary cases with it and with the reference (`build.crosscheck`)."""
    suite = load_suite(golden_dir)
    with imported((compiled.files,), "golden") as (package,):
        golden = run_suite(package, suite, suite.cases, progress)
        progress(Step("reference"))
        return Tested(golden, cross_check(package, compiled.ontology, suite.cases))


class _Drain:
    """Reads a pipe to its end on a thread, so the child never blocks on a full pipe."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        # The read releases the GIL while it waits: it costs this process's compile nothing.
        while chunk := os.read(self._pipe.fileno(), 1 << 20):
            self._chunks.append(chunk)

    def result(self) -> bytes:
        """Everything the pipe carried (once: later calls give b""); call once the writer
        has exited."""
        self._thread.join()
        self._pipe.close()
        data, self._chunks = b"".join(self._chunks), []
        return data


def judge(expected: Compiled, returncode: int, stdout: bytes, stderr: bytes) -> Check:
    """The determinism verdict on what the second compile sent back (`compile.regen`):
    the same semantic digest and every file byte-identical, none missing, none extra."""
    if returncode != 0:
        detail = stderr.decode("utf-8", "replace").strip()
        return Check("determinism", "FAIL", f"second compile failed: {detail}")
    try:
        second = regen.decode(stdout)
    except ValueError:
        return Check("determinism", "FAIL", "the second compile gave no digest")
    if second.semantic_digest != expected.semantic_digest:
        return Check("determinism", "FAIL", "the ontology digest differs between processes")
    diff = compare_trees(expected.files, second.files)
    if not diff.clean:
        paths = ", ".join((*diff.changed, *diff.added, *diff.removed))
        return Check("determinism", "FAIL", f"files differ between processes: {paths}")
    return Check(
        "determinism", "PASS", f"{len(expected.files)} files byte-identical across processes"
    )


class SecondCompile:
    """The determinism gate's second compile, running from the moment it is made.

    An isolated child of this installation (`generator.child`), under another
    hash seed, waiving the same violations as the first compile; it runs on
    the other core while this process compiles and runs the golden suite.
    Leaving the `with` block kills it if it is still running, whatever the way
    out (a failed first compile, an error, KeyboardInterrupt, SIGTERM's
    SystemExit), and reaps it: no orphan compiles on.
    """

    def __init__(self, ontology_dir: Path, waived: frozenset[ViolationKey]) -> None:
        keys = json.dumps([[k.shape, k.focus] for k in sorted(waived)])
        self._deadline = time.monotonic() + DETERMINISM_TIMEOUT
        self._process = subprocess.Popen(
            module_command("mu.generator.compile.regen", ontology_dir, keys),
            env=child_env({"PYTHONHASHSEED": DETERMINISM_SEED}),
            cwd=CHILD_CWD,
            # Never written: the child exits when it reads end of file, i.e. when this
            # process is gone (even SIGKILLed, which runs no `with` block) or stops it.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._stdout = _Drain(self._process.stdout)
        self._stderr = _Drain(self._process.stderr)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    def __enter__(self) -> SecondCompile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Kill the child unless it has exited, reap it, and drop what it sent."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._stdout.result()
        self._stderr.result()

    def check(self, expected: Compiled) -> Check:
        """Wait for the child (within `DETERMINISM_TIMEOUT` of its start) and `judge` it."""
        remaining = max(0.0, self._deadline - time.monotonic())
        try:
            returncode = self._process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            self.stop()
            return Check("determinism", "FAIL", "the second compile did not finish in time")
        return judge(expected, returncode, self._stdout.result(), self._stderr.result())


def determinism_check(
    ontology_dir: Path, expected: Compiled, waived: frozenset[ViolationKey] = frozenset()
) -> Check:
    """Recompile in a fresh process under another hash seed; compare every byte."""
    with SecondCompile(ontology_dir, waived) as second:
        return second.check(expected)


class ShapeAtFocus(Protocol):
    """A violation key: `compile.validate.ViolationKey`, or an override's `kinds.ViolationKey`."""

    @property
    def shape(self) -> str: ...

    @property
    def focus(self) -> str: ...


def run_gates(
    layout: Layout,
    *,
    waived: Iterable[ShapeAtFocus] = frozenset(),
    progress: Progress = silent,
    min_coverage: Percent | None = None,
    cache: Cache = NO_CACHE,
) -> GateRun:
    """Validate, compile, test and re-check determinism; write nothing; tell `progress`.

    `waived` names violations of the organisation's shapes that a verified
    override lets through (`generator.build.policy`, or a replay from what the
    receipt's override statements name); the ontology gate then passes with
    the waived violations still in `validation`. `min_coverage` is the percent
    of controls the golden suite must cover: None reads `[build] min_coverage`
    of the repository's `mu.toml` (`InputError` before any gate when it is
    malformed); a replay passes what the receipt recorded. `cache` may spare this
    process's work, never change a verdict (the determinism gate's second compile never
    reads it).
    """
    keys = frozenset(ViolationKey(k.shape, k.focus) for k in waived)
    required = load_config(layout).build.min_coverage if min_coverage is None else min_coverage
    # Started first, so it compiles on the other core while this process compiles and
    # tests; the `with` kills it on every way out before its verdict is taken.
    with SecondCompile(layout.ontology, keys) as second:
        try:
            compiled = compile_ontology(
                layout.ontology, waived=keys, progress=progress, cache=cache
            )
        except ValidationFailed as exc:
            count = len(exc.report.violations)
            gate = Check("ontology", "FAIL", f"{count} violation(s)")
            return GateRun((gate,), exc.sources, exc.report, None, None, exc.digest, keys)
        controls = len(compiled.ontology.controls)
        detail = f"O ⊨ Σ ({controls} controls)"
        if compiled.waived:
            waived_count = len(compiled.waived)
            detail = f"O ⊨ Σ but for {waived_count} waived violation(s) ({controls} controls)"
        gates = [Check("ontology", "PASS", detail)]
        tested = check_package(compiled, layout.golden, progress)
        golden = tested.golden
        detail = f"{golden.passed}/{golden.total} cases, coverage {golden.coverage_percent:.0f}%"
        gates.append(Check.of("golden", golden.ok, detail))
        coverage = coverage_record(golden, required)
        gates.append(coverage_gate(coverage))
        gates.append(reference_gate(tested.reference))
        progress(Step("determinism"))
        gates.append(second.check(compiled))
    return GateRun(
        tuple(gates),
        compiled.sources,
        compiled.checked.report,
        compiled,
        golden,
        compiled.semantic_digest,
        keys,
        coverage,
    )

