"""From a gate run to signed statements: build receipts and rejection receipts.

`receipt_predicate` and `receipt_statement` are shared by `mu build` and
`mu replay`: an auditor's replay recomputes exactly these bytes from the
snapshot and compares them. Each predicate is a typed value
(`generator.provenance.predicates`) signed as canonical JSON of its `to_dict()`.

What the trust root's policy decided (`generator.build.policy`) comes in as
values: the claims the statement is made under, the approvals and override
it counted, and the policy gates. A build passes what it just decided; a
replay passes what the receipt recorded (and gates rebuilt from a re-check),
so both compute the same bytes. Only each gate's status is signed, never its
detail text; what the coverage gate was held to (`[build] min_coverage`) and
found is signed as the predicate's `coverage` (`run.coverage`).
"""

from __future__ import annotations

from collections.abc import Sequence

from mu.generator.build.gates import GateRun
from mu.generator.compile.pipeline import Compiled
from mu.generator.hashing import tree_digest
from mu.generator.provenance.claims import MadeUnder
from mu.generator.provenance.identity import GeneratorId
from mu.generator.provenance.predicates import (
    ApprovalsRecord,
    AttemptedOntology,
    BuiltOntology,
    ControlRecord,
    FailedCase,
    GoldenSummary,
    OverrideRecord,
    ReceiptPredicate,
    RejectionPredicate,
    ViolationRecord,
)
from mu.generator.provenance.receipt import (
    RECEIPT_TYPE,
    REJECTION_TYPE,
    StoredReceipt,
    change_since,
    statement,
    subjects,
)
from mu.generator.provenance.snapshot import SnapshotRef
from mu.generator.provenance.verdict import Check, Status
from mu.generator.run.golden import GoldenReport


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


def gate_statuses(run: GateRun, policy_gates: Sequence[Check] = ()) -> dict[str, Status]:
    """Every gate's status: the run's (ontology, golden, determinism) and the policy's
    (approvals, override). A name is never recorded twice."""
    statuses: dict[str, Status] = {}
    for gate in (*run.gates, *policy_gates):
        if gate.name in statuses:
            raise ValueError(f"gate `{gate.name}` given twice")
        statuses[gate.name] = gate.status
    return statuses


def receipt_predicate(
    run: GateRun,
    generator: GeneratorId,
    snapshot: SnapshotRef,
    parent: StoredReceipt | None,
    sequence: int,
    *,
    made: MadeUnder | None,
    approvals: ApprovalsRecord | None,
    override: OverrideRecord | None,
    policy_gates: Sequence[Check],
) -> ReceiptPredicate:
    """The predicate of a passing build: a pure function of its inputs.

    `made` (repository, trust-root version, `signedAt` claim), `approvals` and
    `override` are recorded as given; `policy_gates` join the run's gates by
    status. None for `made` or `approvals` only reproduces a receipt made
    before trust roots.
    """
    assert run.compiled is not None and run.golden is not None
    compiled = run.compiled
    controls = {c.control_id: c.digest for c in compiled.ir.controls}
    return ReceiptPredicate(
        sequence=sequence,
        generator=generator,
        ontology=built_ontology(compiled, snapshot),
        golden=golden_summary(run.golden),
        gates=gate_statuses(run, policy_gates),
        controls={
            c.control_id: ControlRecord(c.digest, f"enforcers/{c.module_path}")
            for c in compiled.ir.controls
        },
        enforcers_sha256=tree_digest(compiled.files),
        parent=parent.digest if parent is not None else None,
        change=change_since(parent, controls),
        approvals=approvals,
        override=override,
        made=made,
        coverage=run.coverage,
    )


def receipt_statement(run: GateRun, predicate: ReceiptPredicate) -> bytes:
    """The canonical statement of a passing build: its A as subjects, and `predicate`."""
    assert run.compiled is not None
    return statement(subjects("enforcers", run.compiled.files), RECEIPT_TYPE, predicate.to_dict())


def rejection_predicate(
    run: GateRun,
    generator: GeneratorId,
    parent: StoredReceipt | None,
    *,
    made: MadeUnder,
    policy_gates: Sequence[Check] = (),
    overridable: bool,
) -> RejectionPredicate:
    """The predicate of a failed build: what was attempted, why it failed, and that the
    line stops until compliance overrides it (`overridable`: whether an override can)."""
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
    gates = gate_statuses(run, policy_gates)
    return RejectionPredicate(
        generator=generator,
        ontology=AttemptedOntology(run.digest, {s.path: s.sha256 for s in run.sources}),
        gates=gates,
        failed_gates=tuple(name for name, status in gates.items() if status != "PASS"),
        context=parent.digest if parent is not None else None,
        violations=violations,
        golden=golden,
        failed_cases=failed_cases,
        override_required=True,
        overridable=overridable,
        made=made,
        coverage=run.coverage,
    )


def rejection_payload(
    run: GateRun,
    generator: GeneratorId,
    parent: StoredReceipt | None,
    *,
    made: MadeUnder,
    policy_gates: Sequence[Check] = (),
    overridable: bool,
) -> bytes:
    """The canonical statement of a failed build: what was attempted and why it failed."""
    predicate = rejection_predicate(
        run, generator, parent, made=made, policy_gates=policy_gates, overridable=overridable
    )
    attempted = {s.path: s.data for s in run.sources}
    return statement(subjects("ontology", attempted), REJECTION_TYPE, predicate.to_dict())
