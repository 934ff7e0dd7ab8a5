"""A receipt pinned to this generator, and the snapshot it can be replayed from.

Shared by every command that regenerates A from a receipt — replay, rollback,
deploy, diagnose and diff — so none of them depends on another command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mu.generator.compile.validate import ViolationKey
from mu.generator.errors import CheckFailed, Problem
from mu.generator.layout import Layout
from mu.generator.provenance.identity import GeneratorId, this_generator
from mu.generator.provenance.overrides import override_violations
from mu.generator.provenance.receipt import RECEIPT_TYPE, StoredReceipt
from mu.generator.provenance.snapshot import SnapshotRef, read_snapshot
from mu.generator.provenance.verify_receipt import StatementVerdict, verify_statement


def check_generator_pin(receipt: StoredReceipt, generator: GeneratorId) -> None:
    """Refuse to replay with a generator other than the one the receipt pins.

    A malformed receipt is refused first (`CheckFailed`), so the pin read is typed.
    """
    pinned = receipt.predicate.generator
    version, digest = pinned.version, pinned.source_sha256
    if version != generator.version or digest != generator.source_sha256:
        raise CheckFailed(
            f"this receipt was made by mu {version} (source sha256 {digest[:12]}…); "
            f"this is mu {generator.version} (source sha256 {generator.source_sha256[:12]}…)",
            hint=f"install mu {version} with exactly that source to replay it "
            "(`mu upgrade-check` compares generators)",
        )


def snapshot_ref(receipt: StoredReceipt) -> SnapshotRef:
    """The snapshot a receipt names; a malformed receipt is refused (`CheckFailed`).

    The structural check guarantees the path is `receipts/snapshots/<sha256>.json`.
    """
    return receipt.predicate.ontology.snapshot


@dataclass(frozen=True)
class VerifiedSnapshot:
    """A receipt that verifies, pins this generator, and the snapshot it names."""

    receipt: StoredReceipt
    files: dict[str, str]
    verdict: StatementVerdict
    waived: frozenset[ViolationKey] = frozenset()  # what the receipt's override lifted

    @property
    def warning(self) -> str | None:
        """The trust history's warning: nothing pinned the trust root."""
        return self.verdict.warning


def refuse_unverified(verdict: StatementVerdict, receipt_path: Path, purpose: str) -> None:
    """`CheckFailed` naming every failed check, unless the verdict is clean."""
    if not verdict.ok:
        failed = ", ".join(c.name for c in verdict.failures)
        raise CheckFailed(
            f"receipt `{receipt_path}` does not verify ({failed} failed); {purpose}",
            hint="`mu verify-receipt` explains each check",
            problems=[Problem(c.name, c.detail) for c in verdict.failures],
        )


def verified_snapshot(
    layout: Layout,
    receipt_path: Path,
    *,
    public_key_path: Path | None,
    purpose: str,
    trust_root: str | None = None,
) -> VerifiedSnapshot:
    """Verify a build receipt against the trust root (from `trust_root`, the pin), check
    its generator pin, read its snapshot — or refuse.

    `purpose` completes the refusal: "nothing was written", "a diagnosis needs …".
    """
    verdict = verify_statement(
        layout,
        receipt_path,
        trust_root=trust_root,
        public_key_path=public_key_path,
        kind=RECEIPT_TYPE,
    )
    refuse_unverified(verdict, receipt_path, purpose)
    check_generator_pin(verdict.receipt, this_generator())
    files = read_snapshot(layout.root, snapshot_ref(verdict.receipt))
    return VerifiedSnapshot(
        verdict.receipt, files, verdict, receipt_waiver(layout, verdict.receipt)
    )


def receipt_waiver(layout: Layout, receipt: StoredReceipt) -> frozenset[ViolationKey]:
    """The violations a receipt's compliance override lifted: its snapshot compiles only
    with them waived (empty for a receipt made without an override)."""
    override = receipt.predicate.override
    return override_violations(layout, override.by) if override is not None else frozenset()
