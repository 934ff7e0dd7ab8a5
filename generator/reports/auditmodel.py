"""The auditor's report (`mu report`) as values: what `auditreport.audit_report` gathers
and `html.audit_html` renders.

Every field is plain text, a number or a tuple of these values, already sorted, so
rendering is a pure function of the value and the page is byte-identical for the
same repository state. Times are the signers' `signedAt` claims, never a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from mu.generator.reports.vocabulary import Vocabulary


@dataclass(frozen=True)
class Signature:
    """One signature that counts: the identity, the role it signed in, and its key."""

    identity: str
    role: str
    keyid: str


@dataclass(frozen=True)
class Approval:
    """A compliance approval (or override) a receipt counted, and when it was signed."""

    identity: str
    keyid: str
    statement: str  # the approval statement's digest
    signed_at: str  # "" when the statement carries no claim or is missing
    kind: str  # "approval" or "override"


@dataclass(frozen=True)
class Row:
    """One named verdict: a gate, a replay comparison, a verification check."""

    name: str
    status: str  # PASS / FAIL (or a drift's cause)
    detail: str


@dataclass(frozen=True)
class PropertyDelta:
    """One property of a control, old → new, as text ("" where it is absent)."""

    property: str
    old: str
    new: str


@dataclass(frozen=True)
class ControlDelta:
    """A control (or a transaction type, authority level, role or shape) that changed."""

    key: str
    area: str  # "control", "transaction type", "authority level", "role", "shape"
    status: str  # "added", "removed", "changed"
    properties: tuple[PropertyDelta, ...]


@dataclass(frozen=True)
class DecisionFlip:
    """A golden case whose decision differs between the parent link and this one."""

    case_id: str
    file: str
    description: str
    old: str
    new: str


@dataclass(frozen=True)
class LinkChanges:
    """`mu diff` between a link's parent and the link: empty with `error` when it failed."""

    controls: tuple[ControlDelta, ...]
    flips: tuple[DecisionFlip, ...]
    cases_run: int
    blast_modules: tuple[str, ...]
    blast_total: int
    error: str = ""

    @property
    def blast_radius(self) -> str:
        """k/N and the share, as the report prints it."""
        if not self.blast_total:
            return "0/0"
        share = 100 * len(self.blast_modules) / self.blast_total
        return f"{len(self.blast_modules)}/{self.blast_total} control modules ({share:.1f}%)"


@dataclass(frozen=True)
class Verdict:
    """A replay of one receipt (`mu replay`'s comparisons), or why none ran."""

    ok: bool
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Link:
    """One receipt of the chain, as an auditor reads it."""

    sequence: int
    file: str
    digest: str
    parent: str  # "" for the first link
    kind: str  # "build", or "build (override)" when it proceeded from a rejection
    signed_at: str
    trust_root: int | None
    generator: str
    ontology_digest: str
    golden: str
    signatures: tuple[Signature, ...]
    untrusted: tuple[str, ...]
    approvals: tuple[Approval, ...]
    approvals_required: int | None
    override: str  # the rejection digest it proceeded under, or ""
    gates: tuple[Row, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    changes: LinkChanges | None  # None for the first link: nothing to compare against
    replay: Verdict | None  # None unless asked for (`--replay`)
    verified: bool
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Event:
    """One signed statement on the timeline (every kind, in `mu log`'s order)."""

    kind: str  # Receipt, Rejection, Approval, Override, Audit, Upgrade, TrustRoot
    file: str
    digest: str
    sequence: int | None
    signed_at: str
    signatures: tuple[Signature, ...]
    untrusted: tuple[str, ...]
    summary: str
    verified: bool
    problems: tuple[str, ...]
    details: tuple[Row, ...] = ()  # a rejection's violations or failed cases


@dataclass(frozen=True)
class TrustVersion:
    """One version of the trust root: who signed it and what it changed."""

    version: int
    digest: str
    file: str
    effective_after: int
    approvals: int
    signed_at: str
    signatures: tuple[Signature, ...]
    holders: tuple[Row, ...]  # identity, roles, keyid
    thresholds: tuple[Row, ...]  # role, threshold, keys
    added: tuple[str, ...]
    removed: tuple[str, ...]
    verified: bool


@dataclass(frozen=True)
class DriftSection:
    """`mu verify --deployed DIR`: every check's summary and every drift explained."""

    deployed: str
    ok: bool
    summary: tuple[str, ...]
    drifts: tuple[Row, ...]  # name: area and place; status: cause; detail


@dataclass(frozen=True)
class AuditReport:
    """Everything the report shows; `ok` is False when any verification failed."""

    repository: str
    latest: str  # the newest `signedAt` claim: the report's only time
    pinned: bool
    warning: str
    gaps: tuple[str, ...]
    links: tuple[Link, ...]
    timeline: tuple[Event, ...]
    rejections: tuple[Event, ...]
    overrides: tuple[Event, ...]
    trust: tuple[TrustVersion, ...]
    replayed: bool
    drift: DriftSection | None
    vocabulary: Vocabulary

    @property
    def chain_ok(self) -> bool:
        """Every statement verifies and the chain has no gap."""
        return not self.gaps and all(e.verified for e in self.timeline)

    @property
    def replays_ok(self) -> bool:
        """Every replay that ran matched (True when none was asked for)."""
        return all(link.replay is None or link.replay.ok for link in self.links)

    @property
    def ok(self) -> bool:
        """The chain verifies, every replay matches, nothing drifted."""
        return self.chain_ok and self.replays_ok and (self.drift is None or self.drift.ok)
