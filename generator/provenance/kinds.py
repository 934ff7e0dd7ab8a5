"""The statement kinds besides receipts and rejections, typed, and the role each needs.

`mu verify-receipt` checks every kind against its own role of the trust root
(SPEC §9): a build receipt, a rejection and an upgrade receipt are the
release role's; an approval and an override, compliance's; an audit, the
auditor's; a decision-log checkpoint, the runtime's (the decision service's
key, `generator.decisionlog`); a trust-root version, the root's. The shapes
live in `statement.py` with the others; the typed values here are read only
after `statement_problems` found none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mu.generator.compile.validate import ViolationKey
from mu.generator.provenance.claims import MadeUnder
from mu.generator.provenance.identity import GeneratorId
from mu.generator.provenance.statement import (
    APPROVAL_TYPE,
    AUDIT_TYPE,
    CHECKPOINT_TYPE,
    OVERRIDE_TYPE,
    RECEIPT_TYPE,
    REJECTION_TYPE,
    UPGRADE_TYPE,
)
from mu.generator.provenance.trustroot import TRUST_ROOT_TYPE, Role

# The role whose quorum must sign each kind.
KIND_ROLE: Final[Mapping[str, Role]] = {
    RECEIPT_TYPE: "release",
    REJECTION_TYPE: "release",
    UPGRADE_TYPE: "release",
    APPROVAL_TYPE: "compliance",
    OVERRIDE_TYPE: "compliance",
    AUDIT_TYPE: "auditor",
    CHECKPOINT_TYPE: "runtime",
    TRUST_ROOT_TYPE: "root",
}
# Short names for reports: `urn:mu:v1#Approval` → `Approval`.
KIND_NAMES: Final[Mapping[str, str]] = {k: k.rsplit("#", 1)[-1] for k in KIND_ROLE}


def _generator(d: Mapping[str, Any] | None) -> GeneratorId | None:
    if d is None:
        return None
    return GeneratorId(d["name"], d["version"], d["source_sha256"])


@dataclass(frozen=True)
class ApprovalPredicate:
    """A compliance approval: one semantic digest of O ∪ Σ, under one generator and root."""

    ontology_digest: str
    files: Mapping[str, str]
    generator: GeneratorId | None  # None only before trust roots
    made: MadeUnder | None

    @classmethod
    def from_predicate(cls, d: Mapping[str, Any]) -> ApprovalPredicate:
        """Type a predicate `statement_problems` found well formed."""
        return cls(
            d["ontology"]["digest"],
            dict(d["ontology"]["files"]),
            _generator(d.get("generator")),
            MadeUnder.from_predicate(d),
        )


@dataclass(frozen=True)
class OverridePredicate:
    """A compliance override of one rejection: its ontology digest and exact violations."""

    rejection: str
    ontology_digest: str
    violations: tuple[ViolationKey, ...]
    generator: GeneratorId
    made: MadeUnder

    def to_dict(self) -> dict[str, Any]:
        """The predicate exactly as signed."""
        return {
            "rejection": self.rejection,
            "ontology": {"digest": self.ontology_digest},
            "violations": [{"shape": v.shape, "focus": v.focus} for v in self.violations],
            "generator": self.generator.to_dict(),
            **self.made.to_dict(),
        }

    @classmethod
    def from_predicate(cls, d: Mapping[str, Any]) -> OverridePredicate:
        """Type a predicate `statement_problems` found well formed."""
        made = MadeUnder.from_predicate(d)
        generator = _generator(d["generator"])
        assert made is not None and generator is not None  # both required by the shape
        return cls(
            d["rejection"],
            d["ontology"]["digest"],
            tuple(sorted({ViolationKey(v["shape"], v["focus"]) for v in d["violations"]})),
            generator,
            made,
        )


@dataclass(frozen=True)
class AuditPredicate:
    """An auditor's replay of one receipt: which receipt, and whether the payload matched."""

    receipt_digest: str
    sequence: int
    payload_sha256: str
    matches: bool
    generator: GeneratorId
    made: MadeUnder

    def to_dict(self) -> dict[str, Any]:
        """The predicate exactly as signed."""
        return {
            "receipt": {"digest": self.receipt_digest, "sequence": self.sequence},
            "replayed": {"payload_sha256": self.payload_sha256, "matches": self.matches},
            "generator": self.generator.to_dict(),
            **self.made.to_dict(),
        }

    @classmethod
    def from_predicate(cls, d: Mapping[str, Any]) -> AuditPredicate:
        """Type a predicate `statement_problems` found well formed."""
        made = MadeUnder.from_predicate(d)
        generator = _generator(d["generator"])
        assert made is not None and generator is not None
        return cls(
            d["receipt"]["digest"],
            d["receipt"]["sequence"],
            d["replayed"]["payload_sha256"],
            d["replayed"]["matches"],
            generator,
            made,
        )
