"""`mu log`: every signed statement of the repository, in order, each verified.

The chain's receipts, and beside them rejections (`receipts/rejected/`),
approvals and overrides (`receipts/approvals/`), upgrades, audits and the
trust-root versions, each with its kind, file, the identities that signed it
(and, for a receipt, those that approved it or overrode the rejection it
proceeded from), its `signedAt` claim, gates, control changes and whether it
verifies under the trust root (`verify_receipt.Verifier`). An untrusted
signature is named. Any statement that does not verify, or a gap in the chain,
fails the log.

Order: by the `signedAt` claim (the signer's, not proven), then by position in
the chain. A statement without a claim takes its place from the chain: one
made before trust roots comes first; a trust-root version just before the
first statement made under it or a later one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mu.generator.errors import InputError
from mu.generator.layout import Layout
from mu.generator.provenance.kinds import AuditPredicate, OverridePredicate
from mu.generator.provenance.predicates import ApprovalRef
from mu.generator.provenance.receipt import RECEIPT_NAME, StoredReceipt, load_receipt
from mu.generator.provenance.statement import (
    APPROVAL_TYPE,
    AUDIT_TYPE,
    OVERRIDE_TYPE,
    RECEIPT_TYPE,
    REJECTION_TYPE,
    UPGRADE_TYPE,
)
from mu.generator.provenance.trusthistory import TrustHistory
from mu.generator.provenance.trustroot import TRUST_ROOT_TYPE, Role, RootMetadata, RootVersion
from mu.generator.provenance.verify_receipt import (
    ChainReport,
    StatementVerdict,
    Verifier,
    chain_report,
)

# Within one instant and one place in the chain: the order things happen in.
_RANK = {
    TRUST_ROOT_TYPE: 0,
    REJECTION_TYPE: 1,
    OVERRIDE_TYPE: 2,
    APPROVAL_TYPE: 3,
    RECEIPT_TYPE: 4,
    AUDIT_TYPE: 5,
    UPGRADE_TYPE: 6,
}
_LAST = float("inf")


@dataclass(frozen=True)
class LogEntry:
    """One signed statement as the log shows it.

    `sequence` is set for the chain's receipts only; `approvers` are, for a
    receipt, the compliance identities whose approvals (or override) it records,
    and `counted` those statements' digests. `parent` is a receipt's parent, or a
    rejection's context (the newest receipt when the build was rejected).
    """

    kind: str  # `Receipt`, `Rejection`, `Approval`, `Override`, `Audit`, `Upgrade`, `TrustRoot`
    file: str  # relative to the repository root
    digest: str
    sequence: int | None
    parent: str | None
    signers: tuple[str, ...]  # identities whose signature counts
    untrusted: tuple[str, ...]  # signatures that do not count, and why
    approvers: tuple[str, ...]
    override: str | None  # the rejection a receipt's override lifted
    signed_at: str | None
    trust_root: int | None  # the version it was made under (checked against)
    gates: Mapping[str, str]
    ontology_digest: str
    generator_version: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    golden: str
    summary: str
    verified: bool
    problems: tuple[str, ...]
    counted: tuple[str, ...] = ()
    legacy: bool = False  # made before trust roots, adopted by a migration
    order: tuple[str, float, int, int, str] = field(
        default=("", 0.0, 0, 0, ""), compare=False, repr=False
    )

    @property
    def is_receipt(self) -> bool:
        """A link of the chain."""
        return self.sequence is not None

    @property
    def signer(self) -> str:
        """Who signed, in a phrase: the identities, else what signed it untrusted."""
        if self.signers:
            return ", ".join(self.signers)
        if self.untrusted:
            return "; ".join(self.untrusted)
        return "no verified signer"

    @property
    def policy_change(self) -> bool:
        """Whether this receipt records a change of controls."""
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class Log:
    """Every statement in order, the chain's gaps and the trust root it was read under."""

    entries: tuple[LogEntry, ...]
    gaps: tuple[str, ...]
    history: TrustHistory

    @property
    def ok(self) -> bool:
        """True when every statement verified and the chain has no gap."""
        return not self.gaps and all(e.verified for e in self.entries)

    @property
    def chain(self) -> tuple[LogEntry, ...]:
        """The receipts of the chain, in sequence order."""
        return tuple(sorted((e for e in self.entries if e.is_receipt), key=_by_sequence))

    @property
    def policy_changes(self) -> int:
        """Receipts that changed at least one control."""
        return sum(1 for e in self.entries if e.is_receipt and e.policy_change)

    @property
    def warning(self) -> str | None:
        """What an unpinned log must say loudly (None when pinned)."""
        return self.history.warning


def _by_sequence(entry: LogEntry) -> int:
    return entry.sequence or 0


def _names(refs: Iterable[ApprovalRef]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.identity or f"key {r.keyid[:12]}" for r in refs))


def _shown(layout: Layout, path: Path) -> str:
    try:
        return path.resolve().relative_to(layout.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _problems(verdict: StatementVerdict) -> tuple[str, ...]:
    return tuple(f"{c.name}: {c.detail}" for c in verdict.failures)


def _base(layout: Layout, verdict: StatementVerdict) -> dict[str, Any]:
    stored = verdict.receipt
    return {
        "kind": verdict.kind_name,
        "file": _shown(layout, stored.path),
        "digest": stored.digest,
        "sequence": None,
        "parent": None,
        "signers": verdict.signers,
        "untrusted": verdict.untrusted,
        "approvers": (),
        "override": None,
        "signed_at": verdict.signed_at,
        "trust_root": verdict.version,
        "gates": {},
        "ontology_digest": "",
        "generator_version": "",
        "added": (),
        "removed": (),
        "changed": (),
        "golden": "",
        "summary": "",
        "verified": verdict.ok,
        "problems": _problems(verdict),
        "legacy": verdict.legacy,
    }


def _receipt_entry(layout: Layout, verdict: StatementVerdict) -> LogEntry:
    r = verdict.receipt
    fields = _base(layout, verdict)
    if not r.is_receipt:
        # Its fields have no trustworthy type: show where it sits and why it failed.
        named = RECEIPT_NAME.match(r.path.name)
        fields |= {
            "kind": "Receipt",
            "sequence": int(named.group(1)) if named else 0,
            "generator_version": "?",
            "golden": "?/?",
            "summary": "a malformed receipt",
            "verified": False,
        }
        return LogEntry(**fields)
    p = r.predicate
    approvers = _names(p.override.by if p.override else p.approvals.by if p.approvals else ())
    summary = f"mu {p.generator.version}; ontology {p.ontology.digest[:12]}"
    if p.override is not None:
        summary += f"; proceeded under the override of rejection {p.override.rejection[:12]}"
    refs = (*(p.approvals.by if p.approvals else ()), *(p.override.by if p.override else ()))
    fields |= {
        "sequence": p.sequence,
        "parent": p.parent,
        "approvers": approvers,
        "counted": tuple(dict.fromkeys(r.statement for r in refs)),
        "override": p.override.rejection if p.override else None,
        "gates": dict(p.gates),
        "ontology_digest": p.ontology.digest,
        "generator_version": p.generator.version,
        "added": p.change.added,
        "removed": p.change.removed,
        "changed": p.change.changed,
        "golden": f"{p.golden.passed}/{p.golden.total}",
        "summary": summary,
    }
    return LogEntry(**fields)


def _rejection_fields(stored: StoredReceipt) -> dict[str, Any]:
    p = stored.rejection
    failed = ", ".join(p.failed_gates) or "a gate"
    parts = [f"build rejected: {failed} failed"]
    if p.violations:
        parts.append(f"{len(p.violations)} violation(s)")
    if p.failed_cases:
        parts.append(f"{len(p.failed_cases)} golden case(s) failed")
    if p.override_required:
        parts.append(
            "the line stops until compliance overrides it"
            if p.overridable
            else "the line stops until the ontology is fixed"
        )
    return {
        "parent": p.context,
        "gates": dict(p.gates),
        "ontology_digest": p.ontology.digest or "",
        "generator_version": p.generator.version,
        "summary": "; ".join(parts),
    }


def _statement_fields(stored: StoredReceipt, kind: str | None) -> dict[str, Any]:
    """What the log shows of a well-formed statement that is not a chain receipt."""
    predicate: Mapping[str, Any] = stored.statement.get("predicate") or {}
    if kind == REJECTION_TYPE:
        return _rejection_fields(stored)
    if kind == APPROVAL_TYPE:
        digest = predicate["ontology"]["digest"]
        return {"ontology_digest": digest, "summary": f"approves ontology {digest[:12]}"}
    if kind == OVERRIDE_TYPE:
        o = OverridePredicate.from_predicate(predicate)
        return {
            "ontology_digest": o.ontology_digest,
            "generator_version": o.generator.version,
            "summary": f"overrides rejection {o.rejection[:12]} "
            f"({len(o.violations)} violation(s) of ontology {o.ontology_digest[:12]})",
        }
    if kind == AUDIT_TYPE:
        a = AuditPredicate.from_predicate(predicate)
        verdict = "matches" if a.matches else "does NOT match"
        return {
            "generator_version": a.generator.version,
            "summary": f"replayed receipt {a.sequence} ({a.receipt_digest[:12]}): "
            f"the payload {verdict}",
        }
    if kind == UPGRADE_TYPE:
        new = predicate.get("new_generator")
        version = new.get("version") if isinstance(new, dict) else None
        equivalent = predicate.get("equivalent")
        verdict = (
            "behaviour equivalent"
            if equivalent is True
            else "behaviour CHANGES"
            if equivalent is False
            else "no verdict"
        )
        return {
            "generator_version": version if isinstance(version, str) else "",
            "summary": f"upgrade check of mu {version}: {verdict}"
            if isinstance(version, str)
            else f"upgrade check: {verdict}",
        }
    return {}


def _statement_entry(layout: Layout, verdict: StatementVerdict) -> LogEntry:
    fields = _base(layout, verdict)
    stored = verdict.receipt
    if stored.well_formed and verdict.check("statement") is not None:
        statement = verdict.check("statement")
        if statement is not None and statement.ok:
            fields |= _statement_fields(stored, verdict.kind)
    if not fields["summary"]:
        fields["summary"] = "a malformed statement" if not stored.well_formed else ""
    return LogEntry(**fields)


def _unreadable(layout: Layout, path: Path, exc: InputError) -> LogEntry:
    fields: dict[str, Any] = {
        "kind": "unreadable",
        "file": _shown(layout, path),
        "digest": "",
        "sequence": None,
        "parent": None,
        "signers": (),
        "untrusted": (),
        "approvers": (),
        "override": None,
        "signed_at": None,
        "trust_root": None,
        "gates": {},
        "ontology_digest": "",
        "generator_version": "",
        "added": (),
        "removed": (),
        "changed": (),
        "golden": "",
        "summary": "not a readable statement",
        "verified": False,
        "problems": (f"envelope: {exc.message}",),
    }
    return LogEntry(**fields)


def _identities(metadata: RootMetadata) -> dict[Role, tuple[str, ...]]:
    """Role → the identities holding it, in one version."""
    out = {}
    for role, keys in metadata.roles.items():
        out[role] = tuple(sorted({n for k in keys.keyids if (n := metadata.identity_of(k))}))
    return out


def _root_summary(version: RootVersion, previous: RootVersion | None) -> str:
    m = version.metadata
    if previous is None:
        held = "; ".join(
            f"{role}: {', '.join(f'`{n}`' for n in names)}"
            for role, names in _identities(m).items()
            if names
        )
        return (
            f"trust root version {m.version} of `{m.repository}` ({held}; "
            f"{m.approvals} compliance approval(s) per change)"
        )
    before, after = _identities(previous.metadata), _identities(m)
    changes = []
    for role in after:
        gained = sorted(set(after[role]) - set(before.get(role, ())))
        lost = sorted(set(before.get(role, ())) - set(after[role]))
        changes += [f"+`{n}` {role}" for n in gained] + [f"-`{n}` {role}" for n in lost]
        if m.roles[role].threshold != previous.metadata.roles[role].threshold:
            changes.append(f"{role} threshold {m.roles[role].threshold}")
    keys_before = {n: set(i.keys) for n, i in previous.metadata.identities.items()}
    changes += [
        f"`{n}` changed keys"
        for n, i in m.identities.items()
        if n in keys_before and set(i.keys) != keys_before[n]
    ]
    if m.approvals != previous.metadata.approvals:
        changes.append(f"{m.approvals} compliance approval(s) per change")
    what = ", ".join(changes) or "no change of identities, roles or policy"
    return f"trust root version {m.version}: {what} (in effect after receipt {m.effective_after})"


def _files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.json") if p.is_file() or p.is_symlink())


def _times(entries: Iterable[LogEntry]) -> list[str]:
    return sorted(e.signed_at for e in entries if e.signed_at)


def _ordered(entries: list[LogEntry]) -> tuple[LogEntry, ...]:
    """Give every entry its place: (claimed time, place in the chain, trust-root version,
    kind, file). The chain's receipts keep their order; a statement counted by a receipt
    sits just before it; a trust-root version just before the first statement made under
    it (or a later one), after those made under earlier versions."""
    chain = sorted((e for e in entries if e.sequence is not None), key=_by_sequence)
    counted: dict[str, int] = {}  # statement digest → the sequence of the receipt that counted it
    for e in chain:
        counted |= {d: e.sequence or 0 for d in e.counted}
    head = max((e.sequence or 0 for e in chain), default=0)
    latest = (_times(entries) or [""])[-1]
    placed: list[LogEntry] = []
    last_time = ""
    for e in chain:  # a receipt without a claim (or with an earlier one) follows its parent
        last_time = max(e.signed_at or "", last_time)
        placed.append(_place(e, last_time, float(e.sequence or 0)))
    for e in entries:
        if e.sequence is not None or e.kind == "TrustRoot":
            continue
        if e.digest in counted:
            position = counted[e.digest] - 0.5
        elif e.kind == "Rejection":
            context = next((r.sequence for r in chain if r.digest == e.parent), None)
            position = (context or 0) + 0.5
        else:  # not (yet) counted by a receipt: after the newest one
            position = head + 0.5
        time = e.signed_at if e.signed_at else ("" if e.verified else latest)
        placed.append(_place(e, time, position))
    for e in entries:
        if e.kind != "TrustRoot":
            continue
        version = e.trust_root or 0
        later = [p.order for p in placed if not p.legacy and _version(p) >= version]
        first = min(later) if later else (latest, head + 0.5)
        placed.append(_place(e, first[0], first[1]))
    return tuple(sorted(placed, key=lambda e: e.order))


def _version(entry: LogEntry) -> int:
    """The trust-root version an entry sorts under (0: made before trust roots)."""
    return 0 if entry.legacy else entry.trust_root or 0


def _place(entry: LogEntry, time: str, position: float) -> LogEntry:
    rank = _RANK.get(f"urn:mu:v1#{entry.kind}", 9)
    return replace(entry, order=(time, position, _version(entry), rank, entry.file))


def read_log(
    layout: Layout, *, public_key_path: Path | None = None, trust_root: str | None = None
) -> Log:
    """Read and verify every statement; a malformed one is an unverified entry, not an abort.

    Raises `NoTrustRoot`, or `CheckFailed` when the trust root does not verify from
    the pin: then nothing can be vouched for.
    """
    verifier = Verifier(layout, trust_root=trust_root, public_key_path=public_key_path)
    report: ChainReport = chain_report(verifier)
    entries: list[LogEntry] = [_receipt_entry(layout, v) for v in report.verdicts]
    for directory in (layout.rejected, layout.approvals, layout.audits, layout.upgrades):
        for path in _files(directory):
            try:
                verdict = verifier.path(path)
            except InputError as exc:
                entries.append(_unreadable(layout, path, exc))
                continue
            entries.append(_statement_entry(layout, verdict))
    previous: RootVersion | None = None
    for version in verifier.history.versions:
        verdict = verifier.loaded(load_receipt(version.path, None))
        fields = _base(layout, verdict)
        fields["summary"] = _root_summary(version, previous)
        fields["trust_root"] = version.version
        entries.append(LogEntry(**fields))
        previous = version
    return Log(_ordered(entries), report.gaps, verifier.history)
