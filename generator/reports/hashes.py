"""Renderers of `mu verify-hashes`: a `HashReport` → text or JSON. Pure functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mu.generator.operate.hashes import HashCheck, HashMismatch, HashReport
from mu.generator.reports.common import to_json

_CHOSEN = {
    "given": "as given",
    "matching": "the newest receipt recording exactly these files",
    "newest": "the newest receipt: none records exactly these files",
}


def _mismatch_text(m: HashMismatch) -> str:
    if m.kind == "missing":
        return f"  - {m.path}: recorded, but missing on disk"
    if m.kind == "extra":
        return f"  - {m.path}: on disk, but not recorded"
    actual, expected = (m.actual or "")[:12], (m.expected or "")[:12]
    return f"  - {m.path}: sha256 {actual}… on disk, recorded {expected}…"


def _check_lines(check: HashCheck) -> list[str]:
    if check.ok:
        return [f"ok: every file matches `{check.reference}` ({check.files} files)"]
    return [
        f"mismatch: {len(check.mismatches)} file(s) differ from `{check.reference}`",
        *(_mismatch_text(m) for m in check.mismatches),
    ]


def hashes_text(report: HashReport) -> str:
    """The human report: each reference's verdict, every differing file named."""
    lines = [
        f"enforcers `{report.enforcers}` against receipt {report.sequence} "
        f"`{report.receipt}` ({_CHOSEN[report.chosen]})",
        *_check_lines(report.manifest),
        *_check_lines(report.against_receipt),
    ]
    if report.ok:
        lines.append("ok: the package on disk is exactly what the receipt records")
    else:
        lines.append(
            "hint: redeploy or regenerate the package from its receipt (`mu rollback --receipt "
            f"{report.receipt}`); `mu verify` explains the drift"
        )
    lines.append("note: hashes only; `mu verify-receipt` checks the receipt's signature")
    return "\n".join(lines)


def _check_dict(check: HashCheck) -> dict[str, Any]:
    return {
        "reference": check.reference,
        "files": check.files,
        "ok": check.ok,
        "mismatches": [
            {"path": m.path, "kind": m.kind, "expected": m.expected, "actual": m.actual}
            for m in check.mismatches
        ],
    }


def hashes_dict(report: HashReport) -> dict[str, Any]:
    """The report as plain data for `--format json`."""
    return {
        "ok": report.ok,
        "enforcers": report.enforcers,
        "receipt": {"path": report.receipt, "sequence": report.sequence, "chosen": report.chosen},
        "manifest": _check_dict(report.manifest),
        "against_receipt": _check_dict(report.against_receipt),
    }


# `mu verify-hashes --format`: each renders the whole output, final newline included.
HASHES: Mapping[str, Callable[[HashReport], str]] = {
    "text": lambda r: hashes_text(r) + "\n",
    "json": lambda r: to_json(hashes_dict(r)) + "\n",
}
