"""Renderers of `mu diff`: a `DiffReport` → text, JSON or markdown. Pure functions.

Sides are shown as the user named them (never the scratch copies), so the
output of a given change is byte-for-byte the same on every machine; the
markdown is meant to be posted as a pull request comment, and `truncate_markdown`
fits it under a comment size limit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mu.generator.errors import InputError
from mu.generator.reports.common import to_json
from mu.generator.review.diff import (
    DiffReport,
    Flip,
    ModuleChanges,
    OutcomeSummary,
    PropertyChange,
    SchemaChange,
    Status,
    Value,
)

SCHEMA_KINDS = (
    ("transaction_types", "transaction type"),
    ("authority_levels", "authority level"),
    ("roles", "role"),
    ("shapes", "shape"),
)


def _schema_items(report: DiffReport) -> list[tuple[str, SchemaChange]]:
    return [(label, c) for name, label in SCHEMA_KINDS for c in getattr(report.schema, name)]


def _json_value(value: Value) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _props(props: Sequence[PropertyChange]) -> list[dict[str, Any]]:
    return [
        {"property": p.property, "old": _json_value(p.old), "new": _json_value(p.new)}
        for p in props
    ]


def _outcome_dict(o: OutcomeSummary) -> dict[str, Any]:
    return {
        "outcome": o.outcome,
        "reasons": list(o.reasons),
        "actions": list(o.actions),
        "fields": list(o.fields),
    }


def modules_dict(m: ModuleChanges) -> dict[str, list[str]]:
    """Enforcer modules changed, added, removed and identical, as plain data (JSON formats)."""
    return {
        "changed": list(m.changed),
        "added": list(m.added),
        "removed": list(m.removed),
        "identical": list(m.identical),
    }


def flip_dict(f: Flip) -> dict[str, Any]:
    """A flipped golden decision as plain data (the JSON formats)."""
    return {
        "case_id": f.case_id,
        "file": f.file,
        "description": f.description,
        "old": _outcome_dict(f.old),
        "new": _outcome_dict(f.new),
    }


def diff_dict(report: DiffReport) -> dict[str, Any]:
    """The report as plain data (the JSON format)."""
    schema = {
        name: [
            {"key": c.key, "status": c.status, "properties": _props(c.properties)}
            for c in getattr(report.schema, name)
        ]
        for name, _ in SCHEMA_KINDS
    }
    m = report.modules
    return {
        "old": {"spec": report.old.spec, "kind": report.old.kind},
        "new": {"spec": report.new.spec, "kind": report.new.kind},
        "ok": report.ok,
        "controls": [
            {"control_id": c.control_id, "status": c.status, "properties": _props(c.properties)}
            for c in report.controls
        ],
        "schema": schema,
        "modules": modules_dict(m),
        "flips": [flip_dict(f) for f in report.flips],
        "cases_run": report.cases_run,
        "blast_radius": {
            "modules": list(report.blast_modules),
            "changed": report.blast_count,
            "total": report.blast_total,
            "fraction": round(report.blast_radius, 6),
            "ratio": f"{report.blast_count}/{report.blast_total}",
            "max": report.max_blast_radius,
        },
    }


def diff_json(report: DiffReport) -> str:
    """The report as stable JSON (sorted keys)."""
    return to_json(diff_dict(report))


def counted(count: int, noun: str) -> str:
    """`1 control`, `2 controls`: counts read as sentences in a pull request."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def percent(fraction: float) -> str:
    """A fraction as a percentage with one decimal (`12.5%`)."""
    return f"{100 * fraction:.1f}%"


def _count(report: DiffReport, status: Status) -> int:
    return sum(1 for c in report.controls if c.status == status)


def _value_text(value: Value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ", ".join(value) if value else "(empty)"
    return str(value)


def outcome_text(o: OutcomeSummary) -> str:
    """An outcome with its reasons, on one line of text."""
    details = []
    if o.fields:
        details.append(f"invalid fields: {', '.join(o.fields)}")
    if o.reasons:
        details.append(f"reasons: {', '.join(o.reasons)}")
    if o.actions:
        details.append(f"actions: {', '.join(o.actions)}")
    return o.outcome + (f" ({'; '.join(details)})" if details else "")


def _limit_line(report: DiffReport) -> str | None:
    limit = report.max_blast_radius
    if limit is None:
        return None
    if report.ok:
        return f"ok: blast radius within the limit {percent(limit)}"
    return (
        f"error: blast radius {percent(report.blast_radius)} exceeds the limit "
        f"{percent(limit)}\nhint: split the change, or raise `--max-blast-radius` "
        "if this reach is intended"
    )


def _property_lines(props: Sequence[PropertyChange], status: Status) -> list[str]:
    lines = []
    for p in props:
        if p.property == "triples":
            # A shape's triples read best as a line diff: `-` only in OLD, `+` only in NEW.
            old = p.old if isinstance(p.old, tuple) else ()
            new = p.new if isinstance(p.new, tuple) else ()
            lines += [f"    - {t}" for t in old] + [f"    + {t}" for t in new]
        elif status == "added":
            lines.append(f"    {p.property}: {_value_text(p.new)}")
        elif status == "removed":
            lines.append(f"    {p.property}: {_value_text(p.old)}")
        else:
            lines.append(f"    {p.property}: {_value_text(p.old)} → {_value_text(p.new)}")
    return lines


def diff_text(report: DiffReport) -> str:
    """The report for a terminal: each section with its items, then the blast radius."""
    old, new = report.old, report.new
    lines = [
        f"mu diff `{old.spec}` ({old.kind}) → `{new.spec}` ({new.kind})",
        f"controls: {_count(report, 'changed')} changed, {_count(report, 'added')} added, "
        f"{_count(report, 'removed')} removed",
    ]
    for c in report.controls:
        lines.append(f"  {c.status} {c.control_id}")
        lines += _property_lines(c.properties, c.status)
    schema = _schema_items(report)
    lines.append(f"schema: {counted(len(schema), 'change')}" if schema else "schema: no changes")
    for label, s in schema:
        lines.append(f"  {s.status} {label} {s.key}")
        lines += _property_lines(s.properties, s.status)
    m = report.modules
    lines.append(
        f"enforcer files: {len(m.changed)} changed, {len(m.added)} added, "
        f"{len(m.removed)} removed, {len(m.identical)} byte-identical"
    )
    for status, paths in (("changed", m.changed), ("added", m.added), ("removed", m.removed)):
        lines += [f"  {status} {p}" for p in paths]
    flips = f"{len(report.flips)} of {counted(report.cases_run, 'golden case')}"
    lines.append(f"decisions: {flips} flip")
    for f in report.flips:
        lines.append(f"  {f.case_id} ({f.file})")
        lines.append(f"    old: {outcome_text(f.old)}")
        lines.append(f"    new: {outcome_text(f.new)}")
    lines.append(
        f"blast radius: {report.blast_count}/{report.blast_total} control modules "
        f"({percent(report.blast_radius)})"
    )
    limit = _limit_line(report)
    if limit:
        lines.append(limit)
    return "\n".join(lines)


def md_cell(text: str) -> str:
    """Text safe inside a markdown table cell: no pipes, no line breaks."""
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def md_code(text: str) -> str:
    """Text as a markdown code span, fenced long enough for the backticks it holds."""
    # A value holding backticks needs a longer fence (CommonMark code spans).
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return md_cell(f"{fence}{pad}{text}{pad}{fence}")


def _value_md(value: Value, sep: str = ", ") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return md_code("true" if value else "false")
    if isinstance(value, tuple):
        return sep.join(md_code(v) for v in value) if value else "(empty)"
    return md_code(str(value))


def _change_rows(first: list[str], status: Status, props: Sequence[PropertyChange]) -> list[str]:
    """One row per property; the item's name only on the first (it reads as a group)."""
    rows = []
    for i, p in enumerate(props or (PropertyChange("", None, None),)):
        lead = first if i == 0 else ["" for _ in first]
        sep = "<br>" if p.property == "triples" else ", "
        cells = [
            *lead,
            status if i == 0 else "",
            md_code(p.property) if p.property else "",
            _value_md(p.old, sep),
            _value_md(p.new, sep),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def outcome_md(o: OutcomeSummary) -> str:
    """An outcome with its reasons, for a markdown table cell."""
    parts = [f"**{o.outcome}**"]
    if o.fields:
        parts.append("invalid: " + ", ".join(md_code(x) for x in o.fields))
    if o.reasons:
        parts.append("reasons: " + ", ".join(md_code(x) for x in o.reasons))
    if o.actions:
        parts.append("actions: " + ", ".join(md_code(x) for x in o.actions))
    return "<br>".join(parts)


def _summary_md(report: DiffReport) -> str:
    m = report.modules
    touched = len(m.changed) + len(m.added) + len(m.removed)
    files = touched + len(m.identical)
    controls = (
        f"{counted(_count(report, 'changed'), 'control')} changed, "
        f"{_count(report, 'added')} added, {_count(report, 'removed')} removed"
    )
    verdict = "" if report.max_blast_radius is None else (" ✅" if report.ok else " ❌")
    return (
        f"**{controls} · {touched} of {files} enforcer files differ · "
        f"{len(report.flips)} of {report.cases_run} golden decisions flip · "
        f"blast radius {report.blast_count}/{report.blast_total} "
        f"({percent(report.blast_radius)})**{verdict}"
    )


def _modules_md(report: DiffReport) -> list[str]:
    m = report.modules
    out = ["### Enforcer modules", ""]
    rows = [
        (p, s)
        for s, paths in (("changed", m.changed), ("added", m.added), ("removed", m.removed))
        for p in paths
    ]
    if rows:
        out += ["| module | change |", "|---|---|"]
        out += [f"| {md_code(p)} | {s} |" for p, s in sorted(rows)]
    else:
        out.append("_Every generated file is byte-identical._")
    if m.identical:
        out += [
            "",
            f"<details><summary>{counted(len(m.identical), 'file')} byte-identical</summary>",
            "",
            ", ".join(md_code(p) for p in m.identical),
            "",
            "</details>",
        ]
    return out


def diff_markdown(report: DiffReport) -> str:
    """The report as a pull request comment: a summary line, then one table per section."""
    out = [
        f"## mu diff {md_code(report.old.spec)} → {md_code(report.new.spec)}",
        "",
        _summary_md(report),
        "",
        "### Control changes",
        "",
    ]
    if report.controls:
        out += ["| control | change | property | old | new |", "|---|---|---|---|---|"]
        for c in report.controls:
            out += _change_rows([md_code(c.control_id)], c.status, c.properties)
    else:
        out.append("_No control changed._")
    schema = _schema_items(report)
    out += ["", "### Schema changes", ""]
    if schema:
        out += ["| kind | item | change | property | old | new |", "|---|---|---|---|---|---|"]
        for label, s in schema:
            out += _change_rows([label, md_code(s.key)], s.status, s.properties)
    else:
        out.append("_No change to transaction types, authority levels, roles or shapes._")
    out += ["", *_modules_md(report), "", "### Decisions that flip", ""]
    if report.flips:
        out += ["| case | description | old | new |", "|---|---|---|---|"]
        for f in report.flips:
            case = f"{md_code(f.case_id)}<br><sub>{md_cell(f.file)}</sub>"
            cells = [case, md_cell(f.description), outcome_md(f.old), outcome_md(f.new)]
            out.append("| " + " | ".join(cells) + " |")
    else:
        out.append(f"_None of the {report.cases_run} golden cases changes its decision._")
    out += ["", "### Blast radius", ""]
    line = (
        f"**{report.blast_count}/{report.blast_total}** control modules "
        f"({percent(report.blast_radius)})"
    )
    if report.blast_modules:
        line += ": " + ", ".join(md_code(p) for p in report.blast_modules)
    out.append(line)
    if report.max_blast_radius is not None:
        state = "✅ within" if report.ok else "❌ exceeds"
        out += ["", f"{state} the limit of {percent(report.max_blast_radius)}."]
    return "\n".join(out) + "\n"


# GitHub refuses a comment body over 65,536 characters.
GITHUB_COMMENT_LIMIT = 65_536
# Characters a link target may not hold raw: they would end the link or the line.
_URL_UNSAFE = re.compile(r"[\s<>()\[\]`]")


def _url_md(url: str) -> str:
    """`url` as a markdown link target; refuses what is not an http(s) address."""
    if not url.startswith(("https://", "http://")):
        raise InputError(
            f"the full report url `{url}` is not an http(s) address",
            hint="pass the address of the run's artifacts, e.g. "
            "`$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`",
        )
    return _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), url)


def truncate_markdown(markdown: str, max_chars: int, full_report_url: str | None = None) -> str:
    """`markdown` unchanged if it holds at most `max_chars` characters; otherwise its
    longest prefix of whole lines that, with the `<details>` it opened closed and a note
    saying where the full report is, fits in `max_chars`."""
    # The address is checked even when nothing is cut, so a bad one fails on every run.
    where = (
        f"[the full report]({_url_md(full_report_url)}) is in this run's artifacts"
        if full_report_url
        else "run `mu diff --format markdown` for the full report"
    )
    if len(markdown) <= max_chars:
        return markdown
    note = (
        f"\n> ✂️ **Truncated:** this comment shows the first lines of a "
        f"{len(markdown):,}-character report (the limit is {max_chars:,}); {where}.\n"
    )
    budget = max_chars - len(note)
    if budget < 0:
        raise InputError(
            f"`--max-chars {max_chars}` leaves no room for the report",
            hint=f"allow more characters (GitHub comments hold {GITHUB_COMMENT_LIMIT:,})",
        )
    # Cut after a newline, so no table row, code span or tag is split; the note's leading
    # blank line ends any table the cut leaves open, so it is not read as one of its rows.
    # A `<details>` the cut leaves open is closed (else it would fold the note away), and
    # the cut moves up a line while the closing tags do not fit.
    end = markdown.rfind("\n", 0, budget) + 1
    while True:
        kept = markdown[:end]
        closing = "\n</details>\n" * (kept.count("<details>") - kept.count("</details>"))
        if len(kept) + len(closing) <= budget:
            return kept + closing + note
        end = markdown.rfind("\n", 0, end - 1) + 1
