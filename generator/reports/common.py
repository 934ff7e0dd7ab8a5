"""Renderers: results and errors → text or JSON strings. Pure functions, no I/O.

SARIF has its own module, `generator.reports.sarif`.

`generator.reports.tables` files them by result type and `--format`; `cli.py`
picks one from there and prints what it returns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mu.generator.build.build import BuildResult
from mu.generator.compile.pipeline import Checked, GenerateResult
from mu.generator.compile.validate import ValidationReport, Violation
from mu.generator.errors import MuError, Problem
from mu.generator.provenance.approvals import Approval
from mu.generator.provenance.keys import KeyPair
from mu.generator.provenance.predicates import ApprovalRef
from mu.generator.provenance.trustroot import RootVersion
from mu.generator.review.rollback import RollbackResult
from mu.generator.run.golden import GoldenReport


def to_json(value: Any) -> str:
    """Stable, readable JSON (sorted keys, two-space indent)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _problem_where(p: Problem) -> str:
    # A location replaces a `where` that only names its file, and follows any other.
    if p.location is None:
        return p.where
    if p.where in ("", p.location.file):
        return str(p.location)
    return f"{p.where}: {p.location}"


def error_text(err: MuError) -> str:
    """`error: …`, where it is (`  --> file:line:column`), every problem and the hint."""
    lines = [f"error: {err.message}"]
    if err.location is not None:
        lines.append(f"  --> {err.location}")
    for p in err.problems:
        lines.append(f"  - {_problem_where(p)}: {p.message}")
        if p.hint:
            lines.append(f"    hint: {p.hint}")
    if err.hint:
        lines.append(f"hint: {err.hint}")
    return "\n".join(lines)


def _problem_dict(p: Problem) -> dict[str, Any]:
    data: dict[str, Any] = {"where": p.where, "message": p.message, "hint": p.hint}
    if p.location is not None:
        data["location"] = p.location.to_dict()
    return data


def error_json(err: MuError) -> str:
    """The error as JSON, for `--format json`; `location` only where the error has one."""
    data: dict[str, Any] = {
        "error": err.message,
        "hint": err.hint,
        "problems": [_problem_dict(p) for p in err.problems],
        "code": err.code,
    }
    if err.location is not None:
        data["location"] = err.location.to_dict()
    return to_json(data)


def _violation_dict(v: Violation, prefix: str) -> dict[str, Any]:
    return {
        "focus": v.focus,
        "path": v.path,
        "shape": v.shape,
        "message": v.message,
        "severity": v.severity,
        "file": f"{prefix}{v.file}" if v.file else None,
        "value": v.value,
    }


def violation_line(v: Violation, prefix: str = "") -> str:
    """One violation on one line: file, focus, path, shape, message."""
    where = f"{prefix}{v.file}: " if v.file else ""
    path = f" (path {v.path})" if v.path else ""
    value = f" value {v.value}" if v.value else ""
    return f"{where}{v.focus}{path} [shape {v.shape}]{value}: {v.message}"


def validation_text(report: ValidationReport, prefix: str, summary: str) -> str:
    """The report for a terminal: a verdict line, then every result."""
    violations = report.violations
    lines = [
        f"ok: the ontology conforms ({summary})"
        if report.conforms
        else f"error: the ontology does not conform: {len(violations)} violation(s)"
    ]
    for v in report.results:
        lines.append(f"  - {v.severity.lower()}: {violation_line(v, prefix)}")
    if not report.conforms:
        lines.append("hint: fix every violation listed, then run `mu validate` again")
    return "\n".join(lines)


def validation_json(report: ValidationReport, prefix: str) -> str:
    """The report as JSON: `conforms` and every result."""
    results = [_violation_dict(v, prefix) for v in report.results]
    return to_json({"conforms": report.conforms, "violations": results})


def checked_summary(checked: Checked) -> str:
    """`N controls, N transaction types` for a conforming ontology."""
    if checked.ontology is None:
        return ""
    o = checked.ontology
    return f"{len(o.controls)} controls, {len(o.transaction_types)} transaction types"


def generate_text(result: GenerateResult, check_only: bool) -> str:
    """What `mu generate` did, or (with --check) what differs on disk."""
    diff = result.diff
    n = len(result.compiled.files)
    if check_only:
        if diff.clean:
            return f"ok: `{result.output}` is up to date ({n} files)"
        lines = [f"error: `{result.output}` differs from what the ontology compiles to"]
        lines += [f"  - changed: {p}" for p in diff.changed]
        lines += [f"  - missing: {p}" for p in diff.removed]
        lines += [f"  - unexpected: {p}" for p in diff.added]
        lines.append("hint: run `mu generate` and commit `enforcers/`; never edit it by hand")
        return "\n".join(lines)
    if not result.written:
        return f"ok: `{result.output}` already up to date ({n} files)"
    changed = len(diff.changed) + len(diff.removed)
    return f"ok: wrote `{result.output}` ({n} files, {changed} changed or new)"


def generate_json(result: GenerateResult) -> str:
    """`mu generate` as JSON."""
    d = result.diff
    return to_json(
        {
            "output": str(result.output),
            "written": result.written,
            "up_to_date": d.clean,
            "changed": list(d.changed),
            "missing": list(d.removed),
            "unexpected": list(d.added),
            "files": len(result.compiled.files),
            "ontology_digest": result.compiled.semantic_digest,
        }
    )


def golden_dict(report: GoldenReport) -> dict[str, Any]:
    """A golden report as plain data."""
    return {
        "suite_digest": report.suite_digest,
        "passed": report.passed,
        "failed": report.failed,
        "total": report.total,
        "coverage_percent": round(report.coverage_percent, 2),
        "cases": [
            {
                "id": r.case_id,
                "file": r.file,
                "passed": r.passed,
                "outcome": r.outcome,
                "reasons": list(r.reasons),
                "actions": list(r.actions),
                "mismatches": list(r.mismatches),
            }
            for r in report.results
        ],
        "coverage": [
            {
                "control": c.control_id,
                "fired": c.fired,
                "not_fired": c.not_fired,
                "covered": c.covered,
            }
            for c in report.coverage
        ],
    }


def golden_text(report: GoldenReport, verbose: bool = False) -> str:
    """The golden run for a terminal: failures, coverage gaps, and a closing count line."""
    lines = []
    for r in report.results:
        if not r.passed:
            lines.append(f"FAIL {r.case_id} ({r.file})")
            lines += [f"  - {m}" for m in r.mismatches]
        elif verbose:
            lines.append(f"ok   {r.case_id}: {r.outcome}")
    covered = sum(1 for c in report.coverage if c.covered)
    lines.append(
        f"coverage: {covered}/{len(report.coverage)} controls covered on every side of their rule "
        f"({report.coverage_percent:.0f}%)"
    )
    for c in report.coverage:
        if not c.covered:
            side = "never fires" if c.fired == 0 else "never applies without firing"
            lines.append(f"  - `{c.control_id}` {side} (fired {c.fired}, not fired {c.not_fired})")
    lines.append(f"golden: {report.passed} passed, {report.failed} failed, {report.total} total")
    return "\n".join(lines)


def _build_header(result: BuildResult) -> str:
    release = result.release
    if release is None:
        return "mu build (development build: nothing is signed)"
    return (
        f"mu build signed by `{release.identity}` (key {release.signer.keyid[:12]}, "
        f"trust root version {release.root.version} of `{release.root.metadata.repository}`)"
    )


def gates_text(result: BuildResult) -> str:
    """The build's gates, one a line, the verdict, and which receipt records it."""
    lines = [_build_header(result)]
    for g in result.gates:
        lines.append(f"  {g.name:<12} {g.status}  {g.detail}")
    if result.ok:
        n = len(result.run.compiled.files) if result.run.compiled else 0
        lines.append(f"build passed: enforcers/ written ({n} files)")
        if result.already_recorded:
            lines.append(f"receipt: unchanged since `{result.receipt}`")
        elif result.receipt is not None:
            lines.append(f"receipt: `{result.receipt}` (statement sha256:{result.receipt_digest})")
        override = result.policy.override if result.policy is not None else None
        if override is not None:
            names = ", ".join(f"`{r.identity}`" for r in override.by)
            lines.append(f"override: rejection {override.rejection[:12]} lifted by {names}")
    else:
        failed = ", ".join(g.name for g in result.gates if not g.ok)
        lines.append(f"build failed ({failed}): nothing was generated")
        if result.rejection is not None:
            lines.append(f"rejection receipt: `{result.rejection}`")
            if result.overridable:
                lines.append(
                    "  the line stops until compliance overrides it: "
                    f"`mu approve --override {result.rejection} --key KEY` by the quorum, "
                    "then build again — or fix the ontology"
                )
    if result.development:
        lines.append(
            "NOTHING WAS SIGNED: a development build writes no receipt and no rejection; "
            "this enforcers/ is evidence of nothing. A release is "
            "`mu build --sign-key KEY` with a key of the trust root's `release` role."
        )
    return "\n".join(lines)


def _refs(refs: tuple[ApprovalRef, ...]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in refs]


def build_json(result: BuildResult) -> str:
    """The build as JSON."""
    release, policy = result.release, result.policy
    data: dict[str, Any] = {
        "ok": result.ok,
        "development": result.development,
        "signed": not result.development,
        "gates": {g.name: {"status": g.status, "detail": g.detail} for g in result.gates},
        "written": result.written,
        "receipt": str(result.receipt) if result.receipt else None,
        "statement_digest": result.receipt_digest,
        "already_recorded": result.already_recorded,
        "rejection": str(result.rejection) if result.rejection else None,
        "overridable": result.overridable,
        "signer": None
        if release is None
        else {
            "keyid": release.signer.keyid,
            "identity": release.identity,
            "repository": release.root.metadata.repository,
            "trust_root": release.root.ref(),
        },
        "approvals": None
        if policy is None or policy.approvals is None
        else {"required": policy.approvals.required, "by": _refs(policy.approvals.by)},
        "override": None
        if policy is None or policy.override is None
        else {"rejection": policy.override.rejection, "by": _refs(policy.override.by)},
    }
    if result.run.digest:
        data["ontology_digest"] = result.run.digest
    if result.run.golden:
        data["golden"] = golden_dict(result.run.golden)
    return to_json(data)


def decision_text(decision: dict[str, Any]) -> str:
    """A decision for a terminal: outcome, reasons, actions."""
    lines = [str(decision.get("outcome"))]
    for reason in decision.get("reasons", []):
        lines.append(f"  {reason['effect']:<7} {reason['control_id']}: {reason['message']}")
    for action in decision.get("actions", []):
        targets = ", ".join(action.get("targets", []))
        lines.append(f"  action  {action['kind']} {action['control_id']} -> {targets}")
    return "\n".join(lines)


def rollback_dict(result: RollbackResult) -> dict[str, Any]:
    """A rollback as plain data."""
    d = result.enforcers_diff
    return {
        "receipt": str(result.receipt.path),
        "statement_digest": result.receipt.digest,
        "output": str(result.output),
        "files": result.files,
        "changed": list(d.changed),
        "added": list(d.removed),  # absent before, present now
        "removed": list(d.added),
        "restored_sources": result.restored_sources,
    }


def rollback_text(result: RollbackResult) -> str:
    """What a rollback proved and wrote."""
    d = result.enforcers_diff
    lines = [
        f"ok: `{result.output}` is now exactly what receipt `{result.receipt.path.name}` "
        f"records ({result.files} files, every sha256 checked)",
        f"  {len(d.changed)} changed, {len(d.removed)} restored, {len(d.added)} removed",
    ]
    if result.restored_sources:
        lines.append(
            "  ontology/ and golden/ restored from its snapshot; run `mu build` to record "
            "the rollback in the receipt chain"
        )
    return "\n".join(lines)


def approval_dict(
    approval: Approval, root: RootVersion, rejection: Path | None = None
) -> dict[str, Any]:
    """An approval (or override) as plain data: who, under which trust root, of what."""
    return {
        "kind": "override" if rejection is not None else "approval",
        "approval": str(approval.path),
        "identity": approval.identity,
        "keyid": approval.keyid,
        "ontology_digest": approval.ontology_digest,
        "statement_digest": approval.statement_digest,
        "rejection": str(rejection) if rejection is not None else None,
        "repository": root.metadata.repository,
        "trust_root": root.ref(),
        "policy": {"approvals": root.metadata.approvals},
    }


def approval_text(approval: Approval, root: RootVersion, rejection: Path | None = None) -> str:
    """What `mu approve` signed, by whom, under which trust root, and what it counts for."""
    what = (
        f"overrode rejection `{rejection}` (ontology sha256:{approval.ontology_digest})"
        if rejection is not None
        else f"approved ontology sha256:{approval.ontology_digest}"
    )
    required = root.metadata.approvals
    return (
        f"ok: `{approval.identity}` {what} with key {approval.keyid[:12]} under trust root "
        f"version {root.version} of `{root.metadata.repository}` → `{approval.path}`\n"
        f"  `mu build` needs {required} distinct compliance identit"
        f"{'y' if required == 1 else 'ies'} (never the build signer's own)"
    )


def keypair_text(pair: KeyPair) -> str:
    """Where `mu keygen` wrote the key pair, and what to do next (the warning goes apart)."""
    state = "encrypted" if pair.encrypted else "NOT encrypted"
    return "\n".join(
        [
            f"private key: {pair.private_path} (mode 0600, {state}; keep it private)",
            f"public key:  {pair.public_path}",
            f"keyid:       {pair.keyid}",
            f"next: mu trust add {pair.public_path} --role ROLE --identity NAME",
        ]
    )
