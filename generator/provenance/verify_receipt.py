"""`mu verify-receipt` and the chain walk behind `mu log`.

Each check is named and reported separately, so an auditor sees exactly what
failed: the envelope, the signature, the signer's trust, the statement, or
the link to the parent. An unreadable file is an input error (exit 2) before
any check runs; a readable one whose statement is malformed fails the
`statement` check, and its link is not followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from generator.layout import Layout
from generator.provenance.dsse import verify_signatures
from generator.provenance.keys import keyid_of, load_public_key
from generator.provenance.receipt import (
    RECEIPT_NAME,
    RECEIPT_TYPE,
    StoredReceipt,
    load_chain,
    load_receipt,
    receipt_name,
)
from generator.provenance.statement import describe
from generator.provenance.trust import TrustPolicy, load_trust
from generator.provenance.verdict import Check

# The checks of one receipt, in the order they run and are reported.
ReceiptCheck = Literal["envelope", "signature", "trust", "statement", "chain"]
RECEIPT_CHECKS: Final[tuple[ReceiptCheck, ...]] = get_args(ReceiptCheck)


@dataclass(frozen=True)
class ReceiptVerdict:
    """Every check run on one receipt, and which trusted key signed it."""

    receipt: StoredReceipt
    checks: tuple[Check, ...]
    signer: str | None  # keyid whose signature verified

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that failed."""
        return tuple(c for c in self.checks if not c.ok)


def _signature_checks(
    receipt: StoredReceipt, trust: TrustPolicy, role: str, public_key: Ed25519PublicKey | None
) -> tuple[list[Check], str | None]:
    keyids = sorted({s.keyid for s in receipt.envelope.signatures})
    if public_key is not None:
        given = keyid_of(public_key)
        verified = verify_signatures(receipt.envelope, {given: public_key})
        if verified:
            return [
                Check("signature", "PASS", f"Ed25519 signature by {given[:12]} verifies"),
                Check("trust", "PASS", "checked against the given public key"),
            ], given
        return [
            Check("signature", "FAIL", f"no signature verifies with the given key {given[:12]}"),
            Check("trust", "FAIL", "the given public key did not sign this receipt"),
        ], None
    known = {t.keyid: t.public_key() for t in trust.keys}
    verified = verify_signatures(receipt.envelope, known)
    if not verified:
        if any(k in known for k in keyids):
            detail = "the signature does not verify: the payload or signature was altered"
        else:
            detail = (
                f"signed by keyid {', '.join(k[:12] for k in keyids)}, which "
                "`receipts/trust.json` does not name; pass --public-key to check it alone"
            )
        return [
            Check("signature", "FAIL", detail),
            Check("trust", "FAIL", "no trusted signer"),
        ], None
    allowed = trust.keys_for(role)
    for keyid in verified:
        if keyid in allowed:
            entry = trust.find(keyid)
            name = entry.name if entry else keyid[:12]
            return [
                Check("signature", "PASS", f"Ed25519 signature by {keyid[:12]} verifies"),
                Check("trust", "PASS", f"signer `{name}` is trusted for the `{role}` role"),
            ], keyid
    entry = trust.find(verified[0])
    roles = ", ".join(entry.roles) if entry else "none"
    return [
        Check("signature", "PASS", f"Ed25519 signature by {verified[0][:12]} verifies"),
        Check("trust", "FAIL", f"signer is trusted for {roles}, not for `{role}`"),
    ], None


def _statement_check(receipt: StoredReceipt) -> Check:
    if receipt.is_receipt:
        return Check("statement", "PASS", "in-toto Statement v1, mu receipt")
    if receipt.well_formed:  # read as another kind of statement
        return Check("statement", "FAIL", f"the statement is not a `{RECEIPT_TYPE}`")
    shown = receipt.problems[:5]
    detail = "; ".join(f"{p.where} {p.message}" for p in shown)
    if len(receipt.problems) > len(shown):
        detail += f"; {describe(receipt.problems[len(shown) :])}"
    return Check("statement", "FAIL", detail)


def _link_check(receipt: StoredReceipt, chain: list[StoredReceipt]) -> Check:
    # Sequence and parent are only typed in a well-formed receipt statement.
    if not receipt.is_receipt:
        return Check("chain", "FAIL", "not checked: the statement is malformed")
    sequence, parent = receipt.sequence, receipt.predicate.parent
    if RECEIPT_NAME.match(receipt.path.name) and receipt.path.name != receipt_name(
        sequence, receipt.digest
    ):
        return Check(
            "chain",
            "FAIL",
            f"file name `{receipt.path.name}` does not match its content "
            f"(expected `{receipt_name(sequence, receipt.digest)}`)",
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
    return Check("chain", "PASS", f"parent {found[0].path.name} is present")


def verify_loaded(
    receipt: StoredReceipt,
    layout: Layout,
    *,
    chain: list[StoredReceipt],
    trust: TrustPolicy,
    role: str = "release",
    public_key: Ed25519PublicKey | None = None,
) -> ReceiptVerdict:
    """All checks on one already-read receipt."""
    checks = [Check("envelope", "PASS", "DSSE envelope with an in-toto payload")]
    sig_checks, signer = _signature_checks(receipt, trust, role, public_key)
    checks += sig_checks
    checks.append(_statement_check(receipt))
    checks.append(_link_check(receipt, chain))
    return ReceiptVerdict(receipt, tuple(checks), signer)


def verify_receipt(
    layout: Layout, path: Path, *, public_key_path: Path | None = None, role: str = "release"
) -> ReceiptVerdict:
    """`mu verify-receipt`: envelope, signature, trust, statement and parent link.

    A receipt whose statement is malformed yields a verdict that fails (never
    an exception), so every caller that requires `verdict.ok` before reading
    the receipt's fields reads only well-typed ones.
    """
    receipt = load_receipt(path)
    public_key = load_public_key(public_key_path) if public_key_path else None
    return verify_loaded(
        receipt,
        layout,
        chain=load_chain(layout.receipts),
        trust=load_trust(layout.trust_file),
        role=role,
        public_key=public_key,
    )


@dataclass(frozen=True)
class ChainReport:
    """Every receipt of the chain with its verdict, oldest first."""

    verdicts: tuple[ReceiptVerdict, ...]
    gaps: tuple[str, ...]  # sequence numbers missing or duplicated

    @property
    def ok(self) -> bool:
        """True when every receipt verifies and the chain has no gap."""
        return not self.gaps and all(v.ok for v in self.verdicts)


def verify_chain(layout: Layout, *, public_key_path: Path | None = None) -> ChainReport:
    """Verify every receipt of `receipts/` and that sequences run 1..N without a gap.

    A malformed receipt is a failed verdict of its own, not an abort.
    """
    chain = load_chain(layout.receipts)
    trust = load_trust(layout.trust_file)
    public_key = load_public_key(public_key_path) if public_key_path else None
    verdicts = tuple(
        verify_loaded(r, layout, chain=chain, trust=trust, public_key=public_key) for r in chain
    )
    gaps = []
    for expected, receipt in enumerate(chain, start=1):
        # A malformed receipt has no sequence to compare; its verdict already fails.
        if receipt.well_formed and receipt.sequence != expected:
            gaps.append(
                f"`{receipt.path.name}` has sequence {receipt.sequence}, expected {expected}"
            )
            break
    return ChainReport(verdicts, tuple(gaps))
