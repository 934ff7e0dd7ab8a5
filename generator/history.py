"""`mu log`: the receipt chain, oldest first, each link and signature verified.

Receipts hold no clock (their payloads must replay bit-identically), so
"when" is the position in the chain; "who" is the signer named in
`receipts/trust.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.layout import Layout
from generator.trust import load_trust
from generator.verification import ChainReport, trust_path, verify_chain


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


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def read_log(layout: Layout, *, public_key_path: Path | None = None) -> Log:
    """Read and verify the chain."""
    report: ChainReport = verify_chain(layout, public_key_path=public_key_path)
    trust = load_trust(trust_path(layout))
    entries = []
    for verdict in report.verdicts:
        r = verdict.receipt
        p = r.predicate
        change = p.get("change", {}) if isinstance(p.get("change"), dict) else {}
        golden = p.get("golden", {}) if isinstance(p.get("golden"), dict) else {}
        entry = trust.find(verdict.signer) if verdict.signer else None
        signer = entry.name if entry else "unverified signer"
        entries.append(
            LogEntry(
                sequence=r.sequence,
                file=r.path.name,
                digest=r.digest,
                parent=p.get("parent") if isinstance(p.get("parent"), str) else None,
                signer=signer,
                ontology_digest=str(p.get("ontology", {}).get("digest", "")),
                generator_version=str(p.get("generator", {}).get("version", "")),
                added=_strings(change.get("added")),
                removed=_strings(change.get("removed")),
                changed=_strings(change.get("changed")),
                golden=f"{golden.get('passed', '?')}/{golden.get('total', '?')}",
                verified=verdict.ok,
                problems=tuple(f"{c.name}: {c.detail}" for c in verdict.failures),
            )
        )
    return Log(tuple(entries), report.gaps)
