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
and every command that checks a receipt before using it. This module holds the
verdict, the `Verifier` and the functions commands call; the checks themselves
live in `verify_basis.py` (`statement`, `repository`, `signature`, `trust`),
`verify_links.py` (`chain`, `approvals`, `rejection`) and `verify_trustroot.py`
(a trust-root statement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Final, Literal, get_args

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mu.generator.layout import Layout
from mu.generator.provenance.keys import load_public_key
from mu.generator.provenance.kinds import KIND_NAMES, KIND_ROLE
from mu.generator.provenance.receipt import RECEIPT_TYPE, StoredReceipt, load_chain, load_receipt
from mu.generator.provenance.statement import AUDIT_TYPE, OVERRIDE_TYPE
from mu.generator.provenance.trusthistory import TrustHistory, load_history
from mu.generator.provenance.trustroot import TRUST_ROOT_TYPE, Role, RootVersion
from mu.generator.provenance.verdict import Check
from mu.generator.provenance.verify_basis import (
    find_basis,
    repository_check,
    signature_check,
    statement_check,
    trust_check,
    untrusted,
)
from mu.generator.provenance.verify_links import (
    approvals_check,
    audit_check,
    link_check,
    rejected_digests,
    rejection_check,
)
from mu.generator.provenance.verify_trustroot import trust_root_checks

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


# The first check of every statement: reading it already required a DSSE envelope.
_ENVELOPE = Check("envelope", "PASS", "DSSE envelope with an in-toto payload")


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
        return rejected_digests(self.layout)

    @property
    def warning(self) -> str | None:
        """What an unpinned check must say loudly (None when pinned)."""
        return self.history.warning

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

    def _statement(self, stored: StoredReceipt, kind: str | None) -> StatementVerdict:
        """A statement of any kind but the trust root, each check in `STATEMENT_CHECKS` order."""
        history = self.history
        role = KIND_ROLE.get(kind) if kind is not None else None
        checks = [_ENVELOPE]
        statement = statement_check(stored, kind, role)
        checks.append(statement)
        if not statement.ok:
            # Nothing it says can be read: only whether its signature holds is reported.
            checks.append(signature_check(stored.envelope, history.newest, self.public_key))
            return StatementVerdict(
                receipt=stored,
                checks=tuple(checks),
                kind=kind,
                role=role,
                root=None,
                untrusted=untrusted(stored.envelope, history.newest, role, ()),
                warning=self.warning,
            )
        basis = find_basis(stored, kind, history)
        checks.append(repository_check(basis, history))
        signed_against = basis.root if basis.root else history.newest
        checks.append(signature_check(stored.envelope, signed_against, self.public_key))
        trust, signers, keyids, not_counted = trust_check(stored, basis, role, history)
        checks.append(trust)
        if kind == RECEIPT_TYPE:
            checks.append(link_check(stored, basis, self.chain))
            checks.append(approvals_check(self.layout, stored, basis, signers))
        elif kind == AUDIT_TYPE:
            checks.append(audit_check(stored, self.chain))
        elif kind == OVERRIDE_TYPE:
            checks.append(rejection_check(stored, self.rejected))
        return StatementVerdict(
            receipt=stored,
            checks=tuple(checks),
            kind=kind,
            role=role,
            root=basis.root,
            signers=signers,
            keyids=keyids,
            untrusted=not_counted,
            signed_at=basis.made.signed_at if basis.made else None,
            legacy=basis.legacy,
            warning=self.warning,
        )

    def _trust_root(self, stored: StoredReceipt) -> StatementVerdict:
        """A trust-root statement: one version of the signed root."""
        result = trust_root_checks(stored, self.history, self.public_key)
        return StatementVerdict(
            receipt=stored,
            checks=(_ENVELOPE, *result.checks),
            kind=TRUST_ROOT_TYPE,
            role="root",
            root=result.root,
            signers=result.signers,
            keyids=result.keyids,
            warning=self.warning,
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
