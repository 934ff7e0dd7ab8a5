"""One renderer table per result type: format name → the exact output.

Each table maps a `--format` name ("text", "json", "markdown", "sarif") to a
function that renders one result into exactly the bytes a command prints,
final newline included. `cli.py` picks the entry for the user's format; its
keys are that command's `--format` choices. A few results need one presentation
option (verbosity, `--check`, how to name the ontology directory); those
travel with the result in a small view type defined here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from mu.generator.audit.log import Log
from mu.generator.audit.replay import ReplayResult
from mu.generator.audit.verify import VerifyReport
from mu.generator.build.build import BuildResult
from mu.generator.compile.pipeline import Checked, GenerateResult
from mu.generator.decisionlog import LogVerdict
from mu.generator.errors import MuError
from mu.generator.operate.deploy import DeployResult
from mu.generator.operate.diagnose import Diagnosis
from mu.generator.operate.upgrade import UpgradeReport
from mu.generator.outbox import OutboxStatus
from mu.generator.provenance.approvals import Approval
from mu.generator.provenance.keys import KeyPair
from mu.generator.provenance.trustedit import TrustChange, TrustListing
from mu.generator.provenance.trustroot import RootVersion
from mu.generator.provenance.verify_receipt import StatementVerdict
from mu.generator.reports import actions, audit, common, decisions, diff, operate, sarif, trust
from mu.generator.review.diff import DiffReport
from mu.generator.review.rollback import RollbackResult
from mu.generator.run.decide import DecideResult
from mu.generator.run.golden import GoldenReport
from mu.generator.service.server import ServeSummary

T = TypeVar("T")
Table: TypeAlias = Mapping[str, Callable[[T], str]]

# Errors in these formats go to standard output, so a pipe reads one document;
# in the others to standard error, apart from the result.
MACHINE_FORMATS = frozenset({"json", "sarif"})
# A build always compiles the repository's own ontology, named from the root.
REPOSITORY_ONTOLOGY = "ontology"


def _line(render: Callable[[T], str]) -> Callable[[T], str]:
    """`render`, followed by a newline (text and JSON end with one; markdown ends itself)."""

    def rendered(value: T) -> str:
        return render(value) + "\n"

    return rendered


def _json(to_dict: Callable[[T], Any]) -> Callable[[T], str]:
    """A JSON renderer from a function that turns the result into plain data."""

    def rendered(value: T) -> str:
        return common.to_json(to_dict(value)) + "\n"

    return rendered


@dataclass(frozen=True)
class Validation:
    """`mu validate`'s result, and how messages name the ontology directory."""

    checked: Checked
    directory: str

    @property
    def prefix(self) -> str:
        """What goes before a violation's file (relative to the ontology directory)."""
        return f"{self.directory.rstrip('/')}/"


@dataclass(frozen=True)
class Generated:
    """`mu generate`'s result; with `check_only`, a comparison that wrote nothing."""

    result: GenerateResult
    check_only: bool


@dataclass(frozen=True)
class GoldenRun:
    """`mu test`'s report; `verbose` lists passing cases too."""

    report: GoldenReport
    verbose: bool = False


@dataclass(frozen=True)
class Approved:
    """What `mu approve` signed: the approval (or, with `rejection`, the override), and
    the trust-root version it was made under."""

    approval: Approval
    root: RootVersion
    rejection: Path | None = None


@dataclass(frozen=True)
class Diagnosed:
    """`mu diagnose`'s diagnosis, and the golden case it wrote (if asked to)."""

    diagnosis: Diagnosis
    case_written: Path | None = None


def _validation_text(v: Validation) -> str:
    return common.validation_text(v.checked.report, v.prefix, common.checked_summary(v.checked))


def _build_text(result: BuildResult) -> str:
    run, parts = result.run, []
    if run.compiled is not None and run.compiled.waived:
        prefix = f"{REPOSITORY_ONTOLOGY}/"
        parts.append(f"{len(run.compiled.waived)} violation(s) waived by a compliance override:")
        parts += [f"  - waived: {common.violation_line(v, prefix)}" for v in run.compiled.waived]
    elif run.validation is not None and not run.validation.conforms:
        parts.append(common.validation_text(run.validation, f"{REPOSITORY_ONTOLOGY}/", ""))
    if run.golden is not None and not run.golden.ok:
        parts.append(common.golden_text(run.golden))
    parts.append(common.gates_text(result))
    return "\n".join(parts)


def _diagnosed_dict(d: Diagnosed) -> dict[str, Any]:
    data = operate.diagnosis_dict(d.diagnosis)
    data["golden_case_written"] = str(d.case_written) if d.case_written else None
    return data


def _diagnosed_text(d: Diagnosed) -> str:
    text = operate.diagnosis_text(d.diagnosis)
    return f"{text}\ngolden case added to `{d.case_written}`" if d.case_written else text


VALIDATION: Table[Validation] = {
    "text": _line(_validation_text),
    "json": _line(lambda v: common.validation_json(v.checked.report, v.prefix)),
    "sarif": _line(lambda v: sarif.validation_sarif(v.checked, v.prefix)),
}
GENERATE: Table[Generated] = {
    "text": _line(lambda g: common.generate_text(g.result, g.check_only)),
    "json": _line(lambda g: common.generate_json(g.result)),
}
GOLDEN: Table[GoldenRun] = {
    "text": _line(lambda g: common.golden_text(g.report, g.verbose)),
    "json": _json(lambda g: common.golden_dict(g.report)),
}
DECISION: Table[DecideResult] = {
    "text": _line(lambda r: common.decision_text(r.decision)),
    "json": _json(lambda r: r.decision),
}
BUILD: Table[BuildResult] = {
    "text": _line(_build_text),
    "json": _line(common.build_json),
}
KEYPAIR: Table[KeyPair] = {"text": _line(common.keypair_text)}
TRUST_CHANGE: Table[TrustChange] = {
    "text": _line(trust.change_text),
    "json": _json(trust.change_dict),
}
TRUST_LIST: Table[TrustListing] = {
    "text": _line(trust.listing_text),
    "json": _json(trust.listing_dict),
}
RECEIPT_VERDICT: Table[StatementVerdict] = {
    "text": _line(audit.verdict_text),
    "json": _json(audit.verdict_dict),
}
REPLAY: Table[ReplayResult] = {
    "text": _line(audit.replay_text),
    "json": _json(audit.replay_dict),
}
LOG: Table[Log] = {
    "text": _line(audit.log_text),
    "json": _json(audit.log_dict),
    "markdown": audit.log_markdown,
}
ROLLBACK: Table[RollbackResult] = {
    "text": _line(common.rollback_text),
    "json": _json(common.rollback_dict),
}
VERIFY: Table[VerifyReport] = {
    "text": _line(audit.verify_text),
    "json": _json(audit.verify_dict),
    "markdown": audit.verify_markdown,
}
UPGRADE: Table[UpgradeReport] = {
    "text": _line(operate.upgrade_text),
    "json": _json(operate.upgrade_dict),
}
DIAGNOSIS: Table[Diagnosed] = {
    "text": _line(_diagnosed_text),
    "json": _json(_diagnosed_dict),
}
DEPLOY: Table[DeployResult] = {
    "text": _line(operate.deploy_text),
    "json": _json(operate.deploy_dict),
}
DIFF: Table[DiffReport] = {
    "text": _line(diff.diff_text),
    "json": _line(diff.diff_json),
    "markdown": diff.diff_markdown,
}
APPROVAL: Table[Approved] = {
    "text": _line(lambda a: common.approval_text(a.approval, a.root, a.rejection)),
    "json": _json(lambda a: common.approval_dict(a.approval, a.root, a.rejection)),
}
DECISIONS_VERIFY: Table[LogVerdict] = {
    "text": _line(decisions.verify_text),
    "json": _line(decisions.verify_json),
}
ACTIONS_STATUS: Table[OutboxStatus] = {
    "text": _line(actions.status_text),
    "json": _line(actions.status_json),
}
ACTIONS_RETRY: Table[int] = {
    "text": _line(actions.retry_text),
    "json": _line(actions.retry_json),
}
SERVE: Table[ServeSummary] = {
    "text": _line(
        lambda s: f"mu serve: stopped; decision log `{s.log_dir}` closed at record {s.last_seq} "
        "with a signed checkpoint"
    ),
}
# Any `MuError`, in every format a command offers: a machine format as JSON
# (SARIF as a SARIF log, so code scanning accepts it), a human one as text.
ERROR: Table[MuError] = {
    "text": _line(common.error_text),
    "json": _line(common.error_json),
    "sarif": _line(sarif.error_sarif),
    "markdown": _line(common.error_text),
}
