"""`mu log`: the receipt chain, oldest first, each link and signature verified.

Receipts hold no clock (their payloads must replay bit-identically), so
"when" is the position in the chain; "who" is the signer named in
`receipts/trust.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.layout import Layout
from generator.provenance.receipt import RECEIPT_NAME
from generator.provenance.trust import TrustPolicy, load_trust
from generator.provenance.verify_receipt import ChainReport, ReceiptVerdict, verify_chain


@dataclass(frozen=True)
class LogEntry:
    """One receipt as the log shows it."""

    sequence: int
    file: str
    digest: str
    parent: str | None
    signer: str
    ontology_digest: str
    generator_version: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    golden: str
    verified: bool
    problems: tuple[str, ...]

    @property
    def policy_change(self) -> bool:
        """Whether this receipt records a change of controls."""
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class Log:
    """The whole chain with its verdict."""

    entries: tuple[LogEntry, ...]
    gaps: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when every link and signature verified."""
        return not self.gaps and all(e.verified for e in self.entries)

    @property
    def policy_changes(self) -> int:
        """Receipts that changed at least one control."""
        return sum(1 for e in self.entries if e.policy_change)


def _entry(verdict: ReceiptVerdict, trust: TrustPolicy) -> LogEntry:
    r = verdict.receipt
    found = trust.find(verdict.signer) if verdict.signer else None
    signer = found.name if found else "unverified signer"
    problems = tuple(f"{c.name}: {c.detail}" for c in verdict.failures)
    if not r.is_receipt:
        # Its fields have no trustworthy type: show where it sits and why it failed.
        named = RECEIPT_NAME.match(r.path.name)
        return LogEntry(
            sequence=int(named.group(1)) if named else 0,
            file=r.path.name,
            digest=r.digest,
            parent=None,
            signer=signer,
            ontology_digest="",
            generator_version="?",
            added=(),
            removed=(),
            changed=(),
            golden="?/?",
            verified=False,
            problems=problems,
        )
    p = r.predicate
    return LogEntry(
        sequence=p.sequence,
        file=r.path.name,
        digest=r.digest,
        parent=p.parent,
        signer=signer,
        ontology_digest=p.ontology.digest,
        generator_version=p.generator.version,
        added=p.change.added,
        removed=p.change.removed,
        changed=p.change.changed,
        golden=f"{p.golden.passed}/{p.golden.total}",
        verified=verdict.ok,
        problems=problems,
    )


def read_log(layout: Layout, *, public_key_path: Path | None = None) -> Log:
    """Read and verify the chain; a malformed receipt is an unverified entry, not an abort."""
    report: ChainReport = verify_chain(layout, public_key_path=public_key_path)
    trust = load_trust(layout.trust_file)
    return Log(tuple(_entry(v, trust) for v in report.verdicts), report.gaps)
