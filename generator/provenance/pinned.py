"""A receipt pinned to this generator, and the snapshot it can be replayed from.

Shared by every command that regenerates A from a receipt — replay, rollback,
deploy, diagnose and diff — so none of them depends on another command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.errors import CheckFailed, Problem
from generator.layout import Layout
from generator.provenance.identity import GeneratorId, this_generator
from generator.provenance.receipt import StoredReceipt
from generator.provenance.snapshot import SnapshotRef, read_snapshot
from generator.provenance.verify_receipt import verify_receipt


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


def verified_snapshot(
    layout: Layout, receipt_path: Path, *, public_key_path: Path | None, purpose: str
) -> VerifiedSnapshot:
    """Verify a receipt, check its generator pin, read its snapshot — or refuse.

    `purpose` completes the refusal: "nothing was written", "a diagnosis needs …".
    """
    verdict = verify_receipt(layout, receipt_path, public_key_path=public_key_path)
    if not verdict.ok:
        raise CheckFailed(
            f"receipt `{receipt_path}` does not verify; {purpose}",
            hint="run `mu verify-receipt` for the failed checks",
            problems=[Problem(c.name, c.detail) for c in verdict.failures],
        )
    check_generator_pin(verdict.receipt, this_generator())
    files = read_snapshot(layout.root, snapshot_ref(verdict.receipt))
    return VerifiedSnapshot(verdict.receipt, files)
