"""The checks whether a statement is trusted: its shape, basis, signature and quorum.

Every statement kind but the trust root gets these (`verify_receipt.Verifier`):

- `statement_check`: the statement has the shape of its kind;
- `find_basis`: the trust-root version it is checked against (`Basis`), or why
  none counts;
- `repository_check`: it names this repository, or version 1 adopted it;
- `signature_check`: a signature verifies with a key of that version (the
  `--public-key` only narrows: `public_key_failure`);
- `trust_check`: a quorum of the kind's role signed it in that version, and
  `untrusted` names every signature that does not count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mu.generator.provenance.claims import MadeUnder
from mu.generator.provenance.dsse import Envelope, hint, match_signatures, verify_signatures
from mu.generator.provenance.keys import keyid_of
from mu.generator.provenance.kinds import KIND_NAMES
from mu.generator.provenance.receipt import RECEIPT_TYPE, StoredReceipt
from mu.generator.provenance.statement import describe
from mu.generator.provenance.trusthistory import TrustHistory
from mu.generator.provenance.trustroot import Role, RootVersion, quorum
from mu.generator.provenance.verdict import Check

# The detail of a check that a malformed statement leaves unread.
MALFORMED = "not checked: the statement is malformed"
# The trust check, the identities and keys that count, and the signatures that do not.
TrustResult = tuple[Check, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class Basis:
    """The trust-root version a statement is checked against, or why there is none."""

    root: RootVersion | None
    problem: str | None  # why the statement's version does not count ("" when fine)
    legacy: bool = False
    made: MadeUnder | None = None


def statement_check(stored: StoredReceipt, kind: str | None, role: Role | None) -> Check:
    """`statement`: the statement has the shape of `kind`, which `role` signs."""
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


def find_basis(stored: StoredReceipt, kind: str | None, history: TrustHistory) -> Basis:
    """The version a well-formed statement is checked against, or why none counts."""
    predicate = stored.statement.get("predicate")
    made = MadeUnder.from_predicate(predicate) if isinstance(predicate, dict) else None
    if made is None:
        first = history.version(1)
        if first is None:
            return Basis(
                None,
                "made before trust roots: only trust root version 1 can adopt it, and "
                f"verification starts at the pinned version {history.first.version}",
                legacy=True,
            )
        if stored.digest not in first.metadata.legacy:
            return Basis(
                None,
                "made before trust roots and not adopted by `mu trust migrate` "
                "(version 1 of the trust root does not list its digest)",
                legacy=True,
            )
        return Basis(first, None, legacy=True)
    claimed = made.trust_root
    if made.repository != history.repository:
        # Its version would be another repository's: nothing here can vouch for it.
        return Basis(
            None,
            f"made under trust root version {claimed.version} of repository "
            f"`{made.repository}`, not of `{history.repository}`",
            made=made,
        )
    root = history.version(claimed.version)
    if root is None:
        problem = history.unverified(
            claimed.version,
            older="made under trust root version {number}, older than the pinned version {pinned}",
            unknown="names trust root version {number}, which this repository "
            "does not have (newest: {newest})",
        )
        return Basis(None, problem, made=made)
    if root.digest != claimed.digest:
        return Basis(
            None,
            f"names trust root version {claimed.version} with sha256 "
            f"{claimed.digest[:12]}…, but the verified version {root.version} is "
            f"{root.digest[:12]}…",
            made=made,
        )
    effect = None
    if kind == RECEIPT_TYPE and stored.is_receipt:
        effect = _in_effect_problem(history, stored.sequence, root)
    return Basis(root, effect, made=made)


def _in_effect_problem(history: TrustHistory, sequence: int, root: RootVersion) -> str | None:
    """Why a chain receipt may not claim `root`: another version is in effect for it."""
    expected = history.in_effect_for(sequence)
    if expected is None:
        return (
            f"receipt {sequence} was made before the pinned trust root version "
            f"{history.first.version} took effect (it takes effect after receipt "
            f"{history.first.metadata.effective_after})"
        )
    if expected.version != root.version:
        return (
            f"receipt {sequence} claims trust root version {root.version}, but version "
            f"{expected.version} is in effect for it (version {expected.version} takes "
            f"effect after receipt {expected.metadata.effective_after})"
        )
    return None


def repository_check(basis: Basis, history: TrustHistory) -> Check:
    """`repository`: the statement names this repository, or version 1 adopted it."""
    if basis.legacy:
        if basis.root is None:
            return Check("repository", "FAIL", basis.problem or "made before trust roots")
        return Check(
            "repository",
            "PASS",
            "made before trust roots; adopted by `mu trust migrate` into trust root "
            f"version 1 of `{history.repository}`",
        )
    assert basis.made is not None
    if basis.made.repository != history.repository:
        return Check(
            "repository",
            "FAIL",
            f"made for repository `{basis.made.repository}`, not `{history.repository}`",
        )
    return Check("repository", "PASS", f"made for repository `{history.repository}`")


def public_key_failure(envelope: Envelope, public_key: Ed25519PublicKey | None) -> Check | None:
    """The failed `signature` check when no signature verifies with `--public-key`.

    None when no key was given or a signature verifies with it: the key only
    narrows, it never makes a signature trusted.
    """
    if public_key is None:
        return None
    given = keyid_of(public_key)
    if verify_signatures(envelope, {given: public_key}):
        return None
    return Check(
        "signature",
        "FAIL",
        f"no signature verifies with the given public key {given[:12]}",
    )


def signature_check(
    envelope: Envelope, root: RootVersion, public_key: Ed25519PublicKey | None
) -> Check:
    """`signature`: a signature verifies with a key `root` names (and with `public_key`)."""
    metadata = root.metadata
    known = metadata.all_keys()
    verified = verify_signatures(envelope, known)
    if public_key is not None:
        failure = public_key_failure(envelope, public_key)
        if failure is not None:
            return failure
        given = keyid_of(public_key)
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
        # The keyids are only claims: every key of the version was tried. A claim
        # naming one of them says which story is likelier, an alteration.
        if any(s.keyid in known for s in envelope.signatures):
            detail = "the signature does not verify: the payload or signature was altered"
        else:
            claimed = sorted({hint(s) for s in envelope.signatures})
            detail = (
                f"signed by key {', '.join(claimed)}: no key of trust root version "
                f"{root.version} verifies it (an untrusted key, or an altered payload)"
            )
        return Check("signature", "FAIL", detail)
    named = ", ".join(f"{k[:12]} (`{metadata.identity_of(k)}`)" for k in verified)
    return Check("signature", "PASS", f"Ed25519 signature by {named} verifies")


def trust_check(
    stored: StoredReceipt, basis: Basis, role: Role | None, history: TrustHistory
) -> TrustResult:
    """Whether a quorum of `role` signed under the version the statement was made under:
    the check, the identities and keys that count, and the signatures that do not."""
    envelope = stored.envelope
    if basis.root is None or role is None:
        not_counted = untrusted(envelope, history.newest, role, ())
        return Check("trust", "FAIL", basis.problem or "no role signs it"), (), (), not_counted
    root = basis.root
    q = quorum(envelope, root.metadata, role)
    not_counted = untrusted(envelope, root, role, q.keyids)
    if basis.problem:
        return Check("trust", "FAIL", basis.problem), q.identities, q.keyids, not_counted
    if not q.ok:
        return (
            Check("trust", "FAIL", f"not trusted: {q.describe(root.metadata)}"),
            q.identities,
            q.keyids,
            not_counted,
        )
    names = ", ".join(f"`{n}`" for n in q.identities)
    detail = (
        f"{names} signed for `{role}` under trust root version {root.version} "
        f"({len(q.identities)}/{q.threshold})"
    )
    if basis.legacy:
        detail += " (version 1 adopted this statement from before trust roots)"
    return Check("trust", "PASS", detail), q.identities, q.keyids, not_counted


def untrusted(
    envelope: Envelope, root: RootVersion, role: Role | None, counted: Iterable[str]
) -> tuple[str, ...]:
    """Every signature that does not count for `role` in `root`, and why, one phrase each.

    A signature that verifies is named by its key's holder whatever keyid it
    claims; one that verifies with no key (or whose key already counted) by the
    keyid it claims.
    """
    metadata = root.metadata
    match = match_signatures(envelope, metadata.all_keys())
    counted = set(counted)
    out = set()
    for signature, keyid in zip(envelope.signatures, match.keyids, strict=True):
        if keyid is not None:
            if keyid not in counted:
                held = ", ".join(metadata.roles_of(keyid)) or "no role"
                out.add(f"`{metadata.identity_of(keyid)}` (holds {held}, not {role})")
            continue
        holder = metadata.identity_of(signature.keyid)
        if holder is None:
            out.add(f"untrusted key {hint(signature)}")
        elif signature.keyid not in counted:
            out.add(f"`{holder}` (signature does not verify)")
    return tuple(sorted(out))
