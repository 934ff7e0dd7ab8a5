"""The checks of what a statement points at: the chain, its approvals, a rejection.

Each takes only what it needs of `verify_receipt.Verifier` (the chain, the
layout, the rejections) and the `Basis` the statement was checked against:

- `link_check` (receipts, `chain`): a link of this repository's chain, with its
  parent, and made under no older version than its parent;
- `approvals_check` (receipts, `approvals`): its approval or override evidence
  is re-checked now (`approvals.recheck`);
- `audit_check` (audits, `chain`): the receipt audited is a link of the chain;
- `rejection_check` (overrides, `rejection`): the rejection it lifts is in
  `receipts/rejected/` (`rejected_digests`), with the ontology digest and
  violations the override names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mu.generator.errors import CheckFailed, InputError
from mu.generator.foreign import read_bounded
from mu.generator.layout import Layout
from mu.generator.provenance.dsse import Envelope
from mu.generator.provenance.kinds import AuditPredicate, OverridePredicate
from mu.generator.provenance.overrides import recheck
from mu.generator.provenance.receipt import (
    RECEIPT_NAME,
    StoredReceipt,
    load_receipt,
    payload_digest,
    receipt_name,
)
from mu.generator.provenance.statement import REJECTION_TYPE
from mu.generator.provenance.verdict import Check
from mu.generator.provenance.verify_basis import MALFORMED, Basis

MAX_REJECTION_BYTES = 64 * 1024 * 1024


def rejected_digests(layout: Layout) -> dict[str, Path]:
    """Statement digest → file, of every readable envelope in `receipts/rejected/`."""
    directory = layout.rejected
    out: dict[str, Path] = {}
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("*.json")):
        try:
            data = read_bounded(
                path, what="rejection", limit=MAX_REJECTION_BYTES, follow_links=False
            )
            envelope = Envelope.from_json(data, str(path))
        except InputError:
            continue
        out[payload_digest(envelope.payload)] = path
    return out


def link_check(receipt: StoredReceipt, basis: Basis, chain: Sequence[StoredReceipt]) -> Check:
    """`chain`: the receipt is a link of `chain`, with its parent, under no older version."""
    # Sequence and parent are only typed in a well-formed receipt statement.
    if not receipt.is_receipt:
        return Check("chain", "FAIL", MALFORMED)
    sequence, parent = receipt.sequence, receipt.predicate.parent
    if not any(r.digest == receipt.digest for r in chain):
        return Check(
            "chain",
            "FAIL",
            f"not a link of this repository's chain: `receipts/` holds no receipt "
            f"with statement digest {receipt.digest[:12]}",
        )
    if RECEIPT_NAME.match(receipt.path.name) and receipt.path.name != receipt_name(
        sequence, receipt.digest
    ):
        return Check(
            "chain",
            "FAIL",
            f"file name `{receipt.path.name}` does not match its content "
            f"(expected `{receipt_name(sequence, receipt.digest)}`)",
        )
    twins = [
        r.path.name
        for r in chain
        if r.is_receipt and r.sequence == sequence and r.digest != receipt.digest
    ]
    if twins:
        return Check(
            "chain",
            "FAIL",
            f"the chain forks at receipt {sequence}: `{twins[0]}` has the same sequence",
        )
    if parent is None:
        if sequence != 1:
            return Check("chain", "FAIL", f"receipt {sequence} has no parent but is not the first")
        return Check("chain", "PASS", "first receipt of the chain (parent null)")
    found = [r for r in chain if r.digest == parent]
    if not found:
        return Check(
            "chain",
            "FAIL",
            f"parent {parent[:12]} is not in `receipts/`: a receipt is missing from the chain",
        )
    if not found[0].is_receipt:
        return Check("chain", "FAIL", f"parent `{found[0].path.name}` is malformed")
    if found[0].sequence != sequence - 1:
        return Check(
            "chain", "FAIL", f"parent has sequence {found[0].sequence}, not {sequence - 1}"
        )
    mine = basis.made
    theirs = found[0].predicate.made
    if theirs is not None and mine is None:
        return Check(
            "chain",
            "FAIL",
            f"made before trust roots, but its parent `{found[0].path.name}` was not",
        )
    if (
        mine is not None
        and theirs is not None
        and mine.trust_root.version < theirs.trust_root.version
    ):
        return Check(
            "chain",
            "FAIL",
            f"made under trust root version {mine.trust_root.version}, older than "
            f"its parent's ({theirs.trust_root.version}): versions never decrease "
            "along the chain",
        )
    return Check("chain", "PASS", f"parent {found[0].path.name} is present")


def approvals_check(
    layout: Layout, receipt: StoredReceipt, basis: Basis, signers: tuple[str, ...]
) -> Check:
    """`approvals`: the receipt's passing gates, and its evidence re-checked for `signers`."""
    if not receipt.is_receipt:
        return Check("approvals", "FAIL", MALFORMED)
    if basis.legacy and basis.root is not None:
        return Check(
            "approvals",
            "PASS",
            "not re-checked: made before trust roots, it was adopted by `mu trust migrate` "
            "with its approvals",
        )
    if basis.root is None:
        return Check(
            "approvals",
            "FAIL",
            "not checked: no verified trust-root version to check its approvals under",
        )
    gates = receipt.predicate.gates
    wanted = ["approvals", *(["override"] if receipt.predicate.override else [])]
    missing = [g for g in wanted if gates.get(g) != "PASS"]
    if missing:
        return Check(
            "approvals",
            "FAIL",
            f"the receipt records no passing {' and '.join(missing)} gate: mu never "
            "signs such a build",
        )
    results = [recheck(layout, receipt, basis.root, s) for s in signers or (None,)]
    return next((r for r in results if not r.ok), results[0])


def audit_check(stored: StoredReceipt, chain: Sequence[StoredReceipt]) -> Check:
    """`chain` of an audit: the receipt it audits is a link of `chain`, at its sequence."""
    if not stored.well_formed:
        return Check("chain", "FAIL", MALFORMED)
    audit = AuditPredicate.from_predicate(stored.statement["predicate"])
    link = next((r for r in chain if r.digest == audit.receipt_digest), None)
    if link is None:
        return Check(
            "chain",
            "FAIL",
            f"audits receipt {audit.receipt_digest[:12]} (sequence {audit.sequence}), "
            "which is not a link of this repository's chain",
        )
    if link.sequence != audit.sequence:
        return Check(
            "chain",
            "FAIL",
            f"audits `{link.path.name}` as receipt {audit.sequence}, but it is receipt "
            f"{link.sequence}",
        )
    verdict = "matched" if audit.matches else "did NOT match"
    return Check("chain", "PASS", f"audits link `{link.path.name}` of the chain (replay {verdict})")


def rejection_check(stored: StoredReceipt, rejected: Mapping[str, Path]) -> Check:
    """`rejection`: the rejection an override lifts is in `rejected`, as the override names it."""
    if not stored.well_formed:
        return Check("rejection", "FAIL", MALFORMED)
    override = OverridePredicate.from_predicate(stored.statement["predicate"])
    path = rejected.get(override.rejection)
    if path is None:
        return Check(
            "rejection",
            "FAIL",
            f"the rejection {override.rejection[:12]} it overrides is missing from "
            "`receipts/rejected/`",
        )
    try:
        rejection = load_receipt(path, REJECTION_TYPE).rejection
    except (InputError, CheckFailed):
        return Check("rejection", "FAIL", f"the rejection `{path.name}` is malformed")
    named = {(v.shape, v.focus) for v in override.violations}
    recorded = {(v.shape, v.focus) for v in rejection.violations or ()}
    if rejection.ontology.digest != override.ontology_digest or named != recorded:
        return Check(
            "rejection",
            "FAIL",
            f"does not name exactly the ontology and violations of rejection `{path.name}`",
        )
    return Check(
        "rejection",
        "PASS",
        f"overrides rejection `{path.name}` ({len(named)} violation(s))",
    )
