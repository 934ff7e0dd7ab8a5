"""Renderers for the operator's commands: upgrade-check, diagnose, deploy. Pure functions."""

from __future__ import annotations

from typing import Any

from generator.reference import ReferenceDecision
from generator.upgrade import UpgradeReport


def decision_summary(d: ReferenceDecision) -> str:
    """`REJECT (approval_over_100k)` or `INVALID (currency)`: one decision on one line."""
    if d.outcome == "INVALID":
        return f"INVALID ({', '.join(d.invalid_fields)})"
    reasons = ", ".join(cid for cid, _ in d.reasons)
    return f"{d.outcome} ({reasons})" if reasons else d.outcome


def decision_data(d: ReferenceDecision) -> dict[str, Any]:
    """A summarised decision as plain data."""
    return {
        "outcome": d.outcome,
        "reasons": [list(r) for r in d.reasons],
        "actions": [list(a) for a in d.actions],
        "invalid_fields": list(d.invalid_fields),
    }


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
                "deployed": decision_data(d.deployed),
                "regenerated": decision_data(d.regenerated),
            }
            for d in report.differences
        ],
        "receipt": str(report.receipt) if report.receipt else None,
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
        lines.append(f"upgrade receipt: `{report.receipt}`")
    if report.equivalent:
        lines.append("equivalent: the new generator decides every case as the deployed one")
    else:
        lines.append(f"error: behaviour changes on {len(report.differences)} case(s)")
    return "\n".join(lines)
