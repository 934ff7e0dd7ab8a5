"""Renderers for `mu decisions verify`: the verdict on a decision log. Pure functions."""

from __future__ import annotations

from typing import Any

from mu.generator.decisionlog import LogVerdict
from mu.generator.errors import Problem
from mu.generator.reports.common import to_json


def _problem_dict(p: Problem) -> dict[str, Any]:
    data: dict[str, Any] = {"where": p.where, "message": p.message, "hint": p.hint}
    if p.location is not None:
        data["location"] = p.location.to_dict()
    return data


def verify_dict(v: LogVerdict) -> dict[str, Any]:
    """The verdict as plain data (`first_bad_seq` null when every record checks out)."""
    return {
        "directory": str(v.directory),
        "ok": v.ok,
        "log_id": v.log_id,
        "segments": v.segments,
        "records": v.records,
        "decisions": v.decisions,
        "checkpoints": v.checkpoints,
        "last_seq": v.last_seq,
        "covered_seq": v.covered_seq,
        "first_bad_seq": v.first_bad_seq,
        "head": v.head,
        "problems": [_problem_dict(p) for p in v.problems],
        "notes": list(v.notes),
    }


def verify_json(v: LogVerdict) -> str:
    """`mu decisions verify --format json`."""
    return to_json(verify_dict(v))


def verify_text(v: LogVerdict) -> str:
    """What was read, every problem with its hint, the notes, then the answer."""
    lines = [
        f"decision log `{v.directory}`"
        + (f" (log `{v.log_id}`)" if v.log_id else "")
        + f": {v.records} record(s) in {v.segments} segment(s), "
        f"{v.decisions} decision(s), {v.checkpoints} checkpoint(s)"
    ]
    if v.covered_seq >= 0:
        lines.append(f"  signed checkpoints cover records 0 to {v.covered_seq}")
    else:
        lines.append("  no signed checkpoint covers any record")
    if v.head:
        lines.append(f"  head: sha256 {v.head} (record {v.last_seq})")
    for note in v.notes:
        lines.append(f"  note: {note}")
    for p in v.problems:
        lines.append(f"  - {p.where}: {p.message}")
        if p.hint:
            lines.append(f"    hint: {p.hint}")
    if v.ok:
        lines.append(
            f"ok: no record was edited, deleted, reordered or cut (records 0 to {v.last_seq})"
        )
    else:
        since = (
            f": records from {v.first_bad_seq} on cannot be trusted"
            if v.first_bad_seq is not None
            else ""
        )
        lines.append(f"error: {len(v.problems)} problem(s){since}")
    return "\n".join(lines)
