"""The gates of a build — ontology, golden, determinism — run without writing.

`mu build` runs them before it writes anything; `mu replay` runs them on a
snapshot to recompute a receipt. Nothing here touches the repository.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator.child import child_env, module_command
from generator.compile.load import SourceFile
from generator.compile.pipeline import Compiled, ValidationFailed, compile_ontology
from generator.compile.validate import ValidationReport
from generator.files import compare_trees, read_tree, write_tree_atomic
from generator.layout import Layout
from generator.provenance.approvals import Approval, valid_approvals
from generator.provenance.verdict import Check
from generator.run.enforcers import load_enforcers
from generator.run.golden import GoldenReport, load_suite, run_suite

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
    required_approvals: int = 0
    approvals: tuple[Approval, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every gate passed."""
        return all(g.ok for g in self.gates)


def run_golden(files: dict[str, bytes], golden_dir: Path) -> GoldenReport:
    """Write `files` to a scratch directory, import it, and run the whole suite."""
    suite = load_suite(golden_dir)
    with tempfile.TemporaryDirectory(prefix="mu-golden-") as scratch:
        target = Path(scratch) / "enforcers"
        write_tree_atomic(target, files)
        return run_suite(load_enforcers(target), suite, suite.cases)


def _second_compile(
    ontology_dir: Path, out: Path, scratch: str
) -> subprocess.CompletedProcess[str]:
    """Compile again in an isolated child of this installation (`generator.child`)."""
    return subprocess.run(
        module_command("generator.compile.regen", ontology_dir, out),
        env=child_env({"PYTHONHASHSEED": DETERMINISM_SEED}),
        cwd=scratch,
        capture_output=True,
        text=True,
        check=False,
        timeout=DETERMINISM_TIMEOUT,
    )


def determinism_check(ontology_dir: Path, expected: Compiled) -> Check:
    """Recompile in a fresh process under another hash seed; compare every byte."""
    with tempfile.TemporaryDirectory(prefix="mu-regen-") as scratch:
        out = Path(scratch) / "enforcers"
        try:
            proc = _second_compile(ontology_dir, out, scratch)
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


def approvals_gate(
    repo: Layout, compiled: Compiled, required: int
) -> tuple[Check, tuple[Approval, ...]]:
    """At least `required` distinct compliance keys approved exactly this ontology."""
    approvals = valid_approvals(repo, compiled.semantic_digest)
    names = ", ".join(a.name for a in approvals) or "none"
    detail = f"{len(approvals)}/{required} compliance approvals of this ontology ({names})"
    return Check.of("approvals", len(approvals) >= required, detail), approvals


def run_gates(
    layout: Layout, *, required_approvals: int = 0, approvals_from: Layout | None = None
) -> GateRun:
    """Validate, (check approvals,) compile, test and re-check determinism; write nothing.

    Approvals are read from `approvals_from` (default: `layout`), because a
    replay runs the gates on an extracted snapshot but the approvals live in
    the repository's `receipts/approvals/`.
    """
    try:
        compiled = compile_ontology(layout.ontology)
    except ValidationFailed as exc:
        count = len(exc.report.violations)
        gate = Check("ontology", "FAIL", f"{count} violation(s)")
        return GateRun((gate,), exc.sources, exc.report, None, None, required_approvals)
    gates = [Check("ontology", "PASS", f"O ⊨ Σ ({len(compiled.ontology.controls)} controls)")]
    approvals: tuple[Approval, ...] = ()
    if required_approvals > 0:
        gate, approvals = approvals_gate(approvals_from or layout, compiled, required_approvals)
        gates.append(gate)
    golden = run_golden(compiled.files, layout.golden)
    detail = f"{golden.passed}/{golden.total} cases, coverage {golden.coverage_percent:.0f}%"
    gates.append(Check.of("golden", golden.ok, detail))
    gates.append(determinism_check(layout.ontology, compiled))
    return GateRun(
        tuple(gates),
        compiled.sources,
        compiled.checked.report,
        compiled,
        golden,
        required_approvals,
        approvals,
    )
