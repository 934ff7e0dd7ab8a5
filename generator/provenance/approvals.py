"""Compliance approvals and overrides (SPEC §9): the rules are provably compliance's.

An approval is a statement (`urn:mu:v1#Approval`) by one key of the
`compliance` role binding the ontology's semantic digest, the generator
identity and the repository. An override (`urn:mu:v1#Override`) binds a
rejection receipt, its attempted digest and its exact violations. A build
counts them per *identity*: an identity counts once whatever keys it holds,
and the build signer's identity never counts for its own change. The same
tally re-checks a receipt later, from the statements it names, so deleting or
altering an approval fails every check of the receipt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.compile.digest import semantic_digest
from generator.compile.pipeline import ValidationFailed, validate_directory
from generator.compile.validate import ViolationKey
from generator.errors import CheckFailed, InputError, Problem
from generator.foreign import read_bounded
from generator.layout import Layout
from generator.provenance.claims import MadeUnder, TrustRef, signed_at_now
from generator.provenance.dsse import Envelope
from generator.provenance.identity import GeneratorId, this_generator
from generator.provenance.kinds import ApprovalPredicate, OverridePredicate
from generator.provenance.receipt import (
    StoredReceipt,
    load_receipt,
    payload_digest,
    statement,
    store,
    subjects,
)
from generator.provenance.signing import Signer, authorise
from generator.provenance.statement import (
    APPROVAL_TYPE,
    CANONICALIZATION,
    OVERRIDE_TYPE,
    REJECTION_TYPE,
    ApprovalRef,
)
from generator.provenance.trusthistory import TrustHistory
from generator.provenance.trustroot import RootVersion, quorum
from generator.provenance.verdict import Check

MAX_APPROVAL_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Approval:
    """One approval (or override) that counts: its file, key, identity and statement digest."""

    path: Path
    keyid: str
    identity: str
    statement_digest: str
    ontology_digest: str

    @property
    def name(self) -> str:
        """The approving identity, as reports name it."""
        return self.identity

    def ref(self) -> ApprovalRef:
        """As a receipt records it."""
        return ApprovalRef(self.keyid, self.statement_digest, self.identity)

    def to_dict(self) -> dict[str, str]:
        """As `mu approve --format json` shows it."""
        return {
            "identity": self.identity,
            "keyid": self.keyid,
            "statement": self.statement_digest,
            "ontology": self.ontology_digest,
            "path": str(self.path),
        }


@dataclass(frozen=True)
class Tally:
    """Distinct compliance identities counted for one change, against the policy."""

    required: int
    counted: tuple[Approval, ...]  # one per identity, sorted by identity
    refused: tuple[Problem, ...]  # statements that did not count, and why

    @property
    def ok(self) -> bool:
        """True when enough distinct identities approved."""
        return len(self.counted) >= self.required

    def describe(self) -> str:
        """`1/2 compliance approvals (alice); eve: the build signer's own ...`."""
        names = ", ".join(f"`{a.identity}`" for a in self.counted) or "none"
        text = f"{len(self.counted)}/{self.required} compliance identities ({names})"
        if self.refused:
            text += "; not counted: " + "; ".join(f"{p.where}: {p.message}" for p in self.refused)
        return text


def _require_role(signer: Signer, history: TrustHistory, what: str) -> tuple[RootVersion, str]:
    """The newest version and the signer's identity, or `CheckFailed` (exit 1) saying why not
    (a key without the `compliance` role, or the development key, whatever the root says)."""
    authorised = authorise(signer, history, "compliance", f"{what} was not written")
    return authorised.root, authorised.identity


def made_under(root: RootVersion) -> MadeUnder:
    """The claims of a statement signed now under `root`."""
    return MadeUnder(
        root.metadata.repository, TrustRef(root.version, root.digest), signed_at_now()
    )


def approve(layout: Layout, signer: Signer, history: TrustHistory) -> Approval:
    """Sign an approval of the current ontology; only a conforming ontology can be approved,
    and only by a key of the `compliance` role."""
    root, identity = _require_role(signer, history, "the approval")
    checked = validate_directory(layout.ontology)
    if not checked.report.conforms:
        raise ValidationFailed(
            checked.report,
            checked.loaded.sources,
            directory=layout.shown(layout.ontology),
            hint="fix every violation listed, or have the rejection overridden "
            "(`mu approve --override`)",
        )
    sources = checked.loaded.sources
    digest = semantic_digest(sources)
    generator = this_generator()
    existing = next(
        (
            a
            for a in _valid(layout, root, _approval_paths(layout), APPROVAL_TYPE)
            if a[0].keyid == signer.keyid and _binds(a[1], digest, generator, root)
        ),
        None,
    )
    if existing is not None:
        return existing[0]
    predicate = {
        "ontology": {
            "digest": digest,
            "canonicalization": CANONICALIZATION,
            "files": {s.path: s.sha256 for s in sources},
        },
        "generator": generator.to_dict(),
        **made_under(root).to_dict(),
    }
    payload = statement(
        subjects("ontology", {s.path: s.data for s in sources}), APPROVAL_TYPE, predicate
    )
    name = f"{digest[:12]}-{signer.keyid[:12]}-{payload_digest(payload)[:12]}.json"
    path = store(layout, layout.approvals, name, signer.sign(payload))
    return Approval(path, signer.keyid, identity, payload_digest(payload), digest)


def approve_override(
    layout: Layout, signer: Signer, history: TrustHistory, rejection_path: Path
) -> Approval:
    """Sign a compliance override of one rejection receipt, bound to its attempted
    ontology digest and its exact violations."""
    root, identity = _require_role(signer, history, "the override")
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


def _approval_paths(layout: Layout) -> list[Path]:
    directory = layout.approvals
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(".json"))


def read_statement(path: Path, kind: str) -> StoredReceipt | None:
    """One approval-directory file of `kind`, well formed, or None (it approves nothing).

    The file is foreign input in a shared directory: it is opened without
    following a link, only as a regular file, with a size bound.
    """
    try:
        read_bounded(path, what="approval", limit=MAX_APPROVAL_BYTES, follow_links=False)
        stored = load_receipt(path, kind)
    except (InputError, CheckFailed):
        return None
    return stored if stored.well_formed else None


def _valid(
    layout: Layout, root: RootVersion, paths: Iterable[Path], kind: str
) -> list[tuple[Approval, StoredReceipt]]:
    """Statements of `kind` signed by a compliance key of `root`: one `Approval` per signer."""
    out = []
    for path in paths:
        stored = read_statement(path, kind)
        if stored is None:
            continue
        signed = quorum(stored.envelope, root.metadata, "compliance")
        predicate = stored.statement["predicate"]
        digest = predicate["ontology"]["digest"]
        for keyid in signed.keyids:
            identity = root.metadata.identity_of(keyid)
            assert identity is not None
            out.append((Approval(path, keyid, identity, stored.digest, digest), stored))
    return out


def _binds(stored: StoredReceipt, digest: str, generator: GeneratorId, root: RootVersion) -> bool:
    typed = ApprovalPredicate.from_predicate(stored.statement["predicate"])
    return typed.ontology_digest == digest and typed.generator == generator and _same_root(
        typed.made, root
    )


def _same_root(made: MadeUnder | None, root: RootVersion) -> bool:
    # Made in this repository, under this version or an earlier one.
    return (
        made is not None
        and made.repository == root.metadata.repository
        and made.trust_root.version <= root.version
    )


def _why_not(
    stored: StoredReceipt, digest: str, generator: GeneratorId, root: RootVersion, kind: str
) -> str | None:
    predicate = stored.statement["predicate"]
    made = MadeUnder.from_predicate(predicate)
    if made is None:
        return "made before trust roots"
    if made.repository != root.metadata.repository:
        return f"made for repository `{made.repository}`"
    if made.trust_root.version > root.version:
        return f"made under a newer trust root (version {made.trust_root.version})"
    if predicate["ontology"]["digest"] != digest:
        return None  # about another ontology: simply not relevant
    if kind == APPROVAL_TYPE:
        typed = ApprovalPredicate.from_predicate(predicate)
        if typed.generator != generator:
            return "approved under another generator (approve again)"
    elif OverridePredicate.from_predicate(predicate).generator != generator:
        return "made under another generator (override again)"
    return ""


def _tally(
    layout: Layout,
    root: RootVersion,
    paths: Iterable[Path],
    kind: str,
    digest: str,
    generator: GeneratorId,
    exclude: str | None,
    extra: Iterable[tuple[Approval, StoredReceipt]] = (),
) -> Tally:
    counted: dict[str, Approval] = {}
    refused: list[Problem] = []
    for approval, stored in [*_valid(layout, root, paths, kind), *extra]:
        why = _why_not(stored, digest, generator, root, kind)
        if why is None:
            continue
        if not why and approval.identity == exclude:
            why = "the build signer's own identity never approves its own change"
        if why:
            refused.append(Problem(f"`{approval.identity}`", why))
            continue
        counted.setdefault(approval.identity, approval)
    return Tally(
        root.metadata.approvals,
        tuple(counted[k] for k in sorted(counted)),
        tuple(dict.fromkeys(refused)),
    )


def tally_approvals(
    layout: Layout,
    root: RootVersion,
    digest: str,
    generator: GeneratorId,
    *,
    exclude: str | None,
) -> Tally:
    """Compliance identities of `root` that approved `digest` under `generator`, except
    `exclude` (the build signer's identity)."""
    return _tally(layout, root, _approval_paths(layout), APPROVAL_TYPE, digest, generator, exclude)


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
    for path in _approval_paths(layout):
        stored = read_statement(path, OVERRIDE_TYPE)
        if stored is not None and stored.statement["predicate"]["ontology"]["digest"] == digest:
            by_rejection.setdefault(stored.statement["predicate"]["rejection"], []).append(path)
    best: tuple[Tally, OverridePredicate] | None = None
    for rejection in sorted(by_rejection):
        paths = by_rejection[rejection]
        tally = _tally(layout, root, paths, OVERRIDE_TYPE, digest, generator, exclude)
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
    for path in _approval_paths(layout):
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
    tally = _tally(layout, root, paths, kind, digest, generator, signer_identity)
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
