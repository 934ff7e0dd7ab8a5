"""`mu verify-receipt`: every statement kind, checked against its own role (SPEC §9).

A statement is checked in named steps, each reported separately, so an auditor
sees exactly what failed:

- `envelope`: a DSSE envelope with an in-toto payload (an unreadable file is an
  input error, exit 2, before any check runs);
- `statement`: the statement has the shape of its kind (a malformed one is not
  read further: its links are not followed);
- `repository`: it names this repository — or, made before trust roots, version
  1 adopted it by digest (`mu trust migrate`);
- `signature`: a signature verifies with a key of the trust-root version it was
  made under (and with `--public-key`, which only narrows: it never makes a key
  trusted);
- `trust`: the version it names is a verified version of the history reached
  from the pin, with that exact digest; a chain receipt names exactly the version
  in effect for its sequence; and a quorum of distinct identities of the kind's
  role (`kinds.KIND_ROLE`) signed it in that version;
- `chain` (receipts): a link of this repository's chain, with its parent, and
  made under no older version than its parent; (audits) the receipt audited is
  a link of the chain;
- `approvals` (receipts): its approval or override evidence is re-checked now
  (`approvals.recheck`);
- `rejection` (overrides): the rejection it lifts is in `receipts/rejected/`,
  with the ontology digest and violations the override names.

`Verifier` loads the trust history and the chain once, for `mu log`, `mu verify`
and every command that checks a receipt before using it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Final, Literal, get_args

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from generator.errors import CheckFailed, InputError
from generator.foreign import read_bounded
from generator.layout import Layout
from generator.provenance.approvals import recheck
from generator.provenance.claims import MadeUnder
from generator.provenance.dsse import Envelope, verify_signatures
from generator.provenance.keys import keyid_of, load_public_key
from generator.provenance.kinds import (
    KIND_NAMES,
    KIND_ROLE,
    AuditPredicate,
    OverridePredicate,
)
from generator.provenance.receipt import (
    RECEIPT_NAME,
    RECEIPT_TYPE,
    StoredReceipt,
    load_chain,
    load_receipt,
    payload_digest,
    receipt_name,
)
from generator.provenance.statement import (
    AUDIT_TYPE,
    OVERRIDE_TYPE,
    REJECTION_TYPE,
    describe,
)
from generator.provenance.trusthistory import TrustHistory, load_history, parse_version
from generator.provenance.trustroot import TRUST_ROOT_TYPE, Role, RootVersion, quorum
from generator.provenance.verdict import Check

# The checks of one statement, in the order they are reported.
StatementCheck = Literal[
    "envelope",
    "statement",
    "repository",
    "signature",
    "trust",
    "chain",
    "approvals",
    "rejection",
]
STATEMENT_CHECKS: Final[tuple[StatementCheck, ...]] = get_args(StatementCheck)
# The names older callers use.
ReceiptCheck = StatementCheck
RECEIPT_CHECKS = STATEMENT_CHECKS

MAX_REJECTION_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class StatementVerdict:
    """Every check run on one statement, what kind it is, and who signed it when.

    `receipt` is the statement as read (any kind: the name is historical).
    `signers` are the distinct identities of the kind's role whose signatures
    count; `untrusted` names every signature that does not count, and why.
    """

    receipt: StoredReceipt
    checks: tuple[Check, ...]
    kind: str | None  # the predicateType, when the statement has one
    role: Role | None  # the role that must sign this kind
    root: RootVersion | None  # the trust-root version it was checked against
    signers: tuple[str, ...] = ()
    keyids: tuple[str, ...] = ()  # the role's keys whose signature verifies
    untrusted: tuple[str, ...] = ()
    signed_at: str | None = None  # the signer's claimed signing time
    legacy: bool = False  # made before trust roots, adopted by a migration
    warning: str | None = None  # the history's: nothing pinned the trust root

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.ok)

    @property
    def signer(self) -> str | None:
        """The first keyid of the role whose signature verified (None: none counted)."""
        return self.keyids[0] if self.keyids else None

    @property
    def version(self) -> int | None:
        """The trust-root version it was checked against."""
        return self.root.version if self.root is not None else None

    @property
    def kind_name(self) -> str:
        """`Receipt`, `Approval`, ...: the kind as reports name it."""
        if self.kind is None:
            return "unknown"
        return KIND_NAMES.get(self.kind, self.kind.rsplit("#", 1)[-1])

    def check(self, name: StatementCheck) -> Check | None:
        """The check called `name`, when it ran."""
        return next((c for c in self.checks if c.name == name), None)


# The name the rest of mu has always used for a receipt's verdict.
ReceiptVerdict = StatementVerdict


@dataclass(frozen=True)
class _Basis:
    """The trust-root version a statement is checked against, or why there is none."""

    root: RootVersion | None
    problem: str | None  # why the statement's version does not count ("" when fine)
    legacy: bool = False
    made: MadeUnder | None = None


def _rejected_digests(layout: Layout) -> dict[str, Path]:
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


@dataclass
class Verifier:
    """The trust history (verified from the pin) and the local chain, loaded once.

    Raises `NoTrustRoot` when the repository has no trust root and `CheckFailed`
    when its history does not verify from the pin: nothing can be trusted then.
    """

    layout: Layout
    trust_root: str | None = None
    public_key_path: Path | None = None
    history: TrustHistory = field(init=False)
    public_key: Ed25519PublicKey | None = field(init=False)

    def __post_init__(self) -> None:
        self.public_key = (
            load_public_key(self.public_key_path) if self.public_key_path is not None else None
        )
        self.history = load_history(self.layout, self.trust_root)

    @cached_property
    def chain(self) -> tuple[StoredReceipt, ...]:
        """Every receipt of `receipts/` in sequence order, malformed ones included."""
        return tuple(load_chain(self.layout.receipts))

    @cached_property
    def rejected(self) -> dict[str, Path]:
        """The rejection receipts of `receipts/rejected/` by statement digest."""
        return _rejected_digests(self.layout)

    @property
    def warning(self) -> str | None:
        """What an unpinned check must say loudly (None when pinned)."""
        return self.history.warning

    # --- entry points ------------------------------------------------------------

    def path(self, path: Path, kind: str | None = None) -> StatementVerdict:
        """Read the statement at `path` (an `InputError` when unreadable) and check it.

        `kind`, when given, is the only predicate type accepted.
        """
        return self.loaded(load_receipt(path, kind))

    def loaded(self, stored: StoredReceipt) -> StatementVerdict:
        """Every check on one statement already read."""
        kind = stored.statement.get("predicateType")
        if kind == TRUST_ROOT_TYPE:
            return self._trust_root(stored)
        return self._statement(stored, kind if isinstance(kind, str) else None)

    # --- statements of every kind but the trust root -------------------------------

    def _statement(self, stored: StoredReceipt, kind: str | None) -> StatementVerdict:
        role = KIND_ROLE.get(kind) if kind is not None else None
        checks = [Check("envelope", "PASS", "DSSE envelope with an in-toto payload")]
        statement = _statement_check(stored, kind, role)
        checks.append(statement)
        if not statement.ok:
            # Nothing it says can be read: only whether its signature holds is reported.
            checks.append(self._signature_check(stored.envelope, self.history.newest))
            return StatementVerdict(
                receipt=stored,
                checks=tuple(checks),
                kind=kind,
                role=role,
                root=None,
                untrusted=_untrusted(stored.envelope, self.history.newest, role, ()),
                warning=self.warning,
            )
        basis = self._basis(stored, kind)
        checks.append(self._repository_check(basis))
        signed_against = basis.root if basis.root else self.history.newest
        checks.append(self._signature_check(stored.envelope, signed_against))
        trust, signers, keyids, untrusted = self._trust_check(stored, basis, role)
        checks.append(trust)
        if kind == RECEIPT_TYPE:
            checks.append(self._link_check(stored, basis))
            checks.append(self._approvals_check(stored, basis, signers))
        elif kind == AUDIT_TYPE:
            checks.append(self._audit_check(stored))
        elif kind == OVERRIDE_TYPE:
            checks.append(self._rejection_check(stored))
        return StatementVerdict(
            receipt=stored,
            checks=tuple(checks),
            kind=kind,
            role=role,
            root=basis.root,
            signers=signers,
            keyids=keyids,
            untrusted=untrusted,
            signed_at=basis.made.signed_at if basis.made else None,
            legacy=basis.legacy,
            warning=self.warning,
        )

    def _basis(self, stored: StoredReceipt, kind: str | None) -> _Basis:
        """The version a well-formed statement is checked against, or why none counts."""
        predicate = stored.statement.get("predicate")
        made = MadeUnder.from_predicate(predicate) if isinstance(predicate, dict) else None
        history = self.history
        if made is None:
            first = history.version(1)
            if first is None:
                return _Basis(
                    None,
                    "made before trust roots: only trust root version 1 can adopt it, and "
                    f"verification starts at the pinned version {history.first.version}",
                    legacy=True,
                )
            if stored.digest not in first.metadata.legacy:
                return _Basis(
                    None,
                    "made before trust roots and not adopted by `mu trust migrate` "
                    "(version 1 of the trust root does not list its digest)",
                    legacy=True,
                )
            return _Basis(first, None, legacy=True)
        claimed = made.trust_root
        if made.repository != history.repository:
            # Its version would be another repository's: nothing here can vouch for it.
            return _Basis(
                None,
                f"made under trust root version {claimed.version} of repository "
                f"`{made.repository}`, not of `{history.repository}`",
                made=made,
            )
        root = history.version(claimed.version)
        if root is None:
            if claimed.version < history.first.version:
                problem = (
                    f"made under trust root version {claimed.version}, older than the "
                    f"pinned version {history.first.version}"
                )
            else:
                problem = (
                    f"names trust root version {claimed.version}, which this repository "
                    f"does not have (newest: {history.newest.version})"
                )
            return _Basis(None, problem, made=made)
        if root.digest != claimed.digest:
            return _Basis(
                None,
                f"names trust root version {claimed.version} with sha256 "
                f"{claimed.digest[:12]}…, but the verified version {root.version} is "
                f"{root.digest[:12]}…",
                made=made,
            )
        effect = None
        if kind == RECEIPT_TYPE and stored.is_receipt:
            effect = self._in_effect_problem(stored.sequence, root)
        return _Basis(root, effect, made=made)

    def _in_effect_problem(self, sequence: int, root: RootVersion) -> str | None:
        """Why a chain receipt may not claim `root`: another version is in effect for it."""
        expected = self.history.in_effect_for(sequence)
        if expected is None:
            return (
                f"receipt {sequence} was made before the pinned trust root version "
                f"{self.history.first.version} took effect (it takes effect after receipt "
                f"{self.history.first.metadata.effective_after})"
            )
        if expected.version != root.version:
            return (
                f"receipt {sequence} claims trust root version {root.version}, but version "
                f"{expected.version} is in effect for it (version {expected.version} takes "
                f"effect after receipt {expected.metadata.effective_after})"
            )
        return None

    def _repository_check(self, basis: _Basis) -> Check:
        if basis.legacy:
            if basis.root is None:
                return Check("repository", "FAIL", basis.problem or "made before trust roots")
            return Check(
                "repository",
                "PASS",
                "made before trust roots; adopted by `mu trust migrate` into trust root "
                f"version 1 of `{self.history.repository}`",
            )
        assert basis.made is not None
        if basis.made.repository != self.history.repository:
            return Check(
                "repository",
                "FAIL",
                f"made for repository `{basis.made.repository}`, not `{self.history.repository}`",
            )
        return Check("repository", "PASS", f"made for repository `{self.history.repository}`")

    def _signature_check(self, envelope: Envelope, root: RootVersion) -> Check:
        metadata = root.metadata
        known = metadata.all_keys()
        verified = verify_signatures(envelope, known)
        signed = sorted({s.keyid for s in envelope.signatures})
        if self.public_key is not None:
            given = keyid_of(self.public_key)
            if not verify_signatures(envelope, {given: self.public_key}):
                return Check(
                    "signature",
                    "FAIL",
                    f"no signature verifies with the given public key {given[:12]}",
                )
            if given not in verified:
                who = metadata.identity_of(given)
                return Check(
                    "signature",
                    "PASS",
                    f"Ed25519 signature by the given key {given[:12]} verifies"
                    + (
                        f" (`{who}`)"
                        if who
                        else f"; trust root version {root.version} does not name that key"
                    ),
                )
        if not verified:
            if any(k in known for k in signed):
                detail = "the signature does not verify: the payload or signature was altered"
            else:
                detail = (
                    f"signed by key {', '.join(k[:12] for k in signed)}, which trust root "
                    f"version {root.version} does not name: an untrusted key"
                )
            return Check("signature", "FAIL", detail)
        named = ", ".join(f"{k[:12]} (`{metadata.identity_of(k)}`)" for k in verified)
        return Check("signature", "PASS", f"Ed25519 signature by {named} verifies")

    def _trust_check(
        self, stored: StoredReceipt, basis: _Basis, role: Role | None
    ) -> tuple[Check, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """Whether a quorum of `role` signed under the version the statement was made under:
        the check, the identities and keys that count, and the signatures that do not."""
        envelope = stored.envelope
        if basis.root is None or role is None:
            untrusted = _untrusted(envelope, self.history.newest, role, ())
            return Check("trust", "FAIL", basis.problem or "no role signs it"), (), (), untrusted
        root = basis.root
        q = quorum(envelope, root.metadata, role)
        untrusted = _untrusted(envelope, root, role, q.keyids)
        if basis.problem:
            return Check("trust", "FAIL", basis.problem), q.identities, q.keyids, untrusted
        if not q.ok:
            return (
                Check("trust", "FAIL", f"not trusted: {q.describe(root.metadata)}"),
                q.identities,
                q.keyids,
                untrusted,
            )
        names = ", ".join(f"`{n}`" for n in q.identities)
        detail = (
            f"{names} signed for `{role}` under trust root version {root.version} "
            f"({len(q.identities)}/{q.threshold})"
        )
        if basis.legacy:
            detail += " (version 1 adopted this statement from before trust roots)"
        return Check("trust", "PASS", detail), q.identities, q.keyids, untrusted

    def _link_check(self, receipt: StoredReceipt, basis: _Basis) -> Check:
        # Sequence and parent are only typed in a well-formed receipt statement.
        if not receipt.is_receipt:
            return Check("chain", "FAIL", "not checked: the statement is malformed")
        sequence, parent = receipt.sequence, receipt.predicate.parent
        chain = self.chain
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
                return Check(
                    "chain", "FAIL", f"receipt {sequence} has no parent but is not the first"
                )
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

    def _approvals_check(
        self, receipt: StoredReceipt, basis: _Basis, signers: tuple[str, ...]
    ) -> Check:
        if not receipt.is_receipt:
            return Check("approvals", "FAIL", "not checked: the statement is malformed")
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
        results = [recheck(self.layout, receipt, basis.root, s) for s in signers or (None,)]
        return next((r for r in results if not r.ok), results[0])

    def _audit_check(self, stored: StoredReceipt) -> Check:
        if not stored.well_formed:
            return Check("chain", "FAIL", "not checked: the statement is malformed")
        audit = AuditPredicate.from_predicate(stored.statement["predicate"])
        link = next((r for r in self.chain if r.digest == audit.receipt_digest), None)
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
        return Check(
            "chain", "PASS", f"audits link `{link.path.name}` of the chain (replay {verdict})"
        )

    def _rejection_check(self, stored: StoredReceipt) -> Check:
        if not stored.well_formed:
            return Check("rejection", "FAIL", "not checked: the statement is malformed")
        override = OverridePredicate.from_predicate(stored.statement["predicate"])
        path = self.rejected.get(override.rejection)
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

    # --- a trust-root version ----------------------------------------------------

    def _trust_root(self, stored: StoredReceipt) -> StatementVerdict:
        checks = [Check("envelope", "PASS", "DSSE envelope with an in-toto payload")]
        history = self.history

        def verdict(
            root: RootVersion | None = None,
            signers: tuple[str, ...] = (),
            keyids: tuple[str, ...] = (),
        ) -> StatementVerdict:
            return StatementVerdict(
                receipt=stored,
                checks=tuple(checks),
                kind=TRUST_ROOT_TYPE,
                role="root",
                root=root,
                signers=signers,
                keyids=keyids,
                warning=self.warning,
            )

        try:
            given = parse_version(stored.envelope, stored.path)
        except CheckFailed as exc:
            checks.append(Check("statement", "FAIL", exc.message))
            for name in ("repository", "signature", "trust"):
                checks.append(Check(name, "FAIL", "not checked: the statement is malformed"))
            return verdict()
        metadata = given.metadata
        checks.append(
            Check("statement", "PASS", f"in-toto Statement v1, trust root version {given.version}")
        )
        checks.append(
            Check.of(
                "repository",
                metadata.repository == history.repository,
                f"names repository `{metadata.repository}`"
                + (
                    ""
                    if metadata.repository == history.repository
                    else f", not `{history.repository}`"
                ),
            )
        )
        previous = history.version(given.version - 1)
        keys = {**(previous.metadata.all_keys() if previous else {}), **metadata.all_keys()}
        verified = verify_signatures(stored.envelope, keys)
        signature = Check.of(
            "signature",
            bool(verified),
            f"Ed25519 signature(s) by {', '.join(k[:12] for k in verified)} verify"
            if verified
            else "no signature verifies with a key of this version or the one before it",
        )
        if self.public_key is not None:
            given_key = keyid_of(self.public_key)
            if not verify_signatures(stored.envelope, {given_key: self.public_key}):
                signature = Check(
                    "signature",
                    "FAIL",
                    f"no signature verifies with the given public key {given_key[:12]}",
                )
        checks.append(signature)
        own = quorum(stored.envelope, metadata, "root")
        known = history.version(given.version)
        if known is None:
            if given.version < history.first.version:
                detail = (
                    f"version {given.version} is older than the pinned version "
                    f"{history.first.version}: it is not checked"
                )
            else:
                detail = (
                    f"version {given.version} is not a verified version of this repository's "
                    f"trust root (newest: {history.newest.version})"
                )
            checks.append(Check("trust", "FAIL", detail))
            return verdict(None, own.identities, own.keyids)
        if known.digest != given.digest:
            checks.append(
                Check(
                    "trust",
                    "FAIL",
                    f"is not version {given.version} of this repository's trust root "
                    f"(sha256 {given.digest[:12]}…; the verified one is {known.digest[:12]}…)",
                )
            )
            return verdict(known, own.identities, own.keyids)
        problems = []
        if not own.ok and (given.version == 1 or given.version != history.first.version):
            problems.append(f"its own root quorum: {own.describe(metadata)}")
        if previous is not None:
            prior = quorum(stored.envelope, previous.metadata, "root")
            if not prior.ok:
                problems.append(
                    f"the root quorum of version {previous.version}: "
                    f"{prior.describe(previous.metadata)}"
                )
        if problems:
            checks.append(Check("trust", "FAIL", "this copy lacks " + "; ".join(problems)))
        else:
            names = ", ".join(f"`{n}`" for n in own.identities) or "no identity"
            pinned = " (the pinned version)" if given.version == history.first.version else ""
            checks.append(
                Check(
                    "trust",
                    "PASS",
                    f"version {given.version}{pinned} of the verified trust root, signed by "
                    f"{names} for `root`",
                )
            )
        return verdict(known, own.identities, own.keyids)


def _untrusted(
    envelope: Envelope, root: RootVersion, role: Role | None, counted: Iterable[str]
) -> tuple[str, ...]:
    """Every signature that does not count for `role` in `root`, and why, one phrase each."""
    metadata = root.metadata
    known = metadata.all_keys()
    verified = set(verify_signatures(envelope, known))
    counted = set(counted)
    out = []
    for keyid in sorted({s.keyid for s in envelope.signatures}):
        if keyid in counted:
            continue
        holder = metadata.identity_of(keyid)
        if holder is None:
            out.append(f"untrusted key {keyid[:12]}")
        elif keyid not in verified:
            out.append(f"`{holder}` (signature does not verify)")
        else:
            held = ", ".join(metadata.roles_of(keyid)) or "no role"
            out.append(f"`{holder}` (holds {held}, not {role})")
    return tuple(out)


def _statement_check(stored: StoredReceipt, kind: str | None, role: Role | None) -> Check:
    if stored.problems:
        shown = stored.problems[:5]
        detail = "; ".join(f"{p.where} {p.message}" for p in shown)
        if len(stored.problems) > len(shown):
            detail += f"; {describe(stored.problems[len(shown) :])}"
        return Check("statement", "FAIL", detail)
    if role is None:
        return Check("statement", "FAIL", f"`{kind}` is not a kind of statement this mu verifies")
    return Check(
        "statement",
        "PASS",
        f"in-toto Statement v1, mu `{KIND_NAMES[kind or '']}` (signed by the `{role}` role)",
    )


# --- the functions commands call ---------------------------------------------------


def verify_statement(
    layout: Layout,
    path: Path,
    *,
    trust_root: str | None = None,
    public_key_path: Path | None = None,
    kind: str | None = None,
) -> StatementVerdict:
    """Check one statement of any kind (or only of `kind`) against the trust root.

    A statement whose content is malformed yields a verdict that fails (never an
    exception), so every caller that requires `verdict.ok` before reading its
    fields reads only well-typed ones.
    """
    return Verifier(layout, trust_root=trust_root, public_key_path=public_key_path).path(path, kind)


def verify_receipt(
    layout: Layout,
    path: Path,
    *,
    public_key_path: Path | None = None,
    trust_root: str | None = None,
) -> StatementVerdict:
    """`mu verify-receipt`: any statement kind, each against its own role."""
    return verify_statement(layout, path, trust_root=trust_root, public_key_path=public_key_path)


@dataclass(frozen=True)
class ChainReport:
    """Every receipt of the chain with its verdict, oldest first."""

    verdicts: tuple[StatementVerdict, ...]
    gaps: tuple[str, ...]  # sequence numbers missing or duplicated
    history: TrustHistory | None = None

    @property
    def ok(self) -> bool:
        """True when every receipt verifies and the chain has no gap."""
        return not self.gaps and all(v.ok for v in self.verdicts)

    @property
    def warning(self) -> str | None:
        """The history's warning: nothing pinned the trust root."""
        return self.history.warning if self.history is not None else None


def chain_report(verifier: Verifier) -> ChainReport:
    """Verify every receipt of `receipts/` and that sequences run 1..N without a gap."""
    chain = verifier.chain
    verdicts = tuple(verifier.loaded(r) for r in chain)
    gaps = []
    for expected, receipt in enumerate(chain, start=1):
        # A malformed receipt has no sequence to compare; its verdict already fails.
        if receipt.well_formed and receipt.sequence != expected:
            gaps.append(
                f"`{receipt.path.name}` has sequence {receipt.sequence}, expected {expected}"
            )
            break
    return ChainReport(verdicts, tuple(gaps), verifier.history)


def verify_chain(
    layout: Layout, *, public_key_path: Path | None = None, trust_root: str | None = None
) -> ChainReport:
    """Verify every receipt of the chain (a malformed one is a failed verdict, not an abort)."""
    return chain_report(Verifier(layout, trust_root=trust_root, public_key_path=public_key_path))
