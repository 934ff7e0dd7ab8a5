"""`mu replay --receipt`: an auditor regenerates A from the receipt's snapshot,
alone and offline, and compares every digest with what was signed.

On a match the recomputed statement is bit-identical to the receipt's payload:
that byte string is the auditor's statement, optionally signed by the auditor.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator.build.attest import receipt_predicate, receipt_statement
from generator.build.gates import run_gates
from generator.files import compare_trees, read_tree
from generator.hashing import sha256_hex
from generator.layout import Layout
from generator.provenance.identity import this_generator
from generator.provenance.pinned import check_generator_pin, snapshot_ref
from generator.provenance.receipt import StoredReceipt, load_chain, store
from generator.provenance.signing import Signer
from generator.provenance.snapshot import extract, read_snapshot
from generator.provenance.statement import ReceiptPredicate
from generator.provenance.verdict import Check
from generator.provenance.verify_receipt import ReceiptVerdict, verify_receipt


@dataclass(frozen=True)
class ReplayResult:
    """The verdict, every comparison, the recomputed payload and where A was regenerated."""

    verdict: ReceiptVerdict
    comparisons: tuple[Check, ...]  # each thing compared: did it match, how it differed
    payload: bytes
    regenerated: dict[str, bytes]
    audit_receipt: Path | None

    @property
    def ok(self) -> bool:
        """True when the receipt verifies and everything regenerated matches."""
        return self.verdict.ok and all(c.ok for c in self.comparisons)


def _subject_comparisons(receipt: StoredReceipt, files: dict[str, bytes]) -> list[Check]:
    recorded = receipt.subjects
    fresh = {f"enforcers/{p}": sha256_hex(d) for p, d in files.items()}
    out = []
    for name in sorted(set(recorded) | set(fresh)):
        if name not in fresh:
            out.append(Check(name, "FAIL", "recorded, but this generator does not produce it"))
        elif name not in recorded:
            out.append(Check(name, "FAIL", "produced, but not recorded in the receipt"))
        elif recorded[name] != fresh[name]:
            out.append(
                Check(name, "FAIL", f"sha256 {fresh[name][:12]}… ≠ {recorded[name][:12]}…")
            )
    if not out:
        out.append(Check("subjects", "PASS", f"{len(fresh)} files, every sha256 matches"))
    return out


def _field(name: str, fresh: object, recorded: object) -> Check:
    if fresh == recorded:
        return Check(name, "PASS", "matches")
    return Check(name, "FAIL", f"regenerated {fresh!r}, receipt records {recorded!r}")


def _controls(predicate: ReceiptPredicate) -> dict[str, dict[str, str]]:
    return {k: v.to_dict() for k, v in predicate.controls.items()}


def replay(
    layout: Layout,
    receipt_path: Path,
    *,
    public_key_path: Path | None = None,
    deployed: Path | None = None,
    auditor: Signer | None = None,
) -> ReplayResult:
    """Verify, regenerate from the snapshot in a scratch directory, compare everything."""
    verdict = verify_receipt(layout, receipt_path, public_key_path=public_key_path)
    receipt = verdict.receipt
    if not verdict.ok:
        return ReplayResult(verdict, (), b"", {}, None)
    generator = this_generator()
    check_generator_pin(receipt, generator)
    ref = snapshot_ref(receipt)
    files = read_snapshot(layout.root, ref)
    # The verdict's link check found the parent in the chain, well formed.
    parent_digest = receipt.predicate.parent
    parent = next(
        (r for r in load_chain(layout.receipts) if r.well_formed and r.digest == parent_digest),
        None,
    )
    approvals = receipt.predicate.approvals
    required = approvals.required if approvals is not None else 0
    with tempfile.TemporaryDirectory(prefix="mu-replay-") as scratch:
        run = run_gates(
            extract(files, Path(scratch)),
            required_approvals=required,
            approvals_from=layout,
        )
    if not run.ok or run.compiled is None:
        failed = ", ".join(g.name for g in run.gates if not g.ok)
        comparison = Check("gates", "FAIL", f"the snapshot no longer passes: {failed}")
        return ReplayResult(verdict, (comparison,), b"", {}, None)
    regenerated = run.compiled.files
    fresh = receipt_predicate(run, generator, ref, parent, receipt.sequence)
    payload = receipt_statement(run, fresh)
    recorded = receipt.predicate
    comparisons = [
        *_subject_comparisons(receipt, regenerated),
        _field("ontology digest", fresh.ontology.digest, recorded.ontology.digest),
        _field("golden results", fresh.golden.to_dict(), recorded.golden.to_dict()),
        _field("controls", _controls(fresh), _controls(recorded)),
        Check.of(
            "payload",
            payload == receipt.envelope.payload,
            "bit-identical to the signed payload"
            if payload == receipt.envelope.payload
            else "the recomputed statement differs from the signed one",
        ),
    ]
    if deployed is not None:
        diff = compare_trees(regenerated, read_tree(deployed))
        detail = (
            "byte-identical"
            if diff.clean
            else "; ".join(
                [
                    *(f"changed {p}" for p in diff.changed),
                    *(f"missing {p}" for p in diff.removed),
                    *(f"extra {p}" for p in diff.added),
                ]
            )
        )
        comparisons.append(Check.of(f"deployed `{deployed}`", diff.clean, detail))
    audit = None
    if auditor is not None and all(c.ok for c in comparisons):
        name = f"{receipt.sequence:04d}-{receipt.digest[:12]}.{auditor.keyid[:12]}.json"
        audit = store(layout, layout.audits, name, auditor.sign(payload))
    return ReplayResult(verdict, tuple(comparisons), payload, regenerated, audit)
