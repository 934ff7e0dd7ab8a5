"""Renderers of `mu diff` of two enforcer directories: an `EnforcerDiff` → text, JSON or
markdown. Pure functions; a flip reads exactly as in the ontology diff (`reports.diff`).

Identical modules are counted always and listed only with `--verbose` (the view
`EnforcerDiffView` carries that choice); JSON lists them always, being data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mu.generator.reports.common import to_json
from mu.generator.reports.diff import (
    counted,
    flip_dict,
    md_cell,
    md_code,
    modules_dict,
    outcome_md,
    outcome_text,
    percent,
)
from mu.generator.review.enforcerdiff import EnforcerDiff, EnforcerSide


@dataclass(frozen=True)
class EnforcerDiffView:
    """The report and whether identical modules are listed (`--verbose`)."""

    report: EnforcerDiff
    verbose: bool = False


def _side_dict(side: EnforcerSide) -> dict[str, Any]:
    return {"spec": side.spec, "kind": "enforcers", "files": side.files,
            "not_as_manifest": list(side.not_as_manifest)}


def enforcer_diff_dict(report: EnforcerDiff) -> dict[str, Any]:
    """The report as plain data (the JSON format)."""
    m = report.modules
    return {
        "old": _side_dict(report.old),
        "new": _side_dict(report.new),
        "modules": modules_dict(m),
        "flips": [flip_dict(f) for f in report.flips],
        "cases_run": report.cases_run,
        "golden": report.golden,
        "ok": report.ok,
        "blast_radius": {
            "modules": list(report.control_modules),
            "changed": len(report.control_modules),
            "total": report.blast_total,
            "fraction": round(report.blast_radius, 6),
            "ratio": f"{len(report.control_modules)}/{report.blast_total}",
            "max": report.max_blast_radius,
        },
    }


def _manifest_lines(side: EnforcerSide, prefix: str) -> list[str]:
    if not side.not_as_manifest:
        return []
    return [
        f"warning: {prefix} `{side.spec}`: {counted(len(side.not_as_manifest), 'file')} "
        f"differ from its MANIFEST.json (edited after `mu generate`): "
        f"{', '.join(side.not_as_manifest)}"
    ]


def enforcer_diff_text(view: EnforcerDiffView) -> str:
    """The report for a terminal: files by change, then the decisions that flip."""
    r, m = view.report, view.report.modules
    lines = [
        f"mu diff `{r.old.spec}` (enforcers) → `{r.new.spec}` (enforcers)",
        *_manifest_lines(r.old, "old"),
        *_manifest_lines(r.new, "new"),
        f"enforcer files: {len(m.changed)} changed, {len(m.added)} added, "
        f"{len(m.removed)} removed, {len(m.identical)} identical",
    ]
    listed = [("changed", m.changed), ("added", m.added), ("removed", m.removed)]
    if view.verbose:
        listed.append(("identical", m.identical))
    for status, paths in listed:
        lines += [f"  {status} {p}" for p in paths]
    if r.golden is None:
        lines.append("decisions: no golden suite in the repository, none run")
    else:
        lines.append(f"decisions: {len(r.flips)} of {counted(r.cases_run, 'golden case')} flip")
    for f in r.flips:
        lines.append(f"  {f.case_id} ({f.file})")
        lines.append(f"    old: {outcome_text(f.old)}")
        lines.append(f"    new: {outcome_text(f.new)}")
    return "\n".join([*lines, *_blast_lines(r)])


def _blast_lines(r: EnforcerDiff) -> list[str]:
    lines = [
        f"blast radius: {len(r.control_modules)}/{r.blast_total} control modules "
        f"({percent(r.blast_radius)})"
    ]
    if r.max_blast_radius is None:
        return lines
    if r.ok:
        return [*lines, f"ok: blast radius within the limit {percent(r.max_blast_radius)}"]
    return [
        *lines,
        f"error: blast radius {percent(r.blast_radius)} exceeds the limit "
        f"{percent(r.max_blast_radius)}",
        "hint: split the change, or raise `--max-blast-radius` if this reach is intended",
    ]


def enforcer_diff_markdown(view: EnforcerDiffView) -> str:
    """The report as a pull request comment: a summary line, modules, flips."""
    r, m = view.report, view.report.modules
    touched = len(m.changed) + len(m.added) + len(m.removed)
    out = [
        f"## mu diff {md_code(r.old.spec)} → {md_code(r.new.spec)} (enforcer packages)",
        "",
        f"**{touched} of {touched + len(m.identical)} enforcer files differ · "
        f"{len(r.flips)} of {r.cases_run} golden decisions flip**",
        "",
    ]
    for line in (*_manifest_lines(r.old, "old"), *_manifest_lines(r.new, "new")):
        out += [f"> {md_cell(line)}", ""]
    out += ["### Enforcer modules", ""]
    rows = [(p, s) for s, ps in (("changed", m.changed), ("added", m.added),
                                 ("removed", m.removed)) for p in ps]
    if view.verbose:
        rows += [(p, "identical") for p in m.identical]
    if rows:
        out += ["| module | change |", "|---|---|"]
        out += [f"| {md_code(p)} | {s} |" for p, s in sorted(rows)]
    if not touched:
        out += ["", "_Every file is identical._"]
    out += ["", "### Decisions that flip", ""]
    if r.flips:
        out += ["| case | description | old | new |", "|---|---|---|---|"]
        for f in r.flips:
            case = f"{md_code(f.case_id)}<br><sub>{md_cell(f.file)}</sub>"
            cells = [case, md_cell(f.description), outcome_md(f.old), outcome_md(f.new)]
            out.append("| " + " | ".join(cells) + " |")
    elif r.golden is None:
        out.append("_No golden suite in the repository: no decision was compared._")
    else:
        out.append(f"_None of the {r.cases_run} golden cases changes its decision._")
    out += ["", "### Blast radius", "", *(f"{line}  " for line in _blast_lines(r))]
    return "\n".join(out) + "\n"


# `mu diff --format` for two enforcer directories (the same choices as `tables.DIFF`).
ENFORCER_DIFF: Mapping[str, Callable[[EnforcerDiffView], str]] = {
    "text": lambda v: enforcer_diff_text(v) + "\n",
    "json": lambda v: to_json(enforcer_diff_dict(v.report)) + "\n",
    "markdown": enforcer_diff_markdown,
}
