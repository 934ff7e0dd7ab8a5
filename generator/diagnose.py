"""`mu diagnose`: why did production decide this transaction this way?

Three independent answers are compared with what production observed:
- the replayed A — regenerated from the receipt's snapshot with this generator;
- the deployed A — what actually runs (default: `enforcers/`);
- the reference evaluator — the ontology interpreted directly, no generated code.
From where they disagree the cause follows, and with it who to escalate to.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.enforcer_loader import load_enforcers
from generator.errors import InputError
from generator.hashing import sha256_hex
from generator.layout import Layout
from generator.pipeline import compile_ontology
from generator.reference import ReferenceDecision, reference_decide, summarize_enforcer_decision
from generator.replay import verified_snapshot
from generator.snapshot import extract
from generator.writer import read_tree, write_tree_atomic

OUTCOMES = ("APPROVE", "REJECT", "REVIEW", "INVALID")

CAUSES = {
    "deployment": (
        "the deployed enforcers drifted from the receipt",
        "operations / release engineering: redeploy the receipt with `mu deploy`",
    ),
    "generator": (
        "the generated code disagrees with the ontology: a generator defect",
        "the mu maintainers (generator owners); attach this report",
    ),
    "ontology": (
        "the ontology itself gives the observed outcome: the policy says so",
        "the owners of the controls involved (compliance), to change the ontology",
    ),
    "runtime": (
        "every evaluator agrees and differs from what production observed",
        "the platform / integration team: the runtime or the integration "
        "(wrong enforcer called, input transformed, result ignored)",
    ),
}


@dataclass(frozen=True)
class Diagnosis:
    """The verdict, the evidence behind it, and who to escalate to."""

    cause: str  # "deployment" | "generator" | "ontology" | "runtime"
    explanation: str
    escalate_to: str
    owners: tuple[str, ...]
    observed: str
    replayed: ReferenceDecision
    deployed: ReferenceDecision
    reference: ReferenceDecision
    drifted_files: tuple[str, ...]
    receipt: str


def _drift(receipt_subjects: dict[str, str], deployed: Path) -> tuple[str, ...]:
    actual = {f"enforcers/{p}": sha256_hex(d) for p, d in read_tree(deployed).items()}
    names = sorted(set(actual) | set(receipt_subjects))
    return tuple(n for n in names if actual.get(n) != receipt_subjects.get(n))


def classify(
    observed: str,
    replayed: ReferenceDecision,
    deployed: ReferenceDecision,
    reference: ReferenceDecision,
    drifted: tuple[str, ...],
) -> str:
    """The cause, checked in the order in which each layer is built on the next."""
    if drifted and deployed != replayed:
        return "deployment"
    if replayed != reference:
        return "generator"
    if reference.outcome == observed:
        return "ontology"
    return "runtime"


def diagnose(
    layout: Layout,
    receipt_path: Path,
    transaction: Any,
    observed: str,
    *,
    deployed: Path | None = None,
    public_key_path: Path | None = None,
) -> Diagnosis:
    """Evaluate the transaction three ways and classify the failure."""
    observed = observed.upper()
    if observed not in OUTCOMES:
        raise InputError(
            f"unknown observed outcome `{observed}`", hint=f"use one of {', '.join(OUTCOMES)}"
        )
    verified = verified_snapshot(
        layout,
        receipt_path,
        public_key_path=public_key_path,
        purpose="a diagnosis needs a trusted receipt",
    )
    receipt, snapshot = verified.receipt, verified.files
    deployed_dir = (deployed or layout.enforcers).resolve()
    with tempfile.TemporaryDirectory(prefix="mu-diagnose-") as scratch:
        compiled = compile_ontology(extract(snapshot, Path(scratch) / "repo").ontology)
        replayed_dir = Path(scratch) / "replayed"
        write_tree_atomic(replayed_dir, compiled.files)
        replayed = summarize_enforcer_decision(load_enforcers(replayed_dir), transaction)
    deployed_decision = summarize_enforcer_decision(load_enforcers(deployed_dir), transaction)
    reference = reference_decide(compiled.ontology, transaction)
    drifted = _drift(receipt.subjects, deployed_dir)
    cause = classify(observed, replayed, deployed_decision, reference, drifted)
    involved = {cid for cid, _ in reference.reasons} | {cid for cid, _ in replayed.reasons}
    if not involved and isinstance(transaction, dict):
        # Nothing fired: the controls that could have fired are those of the type.
        involved = {
            c.control_id
            for c in compiled.ontology.controls
            if transaction.get("type") in c.applies_to
        }
    owners = tuple(
        sorted({c.owner for c in compiled.ontology.controls if c.control_id in involved})
    )
    explanation, escalate = CAUSES[cause]
    return Diagnosis(
        cause=cause,
        explanation=explanation,
        escalate_to=escalate,
        owners=owners,
        observed=observed,
        replayed=replayed,
        deployed=deployed_decision,
        reference=reference,
        drifted_files=drifted,
        receipt=receipt.path.name,
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string (same escapes, \\uXXXX included).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise InputError(f"cannot write a {type(value).__name__} into a golden case")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def write_case(golden_dir: Path, case_id: str, transaction: Any, diagnosis: Diagnosis) -> Path:
    """Append the transaction to `golden/diagnosed.toml`, expecting what the ontology says."""
    if not isinstance(transaction, dict):
        raise InputError("only a JSON object transaction can become a golden case")
    expect: dict[str, Any] = {}
    if diagnosis.reference.outcome == "INVALID":
        expect["invalid"] = list(diagnosis.reference.invalid_fields)
    else:
        expect["outcome"] = diagnosis.reference.outcome
        if diagnosis.reference.reasons:
            expect["controls"] = [cid for cid, _ in diagnosis.reference.reasons]
    description = f"diagnosed ({diagnosis.cause}): production observed {diagnosis.observed}"
    block = (
        "\n[[case]]\n"
        f"id = {_toml_value(case_id)}\n"
        f"description = {_toml_value(description)}\n"
        f"transaction = {_toml_value(transaction)}\n"
        f"expect = {_toml_value(expect)}\n"
    )
    path = golden_dir / "diagnosed.toml"
    golden_dir.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(block)
    return path
