"""From a gate run to signed statements: build receipts and rejection receipts.

`receipt_predicate` and `receipt_payload` are shared by `mu build` and
`mu replay`: an auditor's replay recomputes exactly these bytes from the
snapshot and compares them. Each predicate is a typed value
(`generator.provenance.statement`) signed as canonical JSON of its `to_dict()`.
"""

from __future__ import annotations

from generator.build.gates import GateRun
from generator.compile.pipeline import Compiled
from generator.hashing import tree_digest
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
from generator.provenance.statement import (
    ApprovalRef,
    ApprovalsRecord,
    AttemptedOntology,
    BuiltOntology,
    ControlRecord,
    FailedCase,
    GoldenSummary,
    ReceiptPredicate,
    RejectionPredicate,
    ViolationRecord,
)
from generator.run.golden import GoldenReport


def golden_summary(report: GoldenReport) -> GoldenSummary:
    """The golden part of a predicate."""
    return GoldenSummary(report.suite_digest, report.passed, report.failed, report.total)


def built_ontology(compiled: Compiled, snapshot: SnapshotRef) -> BuiltOntology:
    """The ontology part of a receipt: semantic digest, source files, snapshot."""
    return BuiltOntology(
        digest=compiled.semantic_digest,
        files={s.path: s.sha256 for s in compiled.sources},
        snapshot=snapshot,
    )


def receipt_predicate(
    run: GateRun,
    generator: GeneratorId,
    snapshot: SnapshotRef,
    parent: StoredReceipt | None,
    sequence: int,
) -> ReceiptPredicate:
    """The predicate of a passing build: a pure function of its inputs."""
    assert run.compiled is not None and run.golden is not None
    compiled = run.compiled
    controls = {c.control_id: c.digest for c in compiled.ir.controls}
    return ReceiptPredicate(
        sequence=sequence,
        generator=generator,
        ontology=built_ontology(compiled, snapshot),
        golden=golden_summary(run.golden),
        gates={g.name: g.status for g in run.gates},
        controls={
            c.control_id: ControlRecord(c.digest, f"enforcers/{c.module_path}")
            for c in compiled.ir.controls
        },
        enforcers_sha256=tree_digest(compiled.files),
        parent=parent.digest if parent is not None else None,
        change=change_since(parent, controls),
        approvals=ApprovalsRecord(
            run.required_approvals,
            tuple(ApprovalRef(a.keyid, a.statement_digest) for a in run.approvals),
        )
        if run.required_approvals > 0
        else None,
    )


def receipt_statement(run: GateRun, predicate: ReceiptPredicate) -> bytes:
    """The canonical statement of a passing build: its A as subjects, and `predicate`."""
    assert run.compiled is not None
    return statement(subjects("enforcers", run.compiled.files), RECEIPT_TYPE, predicate.to_dict())


def receipt_payload(
    run: GateRun,
    generator: GeneratorId,
    snapshot: SnapshotRef,
    parent: StoredReceipt | None,
    sequence: int,
) -> bytes:
    """The canonical statement of a passing build: a pure function of its inputs."""
    return receipt_statement(run, receipt_predicate(run, generator, snapshot, parent, sequence))


def rejection_predicate(
    run: GateRun, generator: GeneratorId, parent: StoredReceipt | None
) -> RejectionPredicate:
    """The predicate of a failed build: what was attempted and why it failed."""
    violations = None
    if run.validation is not None and not run.validation.conforms:
        violations = tuple(
            ViolationRecord(v.focus, v.path, v.shape, v.message, v.file)
            for v in run.validation.violations
        )
    golden = failed_cases = None
    if run.golden is not None and not run.golden.ok:
        golden = golden_summary(run.golden)
        failed_cases = tuple(
            FailedCase(r.case_id, r.file, tuple(r.mismatches))
            for r in run.golden.results
            if not r.passed
        )
    return RejectionPredicate(
        generator=generator,
        ontology=AttemptedOntology(
            run.compiled.semantic_digest if run.compiled else None,
            {s.path: s.sha256 for s in run.sources},
        ),
        gates={g.name: g.status for g in run.gates},
        failed_gates=tuple(g.name for g in run.gates if not g.ok),
        context=parent.digest if parent is not None else None,
        violations=violations,
        golden=golden,
        failed_cases=failed_cases,
    )


def rejection_payload(run: GateRun, generator: GeneratorId, parent: StoredReceipt | None) -> bytes:
    """The canonical statement of a failed build: what was attempted and why it failed."""
    predicate = rejection_predicate(run, generator, parent)
    attempted = {s.path: s.data for s in run.sources}
    return statement(subjects("ontology", attempted), REJECTION_TYPE, predicate.to_dict())
