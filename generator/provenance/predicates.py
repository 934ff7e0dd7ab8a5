"""The predicates of receipts and rejections as typed values (SPEC §6, docs/RECEIPTS.md).

`ReceiptPredicate` and `RejectionPredicate` are frozen values with `to_dict`
and `from_dict`, as sigstore's `Bundle`: `attest.py` builds one and signs its
`to_dict()` (canonical JSON of exactly that dict is the payload a replay must
reproduce bit for bit); the receipt reader gives every consumer the typed
value, so nothing after the reader indexes a predicate by string key.

The shapes they are built from live in `statement.py`: `from_dict` runs its
structural check (`predicate_problems`) before typing anything, and
`typed_predicate` is given only statements `statement_problems` passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mu.generator.errors import CheckFailed, Problem
from mu.generator.provenance.claims import MadeUnder
from mu.generator.provenance.identity import GeneratorId
from mu.generator.provenance.snapshot import SnapshotRef
from mu.generator.provenance.statement import (
    CANONICALIZATION,
    MALFORMED_HINT,
    RECEIPT_TYPE,
    REJECTION_TYPE,
    describe,
    predicate_problems,
)
from mu.generator.provenance.verdict import STATUSES, Status

# --- the typed values ----------------------------------------------------------


@dataclass(frozen=True)
class GoldenSummary:
    """The golden suite a build ran: its sha256 and how many cases passed and failed."""

    sha256: str
    passed: int
    failed: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        """As recorded in a predicate."""
        return {
            "sha256": self.sha256,
            "passed": self.passed,
            "failed": self.failed,
            "total": self.total,
        }


@dataclass(frozen=True)
class CoverageRecord:
    """The golden coverage a build required and what it found.

    `required` is `[build] min_coverage` of `mu.toml` (percent; an integral value is an
    int), recorded so that a lowered bar is in the signed evidence and a replay holds
    the snapshot to the same bar. `uncovered` maps every control the suite does not
    cover on both sides of its rule to the side its cases miss (`never fires`, ...).
    """

    required: int | float
    covered: int
    controls: int
    uncovered: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """As recorded in a predicate."""
        return {
            "required": self.required,
            "covered": self.covered,
            "controls": self.controls,
            "uncovered": dict(sorted(self.uncovered.items())),
        }


@dataclass(frozen=True)
class BuiltOntology:
    """What a receipt records of O ∪ Σ: its semantic digest, every source file, the snapshot."""

    digest: str
    files: Mapping[str, str]  # path under `ontology/` → sha256
    snapshot: SnapshotRef
    canonicalization: str = CANONICALIZATION

    def to_dict(self) -> dict[str, Any]:
        """As recorded in a receipt."""
        return {
            "digest": self.digest,
            "canonicalization": self.canonicalization,
            "files": dict(self.files),
            "snapshot": self.snapshot.to_dict(),
        }


@dataclass(frozen=True)
class ControlRecord:
    """One control of a build: its digest and the module generated for it."""

    digest: str
    module: str  # `enforcers/controls/<id>.py`

    def to_dict(self) -> dict[str, str]:
        """As recorded in a receipt."""
        return {"digest": self.digest, "module": self.module}


@dataclass(frozen=True)
class Change:
    """Controls added, removed and changed (by digest) since the parent receipt, each sorted."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        """As recorded in a receipt."""
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
        }


@dataclass(frozen=True)
class ApprovalRef:
    """One signed statement a build counted (an approval or an override): by whom, which."""

    keyid: str
    statement: str
    identity: str | None = None  # None only in receipts made before trust roots

    def to_dict(self) -> dict[str, str]:
        """As recorded in a receipt."""
        out = {"keyid": self.keyid, "statement": self.statement}
        if self.identity is not None:
            out["identity"] = self.identity
        return out


@dataclass(frozen=True)
class OverrideRecord:
    """The override a build proceeded under: the rejection it lifts, and its signers."""

    rejection: str  # statement digest of the rejection receipt
    by: tuple[ApprovalRef, ...]

    def to_dict(self) -> dict[str, Any]:
        """As recorded in a receipt."""
        return {"rejection": self.rejection, "by": [a.to_dict() for a in self.by]}


@dataclass(frozen=True)
class ApprovalsRecord:
    """How many compliance approvals a build required, and which ones it counted."""

    required: int
    by: tuple[ApprovalRef, ...]

    def to_dict(self) -> dict[str, Any]:
        """As recorded in a receipt."""
        return {"required": self.required, "by": [a.to_dict() for a in self.by]}


@dataclass(frozen=True)
class ReceiptPredicate:
    """The predicate of a build receipt (`urn:mu:v1#Receipt`): one link of the chain."""

    sequence: int
    generator: GeneratorId
    ontology: BuiltOntology
    golden: GoldenSummary
    gates: Mapping[str, Status]
    controls: Mapping[str, ControlRecord]
    enforcers_sha256: str
    parent: str | None  # statement digest of the previous receipt; None for the first
    change: Change
    approvals: ApprovalsRecord | None = None  # None only in receipts made before trust roots
    override: OverrideRecord | None = None  # the override the build proceeded under
    made: MadeUnder | None = None  # None only in receipts made before trust roots
    coverage: CoverageRecord | None = None  # None only in receipts made before the gate

    def to_dict(self) -> dict[str, Any]:
        """The predicate exactly as signed: canonical JSON of this dict is the payload's."""
        out: dict[str, Any] = {
            "sequence": self.sequence,
            "generator": self.generator.to_dict(),
            "ontology": self.ontology.to_dict(),
            "golden": self.golden.to_dict(),
            "gates": dict(self.gates),
            "controls": {k: v.to_dict() for k, v in self.controls.items()},
            "enforcers": {"sha256": self.enforcers_sha256},
            "parent": self.parent,
            "change": self.change.to_dict(),
        }
        if self.approvals is not None:
            out["approvals"] = self.approvals.to_dict()
        if self.override is not None:
            out["override"] = self.override.to_dict()
        if self.coverage is not None:
            out["coverage"] = self.coverage.to_dict()
        if self.made is not None:
            out |= self.made.to_dict()
        return out

    @classmethod
    def from_dict(cls, value: object) -> ReceiptPredicate:
        """Type a receipt predicate; `CheckFailed` (exit 1) naming every malformed field."""
        return _checked(value, RECEIPT_TYPE, _receipt)

    def same_content(self, other: ReceiptPredicate) -> bool:
        """Whether both record the same build, wherever each sits in the chain."""
        return (
            self.generator == other.generator
            and self.ontology == other.ontology
            and self.golden == other.golden
            and dict(self.gates) == dict(other.gates)
            and dict(self.controls) == dict(other.controls)
            and self.enforcers_sha256 == other.enforcers_sha256
            and self.approvals == other.approvals
            and self.override == other.override
            and self.coverage == other.coverage
            and _where(self.made) == _where(other.made)
        )


@dataclass(frozen=True)
class AttemptedOntology:
    """What a rejection records of the ontology: its digest, if it got that far, and its files."""

    digest: str | None
    files: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """As recorded in a rejection."""
        return {"digest": self.digest, "files": dict(self.files)}


@dataclass(frozen=True)
class ViolationRecord:
    """One violated shape, as a rejection records it."""

    focus: str
    path: str | None
    shape: str
    message: str
    file: str | None

    def to_dict(self) -> dict[str, Any]:
        """As recorded in a rejection."""
        return {
            "focus": self.focus,
            "path": self.path,
            "shape": self.shape,
            "message": self.message,
            "file": self.file,
        }


@dataclass(frozen=True)
class FailedCase:
    """One golden case that failed, as a rejection records it."""

    case_id: str
    file: str
    mismatches: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """As recorded in a rejection."""
        return {"id": self.case_id, "file": self.file, "mismatches": list(self.mismatches)}


@dataclass(frozen=True)
class RejectionPredicate:
    """The predicate of a rejection receipt (`urn:mu:v1#Rejection`): what failed, and why.

    `violations` is present when validation failed, `golden` and
    `failed_cases` when the golden suite did; None leaves the field out.
    """

    generator: GeneratorId
    ontology: AttemptedOntology
    gates: Mapping[str, Status]  # the gates that ran, up to the failure
    failed_gates: tuple[str, ...]
    context: str | None  # statement digest of the newest receipt at the time
    violations: tuple[ViolationRecord, ...] | None = None
    golden: GoldenSummary | None = None
    failed_cases: tuple[FailedCase, ...] | None = None
    # The line stops: only a compliance override (or a changed ontology) goes on.
    # `overridable` says whether `mu approve --override` can lift this one (only
    # the organisation's own Σ can be overridden, never the vocabulary or golden).
    override_required: bool | None = None  # None only before trust roots
    overridable: bool | None = None
    made: MadeUnder | None = None
    coverage: CoverageRecord | None = None  # when the coverage gate ran

    def to_dict(self) -> dict[str, Any]:
        """The predicate exactly as signed."""
        out: dict[str, Any] = {
            "generator": self.generator.to_dict(),
            "ontology": self.ontology.to_dict(),
            "gates": dict(self.gates),
            "failed_gates": list(self.failed_gates),
            "context": self.context,
        }
        if self.violations is not None:
            out["violations"] = [v.to_dict() for v in self.violations]
        if self.golden is not None:
            out["golden"] = self.golden.to_dict()
        if self.failed_cases is not None:
            out["failed_cases"] = [c.to_dict() for c in self.failed_cases]
        if self.override_required is not None:
            out["compliance_override_required"] = self.override_required
        if self.overridable is not None:
            out["overridable"] = self.overridable
        if self.coverage is not None:
            out["coverage"] = self.coverage.to_dict()
        if self.made is not None:
            out |= self.made.to_dict()
        return out

    @classmethod
    def from_dict(cls, value: object) -> RejectionPredicate:
        """Type a rejection predicate; `CheckFailed` (exit 1) naming every malformed field."""
        return _checked(value, REJECTION_TYPE, _rejection)


Predicate = ReceiptPredicate | RejectionPredicate


def typed_predicate(statement: Mapping[str, Any]) -> Predicate | None:
    """The typed predicate of a statement `statement_problems` found no problem in.

    None for a kind mu does not read field by field (approvals, audits, ...).
    """
    kind = statement.get("predicateType")
    predicate = statement.get("predicate")
    if kind == RECEIPT_TYPE and isinstance(predicate, dict):
        return _receipt(predicate)
    if kind == REJECTION_TYPE and isinstance(predicate, dict):
        return _rejection(predicate)
    return None


# --- from checked dicts to typed values ----------------------------------------

_T = TypeVar("_T")


def _checked(value: object, kind: str, build: Callable[[dict[str, Any]], _T]) -> _T:
    out: list[Problem] = []
    predicate_problems(value, kind, out)
    if out or not isinstance(value, dict):
        problems = tuple(out)
        raise CheckFailed(describe(problems), hint=MALFORMED_HINT, problems=problems)
    return build(value)


def _generator(d: Mapping[str, Any]) -> GeneratorId:
    return GeneratorId(d["name"], d["version"], d["source_sha256"])


def _golden(d: Mapping[str, Any]) -> GoldenSummary:
    return GoldenSummary(d["sha256"], d["passed"], d["failed"], d["total"])


def _gates(d: Mapping[str, Any]) -> dict[str, Status]:
    # Only a receipt's named gates are checked; a later mu's extra ones are kept if typed.
    return {k: v for k, v in d.items() if v in STATUSES}


def _covered(d: Mapping[str, Any] | None) -> CoverageRecord | None:
    if d is None:
        return None
    return CoverageRecord(d["required"], d["covered"], d["controls"], dict(d["uncovered"]))


def _where(made: MadeUnder | None) -> tuple[str, object] | None:
    # The signing time is a claim about the signature, not about the build.
    return (made.repository, made.trust_root) if made is not None else None


def _refs(entries: list[dict[str, Any]]) -> tuple[ApprovalRef, ...]:
    return tuple(ApprovalRef(a["keyid"], a["statement"], a.get("identity")) for a in entries)


def _receipt(d: Mapping[str, Any]) -> ReceiptPredicate:
    ontology, snapshot = d["ontology"], d["ontology"]["snapshot"]
    approvals, override = d.get("approvals"), d.get("override")
    return ReceiptPredicate(
        sequence=d["sequence"],
        generator=_generator(d["generator"]),
        ontology=BuiltOntology(
            digest=ontology["digest"],
            files=dict(ontology["files"]),
            snapshot=SnapshotRef(snapshot["path"], snapshot["sha256"]),
            canonicalization=ontology["canonicalization"],
        ),
        golden=_golden(d["golden"]),
        gates=_gates(d["gates"]),
        controls={k: ControlRecord(v["digest"], v["module"]) for k, v in d["controls"].items()},
        enforcers_sha256=d["enforcers"]["sha256"],
        parent=d["parent"],
        change=Change(
            tuple(d["change"]["added"]),
            tuple(d["change"]["removed"]),
            tuple(d["change"]["changed"]),
        ),
        approvals=None
        if approvals is None
        else ApprovalsRecord(approvals["required"], _refs(approvals["by"])),
        override=None
        if override is None
        else OverrideRecord(override["rejection"], _refs(override["by"])),
        made=MadeUnder.from_predicate(d),
        coverage=_covered(d.get("coverage")),
    )


def _rejection(d: Mapping[str, Any]) -> RejectionPredicate:
    violations, golden, failed = d.get("violations"), d.get("golden"), d.get("failed_cases")
    return RejectionPredicate(
        generator=_generator(d["generator"]),
        ontology=AttemptedOntology(d["ontology"]["digest"], dict(d["ontology"]["files"])),
        gates=_gates(d["gates"]),
        failed_gates=tuple(d["failed_gates"]),
        context=d["context"],
        violations=None
        if violations is None
        else tuple(
            ViolationRecord(v["focus"], v["path"], v["shape"], v["message"], v["file"])
            for v in violations
        ),
        golden=None if golden is None else _golden(golden),
        failed_cases=None
        if failed is None
        else tuple(FailedCase(c["id"], c["file"], tuple(c["mismatches"])) for c in failed),
        override_required=d.get("compliance_override_required"),
        overridable=d.get("overridable"),
        made=MadeUnder.from_predicate(d),
        coverage=_covered(d.get("coverage")),
    )
