"""Overrides of rejections, and the re-check of a receipt's compliance evidence (SPEC §9).

An override (`urn:mu:v1#Override`) is signed by a compliance identity and binds
one rejection receipt, its attempted ontology digest and its exact violations;
a quorum of them (the root's approvals policy, distinct identities, never the
build signer's) lets the next build compile with exactly those violations
waived. `recheck` runs on every check of a receipt: every approval or override
it names must still be in `receipts/approvals/`, still signed by a compliance
key of the version it was made under, still bound to its ontology, generator
and repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mu.generator.compile.validate import ViolationKey
from mu.generator.errors import CheckFailed, InputError
from mu.generator.foreign import read_bounded
from mu.generator.layout import Layout
from mu.generator.provenance.approvals import (
    MAX_APPROVAL_BYTES,
    Approval,
    Tally,
    approval_paths,
    made_under,
    read_statement,
    require_role,
    tally_statements,
)
from mu.generator.provenance.dsse import Envelope
from mu.generator.provenance.identity import GeneratorId, this_generator
from mu.generator.provenance.kinds import OverridePredicate
from mu.generator.provenance.predicates import ApprovalRef
from mu.generator.provenance.receipt import (
    StoredReceipt,
    load_receipt,
    payload_digest,
    statement,
    store,
)
from mu.generator.provenance.signing import Signer
from mu.generator.provenance.statement import APPROVAL_TYPE, OVERRIDE_TYPE, REJECTION_TYPE
from mu.generator.provenance.trusthistory import TrustHistory
from mu.generator.provenance.trustroot import RootVersion, quorum
from mu.generator.provenance.verdict import Check


def approve_override(
    layout: Layout, signer: Signer, history: TrustHistory, rejection_path: Path
) -> Approval:
    """Sign a compliance override of one rejection receipt, bound to its attempted
    ontology digest and its exact violations."""
    root, identity = require_role(signer, history, "the override")
    rejection = load_receipt(rejection_path, REJECTION_TYPE).require_well_formed()
    predicate = rejection.rejection
    release = quorum(rejection.envelope, root.metadata, "release")
    problems = []
    if predicate.made is None or predicate.made.repository != root.metadata.repository:
        problems.append("it was not made in this repository")
    if not release.ok:
        problems.append(f"its signature is not trusted: {release.describe(root.metadata)}")
    if not predicate.overridable or not predicate.violations or not predicate.ontology.digest:
        problems.append(
            "it records no violation that may be overridden (only the organisation's "
            "own shapes can be; vocabulary, condition and golden failures cannot)"
        )
    if problems:
        raise CheckFailed(
            f"rejection `{rejection_path.name}` cannot be overridden: " + "; ".join(problems),
            hint="fix the ontology instead, then build again",
        )
    assert predicate.violations is not None and predicate.ontology.digest is not None
    keys = sorted({(v.shape, v.focus) for v in predicate.violations})
    override = OverridePredicate(
        rejection=rejection.digest,
        ontology_digest=predicate.ontology.digest,
        violations=tuple(ViolationKey(s, f) for s, f in keys),
        generator=this_generator(),
        made=made_under(root),
    )
    subject = [
        {"name": f"receipts/rejected/{rejection_path.name}", "digest": {"sha256": rejection.digest}}
    ]
    payload = statement(subject, OVERRIDE_TYPE, override.to_dict())
    name = f"override-{rejection.digest[:12]}-{signer.keyid[:12]}.json"
    envelope = signer.sign(payload)
    target = layout.approvals / name
    if target.exists():
        target.unlink()  # the same officer overriding the same rejection again: the newer claim
    path = store(layout, layout.approvals, name, envelope)
    return Approval(path, signer.keyid, identity, payload_digest(payload), override.ontology_digest)


def find_override(
    layout: Layout,
    root: RootVersion,
    digest: str,
    generator: GeneratorId,
    *,
    exclude: str | None,
) -> tuple[Tally, OverridePredicate] | None:
    """The best-supported override of a rejection of `digest`, with its tally, if any."""
    by_rejection: dict[str, list[Path]] = {}
    for path in approval_paths(layout):
        stored = read_statement(path, OVERRIDE_TYPE)
        if stored is not None and stored.statement["predicate"]["ontology"]["digest"] == digest:
            by_rejection.setdefault(stored.statement["predicate"]["rejection"], []).append(path)
    best: tuple[Tally, OverridePredicate] | None = None
    for rejection in sorted(by_rejection):
        paths = by_rejection[rejection]
        tally = tally_statements(layout, root, paths, OVERRIDE_TYPE, digest, generator, exclude)
        first = read_statement(paths[0], OVERRIDE_TYPE)
        assert first is not None
        typed = OverridePredicate.from_predicate(first.statement["predicate"])
        # Every signer must have overridden the same violations.
        same = all(
            (s := read_statement(p, OVERRIDE_TYPE)) is not None
            and OverridePredicate.from_predicate(s.statement["predicate"]).violations
            == typed.violations
            for p in paths
        )
        if same and (best is None or len(tally.counted) > len(best[0].counted)):
            best = (tally, typed)
    return best


def statements_by_digest(layout: Layout) -> dict[str, list[Path]]:
    """Every file of `receipts/approvals/` by its statement digest (for re-checks).

    Several files may hold one statement: two officers who approve (or override) the
    same thing within the same second sign identical payloads, each in its own file.
    """
    out: dict[str, list[Path]] = {}
    for path in approval_paths(layout):
        for kind in (APPROVAL_TYPE, OVERRIDE_TYPE):
            stored = read_statement(path, kind)
            if stored is not None:
                out.setdefault(stored.digest, []).append(path)
                break
    return out


def recheck(
    layout: Layout, receipt: StoredReceipt, root: RootVersion, signer_identity: str | None
) -> Check:
    """Re-check a receipt's approval evidence now: every approval (or the override) it
    names must still be in `receipts/approvals/`, signed by a compliance key of `root`,
    bound to its ontology, generator and repository, from distinct identities other than
    the signer's, and as many as `root`'s policy asks."""
    predicate = receipt.predicate
    digest, generator = predicate.ontology.digest, predicate.generator
    index = statements_by_digest(layout)
    if predicate.override is not None:
        refs, kind, what = predicate.override.by, OVERRIDE_TYPE, "override"
    elif predicate.approvals is not None:
        refs, kind, what = predicate.approvals.by, APPROVAL_TYPE, "approval"
    else:
        return Check("approvals", "FAIL", "the receipt records no approvals")
    missing = [r for r in refs if r.statement not in index]
    paths = sorted({p for r in refs for p in index.get(r.statement, ())})
    tally = tally_statements(layout, root, paths, kind, digest, generator, signer_identity)
    recorded = {(r.keyid, r.identity) for r in refs}
    counted = [a for a in tally.counted if (a.keyid, a.identity) in recorded]
    recorded_required = predicate.approvals.required if predicate.approvals else 0
    required = max(root.metadata.approvals, recorded_required)
    problems = [f"{what} {r.statement[:12]} by `{r.identity}` is missing" for r in missing]
    problems += [f"{p.where}: {p.message}" for p in tally.refused]
    if predicate.override is not None:
        problems += _override_problems(layout, predicate.override.rejection, paths)
    ok = len(counted) >= required and not problems
    names = ", ".join(f"`{a.identity}`" for a in counted) or "none"
    detail = f"{len(counted)}/{required} compliance identities re-checked ({names})"
    if predicate.override is not None:
        detail = f"override of rejection {predicate.override.rejection[:12]}: " + detail
    if problems:
        detail += "; " + "; ".join(problems)
    return Check("approvals", "PASS" if ok else "FAIL", detail)


def _override_problems(layout: Layout, rejection: str, paths: list[Path]) -> list[str]:
    """An override must name the rejection it lifts, and every signer the same one."""
    out = []
    for path in paths:
        stored = read_statement(path, OVERRIDE_TYPE)
        if stored is None or stored.statement["predicate"]["rejection"] != rejection:
            out.append(f"`{path.name}` overrides another rejection")
    found = any(
        _digest_of(p) == rejection
        for p in (sorted(layout.rejected.glob("*.json")) if layout.rejected.is_dir() else [])
    )
    if not found:
        out.append(
            f"the rejection {rejection[:12]} it overrides is missing from `receipts/rejected/`"
        )
    return out


def _digest_of(path: Path) -> str | None:
    try:
        data = read_bounded(path, what="rejection", limit=MAX_APPROVAL_BYTES, follow_links=False)
        return payload_digest(Envelope.from_json(data, str(path)).payload)
    except InputError:
        return None


def override_violations(layout: Layout, refs: Iterable[ApprovalRef]) -> frozenset[ViolationKey]:
    """The violations the override statements named by `refs` lift (for a replay's compile).

    Only statements that agree count; `recheck` is what proves they are valid.
    """
    index = statements_by_digest(layout)
    keys: set[ViolationKey] = set()
    for ref in refs:
        paths = index.get(ref.statement)
        stored = read_statement(paths[0], OVERRIDE_TYPE) if paths else None
        if stored is not None:
            keys |= set(OverridePredicate.from_predicate(stored.statement["predicate"]).violations)
    return frozenset(keys)
