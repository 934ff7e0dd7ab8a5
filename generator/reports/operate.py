"""Renderers for the operator's commands: upgrade-check, diagnose, deploy. Pure functions."""

from __future__ import annotations

from typing import Any

from mu.generator.operate.deploy import DeployResult
from mu.generator.operate.diagnose import Diagnosis
from mu.generator.operate.upgrade import UpgradeReport
from mu.generator.run.reference import ReferenceDecision


def decision_summary(d: ReferenceDecision) -> str:
    """`REJECT (approval_over_100k)` or `INVALID (currency)`: one decision on one line."""
    if d.outcome == "INVALID":
        return f"INVALID ({', '.join(d.invalid_fields)})"
    if d.outcome == "ERROR":
        return f"ERROR ({d.error})"
    reasons = ", ".join(cid for cid, _ in d.reasons)
    return f"{d.outcome} ({reasons})" if reasons else d.outcome


def upgrade_dict(report: UpgradeReport) -> dict[str, Any]:
    """The upgrade check as plain data."""
    return {
        "equivalent": report.equivalent,
        "old_generator": report.old_generator,
        "new_generator": report.new_generator,
        "modules": {
            "changed": list(report.modules_changed),
            "added": list(report.modules_added),
            "removed": list(report.modules_removed),
        },
        "cases": report.cases,
        "differences": [
            {
                "case": d.case_id,
                "description": d.description,
                "deployed": d.deployed.to_dict(),
                "regenerated": d.regenerated.to_dict(),
            }
            for d in report.differences
        ],
        "receipt": str(report.receipt) if report.receipt else None,
        "signed": report.receipt is not None,
        "signed_by": report.signed_by,
        "trust_root_version": report.trust_version,
    }


def upgrade_text(report: UpgradeReport) -> str:
    """The verdict, module changes, and every differing case."""
    old, new = report.old_generator, report.new_generator
    lines = [
        f"upgrade check: mu {old.get('version')} (deployed) → mu {new.get('version')} (this one)",
        f"  modules with changed bytes: {len(report.modules_changed)}"
        + (f" ({', '.join(report.modules_changed)})" if report.modules_changed else ""),
    ]
    if report.modules_added or report.modules_removed:
        lines.append(
            f"  modules added: {', '.join(report.modules_added) or '-'}; "
            f"removed: {', '.join(report.modules_removed) or '-'}"
        )
    lines.append(f"  behaviour compared on {report.cases} golden and boundary cases")
    for d in report.differences:
        lines.append(
            f"  DIFFERS {d.case_id}: deployed {decision_summary(d.deployed)} → "
            f"regenerated {decision_summary(d.regenerated)}"
        )
    if report.receipt:
        lines.append(
            f"upgrade receipt: `{report.receipt}` (signed by `{report.signed_by}` under "
            f"trust root version {report.trust_version})"
        )
    else:
        lines.append(
            "report only: no upgrade receipt was written (`--sign-key KEY` of the trust "
            "root's `release` role signs one)"
        )
    if report.equivalent:
        lines.append("equivalent: the new generator decides every case as the deployed one")
    else:
        lines.append(f"error: behaviour changes on {len(report.differences)} case(s)")
    return "\n".join(lines)


def diagnosis_dict(d: Diagnosis) -> dict[str, Any]:
    """A diagnosis as plain data."""
    return {
        "cause": d.cause,
        "explanation": d.explanation,
        "escalate_to": d.escalate_to,
        "control_owners": list(d.owners),
        "observed": d.observed,
        "receipt": d.receipt,
        "evidence": {
            "replayed": d.replayed.to_dict(),
            "deployed": d.deployed.to_dict(),
            "reference": d.reference.to_dict(),
            "drifted_files": list(d.drifted_files),
        },
    }


def diagnosis_text(d: Diagnosis) -> str:
    """The answer first, then the evidence."""
    lines = [
        f"cause: {d.cause} — {d.explanation}",
        f"escalate to: {d.escalate_to}",
    ]
    if d.owners:
        lines.append(f"control owners: {', '.join(d.owners)}")
    lines += [
        "evidence:",
        f"  observed in production:   {d.observed}",
        f"  replayed from {d.receipt}: {decision_summary(d.replayed)}",
        f"  deployed enforcers:       {decision_summary(d.deployed)}",
        f"  reference (ontology):     {decision_summary(d.reference)}",
    ]
    if d.drifted_files:
        lines.append(f"  deployed files that differ from the receipt: {', '.join(d.drifted_files)}")
    return "\n".join(lines)


def deploy_dict(r: DeployResult) -> dict[str, Any]:
    """A deployment or switch-back as plain data."""
    return {
        "action": r.action,
        "changed": r.changed,
        "target": str(r.target),
        "release": str(r.release),
        "previous": str(r.previous) if r.previous else None,
        "receipt": str(r.receipt) if r.receipt else None,
        "statement_digest": r.digest,
        "sequence": r.sequence,
        "regenerated": r.regenerated,
        "restart": {
            "changed": list(r.modules_changed),
            "added": list(r.modules_added),
            "removed": list(r.modules_removed),
        },
        "package_files_changed": list(r.package_changed),
        "health": None
        if r.health is None
        else {
            "ok": r.health.ok,
            "passed": r.health.passed,
            "total": r.health.total,
            "actions_exercised": r.health.actions_exercised,
        },
        "record": str(r.record),
        "signed_by": list(r.signed_by),
        "trust_root": r.trust_root,
        "warnings": list(r.warnings),
        "environment": r.environment,
        "enforcer": str(r.enforcer) if r.enforcer else None,
    }


def deploy_text(r: DeployResult) -> str:
    """What is running now, and which control modules need a restart."""
    warned = [f"warning: {w}" for w in r.warnings]
    if not r.changed:
        return "\n".join(
            [
                f"ok: `{r.target}` already runs `{r.release.name}`; nothing to do",
                *_named(r),
                *warned,
            ]
        )
    verb = "switched back" if r.action == "rollback" else "deployed"
    lines = [f"ok: {verb} `{r.target}` → `{r.release.name}`", *warned]
    lines += _named(r)
    if r.signed_by:
        names = ", ".join(f"`{n}`" for n in r.signed_by)
        lines.append(f"  receipt signed by {names}; approvals re-checked")
    if r.trust_root:
        lines.append(
            f"  trust root pinned for this target: version {r.trust_root['version']} "
            f"(sha256 {str(r.trust_root['digest'])[:12]}…)"
        )
    if r.health is not None:
        lines.append(
            f"  health check: imports, MANIFEST, {r.health.passed}/{r.health.total} golden, "
            f"{r.health.actions_exercised} action(s) delivered to test sinks"
        )
    if r.regenerated:
        lines.append("  enforcers/ did not match the receipt: regenerated from its snapshot")
    restart = [*r.modules_changed, *r.modules_added, *r.modules_removed]
    lines.append(
        f"  restart: {', '.join(restart)}" if restart else "  restart: no control module changed"
    )
    if r.previous:
        lines.append(f"  previous release kept: `{r.previous.name}` (`mu deploy --switch-back`)")
    lines.append(f"  record: `{r.record}`")
    return "\n".join(lines)


def _named(r: DeployResult) -> list[str]:
    """How TARGET and the receipt were found, when by name or by content."""
    lines = []
    if r.environment:
        lines.append(f"  environment `{r.environment}` of `mu.toml`: `{r.target}`")
    if r.enforcer and r.receipt:
        lines.append(f"  `{r.receipt.name}` records exactly the files of `{r.enforcer}`")
    return lines
