"""Compliance approvals (SPEC §9): the rules are provably compliance's.

An approval is a statement (`urn:mu:v1#Approval`) by one key of the
`compliance` role binding the ontology's semantic digest, the generator
identity and the repository. An override (`urn:mu:v1#Override`) binds a
rejection receipt, its attempted digest and its exact violations. A build
counts them per *identity*: an identity counts once whatever keys it holds,
and the build signer's identity never counts for its own change. The same
tally re-checks a receipt later, from the statements it names, so deleting or
altering an approval fails every check of the receipt (`overrides.recheck`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mu.generator.compile.digest import semantic_digest
from mu.generator.compile.pipeline import ValidationFailed, validate_directory
from mu.generator.errors import CheckFailed, InputError, Problem
from mu.generator.foreign import read_bounded
from mu.generator.layout import Layout
from mu.generator.provenance.claims import MadeUnder, TrustRef, signed_at_now
from mu.generator.provenance.identity import GeneratorId, this_generator
from mu.generator.provenance.kinds import ApprovalPredicate, OverridePredicate
from mu.generator.provenance.predicates import ApprovalRef
from mu.generator.provenance.receipt import (
    StoredReceipt,
    load_receipt,
    payload_digest,
    statement,
    store,
    subjects,
)
from mu.generator.provenance.signing import Signer, authorise
from mu.generator.provenance.statement import (
    APPROVAL_TYPE,
    CANONICALIZATION,
)
from mu.generator.provenance.trusthistory import TrustHistory
from mu.generator.provenance.trustroot import RootVersion, quorum

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


def require_role(signer: Signer, history: TrustHistory, what: str) -> tuple[RootVersion, str]:
    """The newest version and the signer's identity, or `CheckFailed` (exit 1) saying why not
    (a key without the `compliance` role, or the development key, whatever the root says)."""
    authorised = authorise(signer, history, "compliance", f"{what} was not written")
    return authorised.root, authorised.identity


def made_under(root: RootVersion) -> MadeUnder:
    """The claims of a statement signed now under `root`."""
    return MadeUnder(root.metadata.repository, TrustRef(root.version, root.digest), signed_at_now())


def approve(layout: Layout, signer: Signer, history: TrustHistory) -> Approval:
    """Sign an approval of the current ontology; only a conforming ontology can be approved,
    and only by a key of the `compliance` role."""
    root, identity = require_role(signer, history, "the approval")
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
            for a in _valid(layout, root, approval_paths(layout), APPROVAL_TYPE)
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


def approval_paths(layout: Layout) -> list[Path]:
    """The `.json` files of `receipts/approvals/`, sorted (none when it does not exist)."""
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
    return (
        typed.ontology_digest == digest
        and typed.generator == generator
        and _same_root(typed.made, root)
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


def tally_statements(
    layout: Layout,
    root: RootVersion,
    paths: Iterable[Path],
    kind: str,
    digest: str,
    generator: GeneratorId,
    exclude: str | None,
    extra: Iterable[tuple[Approval, StoredReceipt]] = (),
) -> Tally:
    """Distinct compliance identities of `root` among the statements of `kind` in `paths`
    that bind `digest`, `generator` and this repository, except `exclude`; with why each
    other signer did not count."""
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
    return tally_statements(
        layout, root, approval_paths(layout), APPROVAL_TYPE, digest, generator, exclude
    )
