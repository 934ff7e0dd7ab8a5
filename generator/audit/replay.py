"""`mu replay --receipt`: an auditor regenerates A from the receipt's snapshot,
alone and offline, and compares every digest with what was signed.

Only a receipt that verifies under the trust root is replayed: one of another
repository, or not a link of the local chain, is refused with its verdict. The
payload is recomputed from the snapshot with what the receipt recorded of the
trust root's policy — its claims (`repository`, `trust_root`, `signedAt`), its
approvals and override — and policy gates rebuilt from the re-check of that
evidence, the snapshot compiled with the violations its override lifts. On a
match the recomputed statement is bit-identical to the receipt's payload.

With `--sign-key` (a key of the `auditor` role, checked before anything runs),
the auditor signs an `urn:mu:v1#Audit` statement naming the receipt, the
replayed payload's sha256 and whether it matched, stored in `receipts/audits/`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mu.generator.build.attest import receipt_predicate, receipt_statement
from mu.generator.build.coverage import percent_text
from mu.generator.build.gates import run_gates
from mu.generator.config import DEFAULT_MIN_COVERAGE
from mu.generator.files import compare_trees, read_tree
from mu.generator.hashing import sha256_hex
from mu.generator.layout import Layout
from mu.generator.provenance.approvals import made_under
from mu.generator.provenance.identity import GeneratorId, this_generator
from mu.generator.provenance.kinds import AuditPredicate
from mu.generator.provenance.overrides import override_violations
from mu.generator.provenance.pinned import check_generator_pin, snapshot_ref
from mu.generator.provenance.predicates import ReceiptPredicate
from mu.generator.provenance.receipt import (
    RECEIPT_TYPE,
    StoredReceipt,
    payload_digest,
    statement,
    store,
)
from mu.generator.provenance.signing import Authorised, Signer, authorise
from mu.generator.provenance.snapshot import extract, read_snapshot
from mu.generator.provenance.statement import AUDIT_TYPE
from mu.generator.provenance.verdict import Check
from mu.generator.provenance.verify_receipt import StatementVerdict, Verifier


@dataclass(frozen=True)
class ReplayResult:
    """The verdict, every comparison, the recomputed payload and the auditor's statement."""

    verdict: StatementVerdict
    comparisons: tuple[Check, ...]  # each thing compared: did it match, how it differed
    payload: bytes
    regenerated: dict[str, bytes]
    audit_receipt: Path | None  # the signed `urn:mu:v1#Audit` statement, when one was written
    auditor: str | None = None  # the auditor identity that signed it

    @property
    def ok(self) -> bool:
        """True when the receipt verifies and everything regenerated matches."""
        return self.verdict.ok and bool(self.comparisons) and all(c.ok for c in self.comparisons)

    @property
    def warning(self) -> str | None:
        """The trust history's warning: nothing pinned the trust root."""
        return self.verdict.warning


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
            out.append(Check(name, "FAIL", f"sha256 {fresh[name][:12]}… ≠ {recorded[name][:12]}…"))
    if not out:
        out.append(Check("subjects", "PASS", f"{len(fresh)} files, every sha256 matches"))
    return out


def _field(name: str, fresh: object, recorded: object) -> Check:
    if fresh == recorded:
        return Check(name, "PASS", "matches")
    return Check(name, "FAIL", f"regenerated {fresh!r}, receipt records {recorded!r}")


def _coverage(fresh: ReceiptPredicate, recorded: ReceiptPredicate) -> Check:
    """The coverage recorded against the replay's, with the bar the build was held to
    shown, so that an auditor sees a lowered `[build] min_coverage`."""
    if recorded.coverage is None or fresh.coverage is None:
        return _field("coverage", fresh.coverage, recorded.coverage)
    if fresh.coverage != recorded.coverage:
        return _field("coverage", fresh.coverage.to_dict(), recorded.coverage.to_dict())
    c = recorded.coverage
    detail = (
        f"matches: {c.covered}/{c.controls} controls covered, "
        f"required {percent_text(c.required)} by `[build] min_coverage`"
    )
    if c.required < DEFAULT_MIN_COVERAGE:
        detail += f" (lowered from {DEFAULT_MIN_COVERAGE}%; {len(c.uncovered)} uncovered)"
    return Check("coverage", "PASS", detail)


def _controls(predicate: ReceiptPredicate) -> dict[str, dict[str, str]]:
    return {k: v.to_dict() for k, v in predicate.controls.items()}


def policy_gates(recorded: ReceiptPredicate, verdict: StatementVerdict) -> tuple[Check, ...]:
    """The approvals (and override) gates as a build would record them, rebuilt from the
    re-check of the receipt's evidence, never copied from the receipt."""
    recheck = verdict.check("approvals")
    assert recheck is not None  # a receipt's verdict always re-checks its approvals
    gates = []
    if recorded.made is not None or "approvals" in recorded.gates:
        gates.append(Check("approvals", recheck.status, recheck.detail))
    if recorded.override is not None or "override" in recorded.gates:
        gates.append(Check("override", recheck.status, recheck.detail))
    return tuple(gates)


def _audit(
    layout: Layout,
    auditor: Authorised,
    receipt: StoredReceipt,
    payload: bytes,
    matches: bool,
    generator: GeneratorId,
) -> Path:
    """Sign and store the auditor's `urn:mu:v1#Audit` statement about `receipt`."""
    predicate = AuditPredicate(
        receipt_digest=receipt.digest,
        sequence=receipt.sequence,
        payload_sha256=sha256_hex(payload),
        matches=matches,
        generator=generator,
        made=made_under(auditor.root),
    )
    subject = [{"name": f"receipts/{receipt.path.name}", "digest": {"sha256": receipt.digest}}]
    signed = statement(subject, AUDIT_TYPE, predicate.to_dict())
    name = f"{receipt.sequence:04d}-{receipt.digest[:12]}-{payload_digest(signed)[:12]}.json"
    return store(layout, layout.audits, name, auditor.signer.sign(signed))


def _deployed_comparison(regenerated: dict[str, bytes], deployed: Path) -> Check:
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
    return Check.of(f"deployed `{deployed}`", diff.clean, detail)


def replay(
    layout: Layout,
    receipt_path: Path,
    *,
    public_key_path: Path | None = None,
    trust_root: str | None = None,
    deployed: Path | None = None,
    auditor: Signer | None = None,
) -> ReplayResult:
    """Verify, regenerate from the snapshot in a scratch directory, compare everything;
    with `auditor` (a key of the `auditor` role), sign the audit statement.

    An auditor key that does not hold `auditor` is refused (`CheckFailed`) before
    anything runs, so nothing is written.
    """
    verifier = Verifier(layout, trust_root=trust_root, public_key_path=public_key_path)
    signer = None
    if auditor is not None:
        signer = authorise(auditor, verifier.history, "auditor", "no audit statement was written")
    verdict = verifier.path(receipt_path, RECEIPT_TYPE)
    receipt = verdict.receipt
    if not verdict.ok:
        return ReplayResult(verdict, (), b"", {}, None)
    generator = this_generator()
    check_generator_pin(receipt, generator)
    ref = snapshot_ref(receipt)
    files = read_snapshot(layout.root, ref)
    recorded = receipt.predicate
    # The verdict's link check found the parent in the chain, well formed.
    parent = next((r for r in verifier.chain if r.is_receipt and r.digest == recorded.parent), None)
    waived = (
        override_violations(layout, recorded.override.by)
        if recorded.override is not None
        else frozenset()
    )
    # The snapshot is held to the coverage bar the receipt recorded, not to today's mu.toml.
    required = recorded.coverage.required if recorded.coverage is not None else None
    with tempfile.TemporaryDirectory(prefix="mu-replay-") as scratch:
        run = run_gates(extract(files, Path(scratch)), waived=waived, min_coverage=required)
    if not run.ok or run.compiled is None:
        failed = ", ".join(g.name for g in run.gates if not g.ok)
        comparison = Check("gates", "FAIL", f"the snapshot no longer passes: {failed}")
        return ReplayResult(verdict, (comparison,), b"", {}, None)
    regenerated = run.compiled.files
    fresh = receipt_predicate(
        run,
        generator,
        ref,
        parent,
        receipt.sequence,
        made=recorded.made,
        approvals=recorded.approvals,
        override=recorded.override,
        policy_gates=policy_gates(recorded, verdict),
    )
    payload = receipt_statement(run, fresh)
    same = payload == receipt.envelope.payload
    comparisons: list[Check] = [
        *_subject_comparisons(receipt, regenerated),
        _field("ontology digest", fresh.ontology.digest, recorded.ontology.digest),
        _field("golden results", fresh.golden.to_dict(), recorded.golden.to_dict()),
        _coverage(fresh, recorded),
        _field("controls", _controls(fresh), _controls(recorded)),
        Check.of(
            "payload",
            same,
            "bit-identical to the signed payload"
            if same
            else "the recomputed statement differs from the signed one",
        ),
    ]
    # The audit is about the receipt: a deployed directory's comparison is not part of it.
    matches = all(c.ok for c in comparisons)
    if deployed is not None:
        comparisons.append(_deployed_comparison(regenerated, deployed))
    audit = None
    if signer is not None:
        audit = _audit(layout, signer, receipt, payload, matches, generator)
    return ReplayResult(
        verdict,
        tuple(comparisons),
        payload,
        regenerated,
        audit,
        signer.identity if signer is not None else None,
    )
