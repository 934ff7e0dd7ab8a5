"""The gates of a build — ontology, golden, determinism — run without writing.

`mu build` runs them before it writes anything; `mu replay` runs them on a
snapshot to recompute a receipt. Nothing here touches the repository, and
nothing here knows the trust root's policy: the approvals and override gates
of a trusted build are `generator.build.policy`'s. `waived` (the violations a
verified override names) is the only way policy reaches these gates.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mu.generator.child import child_env, module_command
from mu.generator.compile.load import SourceFile
from mu.generator.compile.pipeline import Compiled, ValidationFailed, compile_ontology
from mu.generator.compile.validate import ValidationReport, ViolationKey
from mu.generator.files import compare_trees, read_tree, write_tree_atomic
from mu.generator.layout import Layout
from mu.generator.progress import Progress, Step, silent
from mu.generator.provenance.verdict import Check
from mu.generator.run.enforcers import load_enforcers
from mu.generator.run.golden import GoldenReport, load_suite, run_suite

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

    @property
    def ok(self) -> bool:
        """True when every gate passed."""
        return all(g.ok for g in self.gates)

    @property
    def ontology_failed(self) -> bool:
        """True when O ⊭ Σ (or a condition does not compile): nothing was compiled."""
        return self.compiled is None and self.validation is not None


def run_golden(
    files: dict[str, bytes], golden_dir: Path, progress: Progress = silent
) -> GoldenReport:
    """Write `files` to a scratch directory, import it, and run the whole suite."""
    suite = load_suite(golden_dir)
    with tempfile.TemporaryDirectory(prefix="mu-golden-") as scratch:
        target = Path(scratch) / "enforcers"
        write_tree_atomic(target, files)
        return run_suite(load_enforcers(target), suite, suite.cases, progress)


def _second_compile(
    ontology_dir: Path, out: Path, scratch: str, waived: frozenset[ViolationKey]
) -> subprocess.CompletedProcess[str]:
    """Compile again in an isolated child of this installation (`generator.child`),
    waiving the same violations as the first compile."""
    keys = json.dumps([[k.shape, k.focus] for k in sorted(waived)])
    command = module_command("mu.generator.compile.regen", ontology_dir, out, keys)
    return subprocess.run(
        command,
        env=child_env({"PYTHONHASHSEED": DETERMINISM_SEED}),
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
        timeout=DETERMINISM_TIMEOUT,
    )


def determinism_check(
    ontology_dir: Path, expected: Compiled, waived: frozenset[ViolationKey] = frozenset()
) -> Check:
    """Recompile in a fresh process under another hash seed; compare every byte."""
    with tempfile.TemporaryDirectory(prefix="mu-regen-") as scratch:
        out = Path(scratch) / "enforcers"
        try:
            proc = _second_compile(ontology_dir, out, scratch, waived)
        except subprocess.TimeoutExpired:
            return Check("determinism", "FAIL", "the second compile did not finish in time")
        if proc.returncode != 0:
            return Check("determinism", "FAIL", f"second compile failed: {proc.stderr.strip()}")
        try:
            digest = json.loads(proc.stdout)["semantic_digest"]
        except (ValueError, KeyError, TypeError):
            return Check("determinism", "FAIL", "the second compile gave no digest")
        diff = compare_trees(expected.files, read_tree(out))
    if digest != expected.semantic_digest:
        return Check("determinism", "FAIL", "the ontology digest differs between processes")
    if not diff.clean:
        paths = ", ".join((*diff.changed, *diff.added, *diff.removed))
        return Check("determinism", "FAIL", f"files differ between processes: {paths}")
    return Check(
        "determinism", "PASS", f"{len(expected.files)} files byte-identical across processes"
    )


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
) -> GateRun:
    """Validate, compile, test and re-check determinism; write nothing; tell `progress`.

    `waived` names violations of the organisation's shapes that a verified
    override lets through (`generator.build.policy`, or a replay from what the
    receipt's override statements name); the ontology gate then passes with
    the waived violations still in `validation`.
    """
    keys = frozenset(ViolationKey(k.shape, k.focus) for k in waived)
    try:
        compiled = compile_ontology(layout.ontology, waived=keys, progress=progress)
    except ValidationFailed as exc:
        count = len(exc.report.violations)
        gate = Check("ontology", "FAIL", f"{count} violation(s)")
        return GateRun((gate,), exc.sources, exc.report, None, None, exc.digest, keys)
    controls = len(compiled.ontology.controls)
    detail = f"O ⊨ Σ ({controls} controls)"
    if compiled.waived:
        detail = f"O ⊨ Σ but for {len(compiled.waived)} waived violation(s) ({controls} controls)"
    gates = [Check("ontology", "PASS", detail)]
    golden = run_golden(compiled.files, layout.golden, progress)
    detail = f"{golden.passed}/{golden.total} cases, coverage {golden.coverage_percent:.0f}%"
    gates.append(Check.of("golden", golden.ok, detail))
    progress(Step("determinism"))
    gates.append(determinism_check(layout.ontology, compiled, keys))
    return GateRun(
        tuple(gates),
        compiled.sources,
        compiled.checked.report,
        compiled,
        golden,
        compiled.semantic_digest,
        keys,
    )

