"""Renderers for the auditor's commands: verify-receipt, replay, log. Pure functions."""

from __future__ import annotations

from typing import Any

from generator.audit.log import Log
from generator.audit.replay import ReplayResult
from generator.audit.verify import VerifyReport
from generator.provenance.verify_receipt import ReceiptVerdict
from generator.reports.common import to_json


def verdict_dict(verdict: ReceiptVerdict) -> dict[str, Any]:
    """A receipt verdict as plain data."""
    return {
        "receipt": str(verdict.receipt.path),
        "statement_digest": verdict.receipt.digest,
        "verified": verdict.ok,
        "signer": verdict.signer,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks],
    }


def verdict_text(verdict: ReceiptVerdict) -> str:
    """One line a check, then the verdict."""
    lines = [f"receipt `{verdict.receipt.path}` (statement sha256:{verdict.receipt.digest})"]
    lines += [f"  {c.name:<10} {c.status}  {c.detail}" for c in verdict.checks]
    if verdict.ok:
        lines.append("verified: signature, trust, statement and chain link all check out")
    else:
        failed = ", ".join(c.name for c in verdict.failures)
        lines.append(f"error: the receipt does not verify ({failed})")
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
    }


def replay_text(result: ReplayResult) -> str:
    """The verdict, every comparison, and — on a match — the statement as the last line."""
    lines = [verdict_text(result.verdict)]
    if result.verdict.ok:
        lines.append("replay from the snapshot with this generator:")
        lines += [f"  {c.name:<16} {c.status}  {c.detail}" for c in result.comparisons]
    if result.ok:
        lines.append(
            "auditor's statement: A = μ(O) holds for this receipt; the regenerated statement "
            "below is bit-identical to the signed payload"
        )
        if result.audit_receipt:
            lines.append(f"signed as the auditor's receipt `{result.audit_receipt}`")
        lines.append(result.payload.decode("utf-8"))
    else:
        lines.append("error: replay does not match the receipt")
    return "\n".join(lines)


def log_dict(log: Log) -> dict[str, Any]:
    """The chain as plain data."""
    return {
        "verified": log.ok,
        "receipts": len(log.entries),
        "policy_changes": log.policy_changes,
        "gaps": list(log.gaps),
        "chain": [
            {
                "sequence": e.sequence,
                "file": e.file,
                "statement_digest": e.digest,
                "parent": e.parent,
                "signer": e.signer,
                "ontology_digest": e.ontology_digest,
                "generator_version": e.generator_version,
                "change": {
                    "added": list(e.added),
                    "removed": list(e.removed),
                    "changed": list(e.changed),
                },
                "golden": e.golden,
                "verified": e.verified,
                "problems": list(e.problems),
            }
            for e in log.entries
        ],
    }


def _summary(log: Log) -> str:
    verdict = "all verified" if log.ok else "NOT all verified"
    return f"{log.policy_changes} policy changes, {len(log.entries)} receipts, {verdict}"


def _changes(added: tuple[str, ...], removed: tuple[str, ...], changed: tuple[str, ...]) -> str:
    parts = [
        *(f"+{c}" for c in added),
        *(f"-{c}" for c in removed),
        *(f"~{c}" for c in changed),
    ]
    return ", ".join(parts) or "no control changed"


def log_text(log: Log) -> str:
    """The chain for a terminal, oldest first."""
    lines = []
    for e in log.entries:
        mark = "verified" if e.verified else "FAILED"
        lines.append(
            f"{e.sequence:04d} {e.digest[:12]} [{mark}] signed by {e.signer}; "
            f"mu {e.generator_version}; golden {e.golden}"
        )
        lines.append(f"     {_changes(e.added, e.removed, e.changed)}")
        lines += [f"     ! {p}" for p in e.problems]
    lines += [f"! {g}" for g in log.gaps]
    lines.append(_summary(log) if log.entries else "no receipts yet: run `mu build`")
    return "\n".join(lines)


def log_markdown(log: Log) -> str:
    """The auditor's compliance report as Markdown."""
    lines = [
        "# Policy change log",
        "",
        f"**{_summary(log)}.**",
        "",
        "| # | receipt | signer | added | removed | changed | golden | verified |",
        "|---|---------|--------|-------|---------|---------|--------|----------|",
    ]
    for e in log.entries:
        cells = [
            str(e.sequence),
            f"`{e.digest[:12]}`",
            e.signer,
            ", ".join(f"`{c}`" for c in e.added) or "—",
            ", ".join(f"`{c}`" for c in e.removed) or "—",
            ", ".join(f"`{c}`" for c in e.changed) or "—",
            e.golden,
            "yes" if e.verified else "**no**",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    problems = [f"`{e.file}`: {p}" for e in log.entries for p in e.problems] + list(log.gaps)
    if problems:
        lines += ["", "## Problems", ""] + [f"- {p}" for p in problems]
    return "\n".join(lines) + "\n"


def verify_dict(report: VerifyReport) -> dict[str, Any]:
    """The quarterly report as plain data."""
    return {
        "ok": report.ok,
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
