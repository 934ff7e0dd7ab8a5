"""Renderers for the auditor's commands: verify-receipt, replay, log. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mu.generator.audit.log import Log, LogEntry
from mu.generator.audit.replay import ReplayResult
from mu.generator.audit.verify import VerifyReport
from mu.generator.provenance.verify_receipt import StatementVerdict
from mu.generator.reports.common import to_json


def verdict_dict(verdict: StatementVerdict) -> dict[str, Any]:
    """A statement's verdict as plain data."""
    return {
        "receipt": str(verdict.receipt.path),
        "kind": verdict.kind_name,
        "predicate_type": verdict.kind,
        "statement_digest": verdict.receipt.digest,
        "ok": verdict.ok,
        "verified": verdict.ok,
        "role": verdict.role,
        "trust_root": verdict.root.ref() if verdict.root is not None else None,
        "signers": list(verdict.signers),
        "untrusted": list(verdict.untrusted),
        "signed_at": verdict.signed_at,
        "legacy": verdict.legacy,
        "signer": verdict.signer,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks],
        "warning": verdict.warning,
    }


def _verified_line(verdict: StatementVerdict) -> str:
    names = ", ".join(f"`{n}`" for n in verdict.signers)
    line = (
        f"verified: a `{verdict.kind_name}` signed by {names} for `{verdict.role}` "
        f"under trust root version {verdict.version}"
    )
    if verdict.signed_at:
        line += f", signedAt {verdict.signed_at} (the signer's claim)"
    if verdict.legacy:
        line += "; made before trust roots, adopted by `mu trust migrate`"
    return line


def verdict_text(verdict: StatementVerdict) -> str:
    """One line a check, then the verdict."""
    lines = [
        f"{verdict.kind_name} `{verdict.receipt.path}` (statement sha256:{verdict.receipt.digest})"
    ]
    lines += [f"  {c.name:<10} {c.status}  {c.detail}" for c in verdict.checks]
    if verdict.ok:
        lines.append(_verified_line(verdict))
    else:
        failed = ", ".join(c.name for c in verdict.failures)
        lines.append(f"error: the {verdict.kind_name.lower()} does not verify ({failed})")
        if verdict.untrusted:
            lines.append(f"  signatures that do not count: {'; '.join(verdict.untrusted)}")
    return "\n".join(lines)


def replay_dict(result: ReplayResult) -> dict[str, Any]:
    """A replay as plain data; `payload` is the auditor's statement when it matches."""
    return {
        "ok": result.ok,
        "verification": verdict_dict(result.verdict),
        "comparisons": [
            {"name": c.name, "ok": c.ok, "detail": c.detail} for c in result.comparisons
        ],
        "payload": result.payload.decode("utf-8") if result.ok else None,
        "audit_receipt": str(result.audit_receipt) if result.audit_receipt else None,
        "auditor": result.auditor,
    }


def replay_text(result: ReplayResult) -> str:
    """The verdict, every comparison, and — on a match — the statement as the last line."""
    lines = [verdict_text(result.verdict)]
    if result.verdict.ok:
        lines.append("replay from the snapshot with this generator:")
        lines += [f"  {c.name:<16} {c.status}  {c.detail}" for c in result.comparisons]
    if result.audit_receipt:
        lines.append(
            f"audit statement (`urn:mu:v1#Audit`) signed by `{result.auditor}`: "
            f"`{result.audit_receipt}`"
        )
    if result.ok:
        lines.append(
            "auditor's statement: A = μ(O) holds for this receipt; the regenerated statement "
            "below is bit-identical to the signed payload"
        )
        lines.append(result.payload.decode("utf-8"))
    else:
        lines.append("error: replay does not match the receipt")
    return "\n".join(lines)


def _entry_dict(e: LogEntry) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "file": e.file,
        "statement_digest": e.digest,
        "sequence": e.sequence,
        "parent": e.parent,
        "signed_at": e.signed_at,
        "signer": e.signer,
        "signers": list(e.signers),
        "untrusted": list(e.untrusted),
        "approvers": list(e.approvers),
        "override": e.override,
        "trust_root": e.trust_root,
        "gates": dict(e.gates),
        "ontology_digest": e.ontology_digest,
        "generator_version": e.generator_version,
        "change": {
            "added": list(e.added),
            "removed": list(e.removed),
            "changed": list(e.changed),
        },
        "golden": e.golden,
        "summary": e.summary,
        "legacy": e.legacy,
        "verified": e.verified,
        "problems": list(e.problems),
    }


def _trust_dict(log: Log) -> dict[str, Any]:
    history = log.history
    return {
        "repository": history.repository,
        "pinned": history.pinned,
        "from": history.first.ref(),
        "newest": history.newest.ref(),
        "warning": history.warning,
    }


def log_dict(log: Log) -> dict[str, Any]:
    """Every statement as plain data: `events` in order, `chain` the receipts alone."""
    return {
        "verified": log.ok,
        "receipts": len(log.chain),
        "statements": len(log.entries),
        "policy_changes": log.policy_changes,
        "gaps": list(log.gaps),
        "trust_root": _trust_dict(log),
        "chain": [_entry_dict(e) for e in log.chain],
        "events": [_entry_dict(e) for e in log.entries],
    }


def _others(log: Log) -> str:
    counts: dict[str, int] = {}
    for e in log.entries:
        if not e.is_receipt:
            counts[e.kind] = counts.get(e.kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def _summary(log: Log) -> str:
    verdict = "all verified" if log.ok else "NOT all verified"
    text = f"{log.policy_changes} policy changes, {len(log.chain)} receipts, {verdict}"
    others = _others(log)
    return f"{text} (with {others})" if others else text


def _changes(added: tuple[str, ...], removed: tuple[str, ...], changed: tuple[str, ...]) -> str:
    parts = [
        *(f"+{c}" for c in added),
        *(f"-{c}" for c in removed),
        *(f"~{c}" for c in changed),
    ]
    return ", ".join(parts) or "no control changed"


def _gates(gates: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {status}" for name, status in gates.items())


def _who(e: LogEntry) -> str:
    if e.signers:
        text = "signed by " + ", ".join(f"`{n}`" for n in e.signers)
    else:
        text = "NOT signed by a trusted identity"
    if e.untrusted:
        text += f" (not counted: {'; '.join(e.untrusted)})"
    if e.trust_root is not None:
        text += f" under trust root v{e.trust_root}"
    return text


def _trust_line(log: Log) -> str:
    history = log.history
    first, newest = history.first, history.newest
    how = (
        f"verified from the pinned version {first.version} (sha256 {first.digest[:12]}…)"
        if history.pinned
        else "NOT pinned: this repository's own version 1 was trusted as given"
    )
    return f"trust root of `{history.repository}`: versions {first.version}–{newest.version}, {how}"


def log_text(log: Log) -> str:
    """Every statement for a terminal, in order."""
    lines = [_trust_line(log)]
    for e in log.entries:
        mark = "verified" if e.verified else "FAILED"
        label = f"{e.sequence:04d}" if e.sequence is not None else "    "
        when = e.signed_at or "(no signedAt)"
        lines.append(f"{label} {e.kind:<9} {e.digest[:12]} [{mark}] {when} {_who(e)}")
        lines.append(f"     `{e.file}`: {e.summary}")
        if e.is_receipt:
            approvers = ", ".join(f"`{n}`" for n in e.approvers) or "nobody"
            what = "override by" if e.override else "approved by"
            lines.append(f"     {what} {approvers}; golden {e.golden}")
            lines.append(f"     {_changes(e.added, e.removed, e.changed)}")
        if e.gates:
            lines.append(f"     gates: {_gates(e.gates)}")
        lines += [f"     ! {p}" for p in e.problems]
    lines += [f"! {g}" for g in log.gaps]
    if not log.chain:
        lines.append(
            "no receipts yet: run `mu build`" + (f" ({_others(log)})" if log.entries else "")
        )
        if not log.ok:
            lines.append("NOT all verified")
    else:
        lines.append(_summary(log))
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def log_markdown(log: Log) -> str:
    """The auditor's compliance report as Markdown: every statement, in order."""
    lines = [
        "# Policy change log",
        "",
        f"**{_summary(log)}.**",
        "",
        f"{_trust_line(log)}.",
        "",
        "| # | kind | statement | signedAt | signed by | approved by | gates | added | removed "
        "| changed | verified |",
        "|---|------|-----------|----------|-----------|-------------|-------|-------|---------"
        "|---------|----------|",
    ]
    for e in log.entries:
        signers = ", ".join(e.signers) or "**untrusted**"
        cells = [
            str(e.sequence) if e.sequence is not None else "",
            e.kind,
            f"`{e.digest[:12]}`",
            e.signed_at or "—",
            f"{signers} (v{e.trust_root})" if e.trust_root is not None else signers,
            ", ".join(e.approvers) or "—",
            _gates(e.gates) or "—",
            ", ".join(f"`{c}`" for c in e.added) or "—",
            ", ".join(f"`{c}`" for c in e.removed) or "—",
            ", ".join(f"`{c}`" for c in e.changed) or "—",
            "yes" if e.verified else "**no**",
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "## Statements", ""]
    lines += [f"- `{e.file}` ({e.kind}): {_cell(e.summary)}" for e in log.entries]
    problems = [f"`{e.file}`: {p}" for e in log.entries for p in e.problems] + list(log.gaps)
    if problems:
        lines += ["", "## Problems", ""] + [f"- {p}" for p in problems]
    return "\n".join(lines) + "\n"


def verify_dict(report: VerifyReport) -> dict[str, Any]:
    """The quarterly report as plain data."""
    return {
        "ok": report.ok,
        "warning": report.warning,
        "summary": list(report.summary),
        "drifts": [
            {
                "area": d.area,
                "where": d.where,
                "cause": d.explanation,
                "detail": d.detail,
                "diff": d.diff,
            }
            for d in report.drifts
        ],
    }


def verify_text(report: VerifyReport) -> str:
    """Every check's line, then every drift with its cause and diff."""
    lines = [f"  {line}" for line in report.summary]
    for d in report.drifts:
        lines.append(f"DRIFT [{d.area}] {d.where}: {d.explanation} ({d.detail})")
        if d.diff:
            lines += [f"    {line}" for line in d.diff.rstrip("\n").splitlines()]
    if report.ok:
        lines.append("verified: no drift")
    else:
        lines.append(f"error: {len(report.drifts)} drift(s) found")
    return "\n".join(["mu verify", *lines])


def verify_markdown(report: VerifyReport) -> str:
    """The quarterly report as Markdown."""
    verdict = "no drift" if report.ok else f"{len(report.drifts)} drift(s)"
    lines = ["# Quarterly verification", "", f"**Result: {verdict}.**", ""]
    lines += [f"- {line}" for line in report.summary]
    if report.drifts:
        lines += ["", "| area | where | cause | detail |", "|---|---|---|---|"]
        lines += [
            f"| {d.area} | `{d.where}` | {d.explanation} | {d.detail} |" for d in report.drifts
        ]
        for d in report.drifts:
            if d.diff:
                lines += ["", f"### `{d.where}`", "", "```diff", d.diff.rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"


__all__ = [
    "log_dict",
    "log_markdown",
    "log_text",
    "replay_dict",
    "replay_text",
    "to_json",
    "verify_dict",
    "verify_markdown",
    "verify_text",
]
