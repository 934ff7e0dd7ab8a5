"""From a gate run to signed statements: build receipts and rejection receipts.

`receipt_payload` is shared by `mu build` and `mu replay`: an auditor's replay
recomputes exactly these bytes from the snapshot and compares them.
"""

from __future__ import annotations

from typing import Any

from generator.build.gates import GateRun
from generator.run.golden import GoldenReport
from generator.hashing import tree_digest
from generator.compile.pipeline import Compiled
from generator.provenance.identity import GeneratorId
from generator.provenance.receipt import (
    RECEIPT_TYPE,
    REJECTION_TYPE,
    StoredReceipt,
    change_since,
    statement,
    subjects,
)
from generator.provenance.snapshot import SnapshotRef


def golden_summary(report: GoldenReport) -> dict[str, Any]:
    """The golden part of a predicate."""
    return {
        "sha256": report.suite_digest,
        "passed": report.passed,
        "failed": report.failed,
        "total": report.total,
    }


def ontology_part(compiled: Compiled, snapshot: SnapshotRef | None) -> dict[str, Any]:
    """The ontology part of a predicate: semantic digest, source files, snapshot."""
    part: dict[str, Any] = {
        "digest": compiled.semantic_digest,
        "canonicalization": "RDFC-1.0",
        "files": {s.path: s.sha256 for s in compiled.sources},
    }
    if snapshot is not None:
        part["snapshot"] = snapshot.to_dict()
    return part


def receipt_payload(
    run: GateRun,
    generator: GeneratorId,
    snapshot: SnapshotRef,
    parent: StoredReceipt | None,
    sequence: int,
) -> bytes:
    """The canonical statement of a passing build: a pure function of its inputs."""
    assert run.compiled is not None and run.golden is not None
    compiled = run.compiled
    controls = {c.control_id: c.digest for c in compiled.ir.controls}
    predicate = {
        "sequence": sequence,
        "generator": generator.to_dict(),
        "ontology": ontology_part(compiled, snapshot),
        "golden": golden_summary(run.golden),
        "gates": {g.name: g.status for g in run.gates},
        "controls": {
            c.control_id: {"digest": c.digest, "module": f"enforcers/{c.module_path}"}
            for c in compiled.ir.controls
        },
        "enforcers": {"sha256": tree_digest(compiled.files)},
        "parent": parent.digest if parent is not None else None,
        "change": change_since(parent, controls),
    }
    if run.required_approvals > 0:
        predicate["approvals"] = {
            "required": run.required_approvals,
            "by": [a.to_dict() for a in run.approvals],
        }
    return statement(subjects("enforcers", compiled.files), RECEIPT_TYPE, predicate)


def rejection_payload(run: GateRun, generator: GeneratorId, parent: StoredReceipt | None) -> bytes:
    """The canonical statement of a failed build: what was attempted and why it failed."""
    sources = run.sources
    failed = [g.name for g in run.gates if g.status == "FAIL"]
    predicate: dict[str, Any] = {
        "generator": generator.to_dict(),
        "ontology": {
            "digest": run.compiled.semantic_digest if run.compiled else None,
            "files": {s.path: s.sha256 for s in sources},
        },
        "gates": {g.name: g.status for g in run.gates},
        "failed_gates": failed,
        "context": parent.digest if parent is not None else None,
    }
    if run.validation is not None and not run.validation.conforms:
        predicate["violations"] = [
            {
                "focus": v.focus,
                "path": v.path,
                "shape": v.shape,
                "message": v.message,
                "file": v.file,
            }
            for v in run.validation.violations
        ]
    if run.golden is not None and not run.golden.ok:
        predicate["golden"] = golden_summary(run.golden)
        predicate["failed_cases"] = [
            {"id": r.case_id, "file": r.file, "mismatches": list(r.mismatches)}
            for r in run.golden.results
            if not r.passed
        ]
    attempted = {s.path: s.data for s in sources}
    return statement(subjects("ontology", attempted), REJECTION_TYPE, predicate)
