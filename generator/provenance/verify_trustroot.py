"""The checks of a trust-root statement: one version of the signed root (SPEC §9).

A copy of a version is checked against the history verified from the pin:
`statement` (it parses as a version), `repository`, `signature` (a key of this
version or the one before it, and `--public-key`, which only narrows) and
`trust` (it is that verified version, with its own root quorum and the
previous version's). `verify_receipt.Verifier` turns the result into a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mu.generator.errors import CheckFailed
from mu.generator.provenance.dsse import verify_signatures
from mu.generator.provenance.receipt import StoredReceipt
from mu.generator.provenance.trusthistory import TrustHistory, parse_version
from mu.generator.provenance.trustroot import RootVersion, quorum
from mu.generator.provenance.verdict import Check
from mu.generator.provenance.verify_basis import MALFORMED, public_key_failure


@dataclass(frozen=True)
class TrustRootChecks:
    """The checks of a trust-root statement after `envelope`, the version it is, who signed it."""

    checks: tuple[Check, ...]
    root: RootVersion | None = None  # the verified version it claims to be
    signers: tuple[str, ...] = ()  # the identities of its own root quorum that signed
    keyids: tuple[str, ...] = ()


def trust_root_checks(
    stored: StoredReceipt,
    history: TrustHistory,
    public_key: Ed25519PublicKey | None,
) -> TrustRootChecks:
    """Every check but `envelope` of a trust-root statement, against the verified `history`."""
    checks: list[Check] = []
    try:
        given = parse_version(stored.envelope, stored.path)
    except CheckFailed as exc:
        checks.append(Check("statement", "FAIL", exc.message))
        for name in ("repository", "signature", "trust"):
            checks.append(Check(name, "FAIL", MALFORMED))
        return TrustRootChecks(tuple(checks))
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
                "" if metadata.repository == history.repository else f", not `{history.repository}`"
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
    checks.append(public_key_failure(stored.envelope, public_key) or signature)
    own = quorum(stored.envelope, metadata, "root")
    known = history.version(given.version)
    if known is None:
        detail = history.unverified(
            given.version,
            older="version {number} is older than the pinned version {pinned}: it is not checked",
            unknown="version {number} is not a verified version of this repository's "
            "trust root (newest: {newest})",
        )
        checks.append(Check("trust", "FAIL", detail))
        return TrustRootChecks(tuple(checks), None, own.identities, own.keyids)
    if known.digest != given.digest:
        checks.append(
            Check(
                "trust",
                "FAIL",
                f"is not version {given.version} of this repository's trust root "
                f"(sha256 {given.digest[:12]}…; the verified one is {known.digest[:12]}…)",
            )
        )
        return TrustRootChecks(tuple(checks), known, own.identities, own.keyids)
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
    return TrustRootChecks(tuple(checks), known, own.identities, own.keyids)
