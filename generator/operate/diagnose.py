"""`mu diagnose`: why did production decide this transaction this way?

Three independent answers are compared with what production observed:
- the replayed A — regenerated from the receipt's snapshot with this generator;
- the deployed A — what actually runs (default: `enforcers/`);
- the reference evaluator — the ontology interpreted directly, no generated code.
From where they disagree the cause follows, and with it who to escalate to.
"""

from __future__ import annotations

import math
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tomli_w

from mu.generator.compile.model import OUTCOMES as DECIDED
from mu.generator.compile.pipeline import compile_ontology
from mu.generator.errors import InputError
from mu.generator.files import read_tree, write_file_atomic, write_tree_atomic
from mu.generator.hashing import sha256_hex
from mu.generator.jsonshape import encodable
from mu.generator.layout import Layout, shown_path, sorted_files
from mu.generator.provenance.pinned import verified_snapshot
from mu.generator.provenance.snapshot import extract
from mu.generator.run.decide import shown
from mu.generator.run.enforcers import load_enforcers
from mu.generator.run.reference import (
    ReferenceDecision,
    reference_decide,
    summarize_enforcer_decision,
)

# What production can have observed: a decision, or the refusal of an invalid transaction.
OUTCOMES: tuple[str, ...] = (*DECIDED, "INVALID")

Cause = Literal["deployment", "generator", "ontology", "runtime"]
# Each cause: what it means, and who to escalate to.
CAUSES: dict[Cause, tuple[str, str]] = {
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

    cause: Cause
    explanation: str
    escalate_to: str
    owners: tuple[str, ...]
    observed: str
    replayed: ReferenceDecision
    deployed: ReferenceDecision
    reference: ReferenceDecision
    drifted_files: tuple[str, ...]
    receipt: str
    warning: str | None = None  # the trust history's: nothing pinned the trust root


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
) -> Cause:
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
    trust_root: str | None = None,
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
        trust_root=trust_root,
    )
    receipt, snapshot = verified.receipt, verified.files
    deployed_dir = (deployed or layout.enforcers).resolve()
    with tempfile.TemporaryDirectory(prefix="mu-diagnose-") as scratch:
        extracted = extract(snapshot, Path(scratch) / "repo").ontology
        compiled = compile_ontology(extracted, waived=verified.waived)
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
        warning=verified.warning,
    )


DIAGNOSED = "diagnosed.toml"
_INT64 = range(-(2**63), 2**63)
_APPEND_HINT = "mu appends `[[case]]` tables at the end of `golden/diagnosed.toml`; fix or move it"


def write_case(golden_dir: Path, case_id: str, transaction: Any, diagnosis: Diagnosis) -> Path:
    """Append the transaction to `golden/diagnosed.toml`, expecting what the ontology says.

    The case is written by a TOML library (tomli-w), never formatted by hand,
    and the whole new file is parsed back before it atomically replaces the
    old one: an existing file keeps its cases, and a later `mu test` can never
    be broken by what mu wrote. A case id already used in the suite is refused.
    """
    if not isinstance(transaction, dict):
        raise InputError(
            "only a JSON object transaction can become a golden case",
            hint="pass a transaction file holding one JSON object, or drop `--write-case`",
        )
    if not isinstance(case_id, str) or not case_id:
        raise InputError("a golden case needs a non-empty id", hint="pass `--case-id`")
    expect: dict[str, Any] = {}
    if diagnosis.reference.outcome == "INVALID":
        expect["invalid"] = list(diagnosis.reference.invalid_fields)
    else:
        expect["outcome"] = diagnosis.reference.outcome
        if diagnosis.reference.reasons:
            expect["controls"] = [cid for cid, _ in diagnosis.reference.reasons]
    description = f"diagnosed ({diagnosis.cause}): production observed {diagnosis.observed}"
    case = {"id": case_id, "description": description, "transaction": transaction, "expect": expect}
    _check_toml_value(case)
    path = golden_dir / DIAGNOSED
    for link in (golden_dir, path):
        if link.is_symlink():
            raise InputError(
                f"`{shown_path(link)}` is a symbolic link; mu writes no golden case through it",
                hint="replace the link with the file or directory it points to",
            )
    existing, cases_before = _existing_cases(path)
    used_in = _used_case_ids(golden_dir).get(case_id)
    if used_in is not None:
        raise InputError(
            f"golden case id `{shown(case_id)}` is already used in `{shown_path(used_in)}`",
            hint="choose another id with `--case-id`",
        )
    separator = "" if not existing else "\n" if existing.endswith("\n") else "\n\n"
    text = existing + separator + tomli_w.dumps({"case": [case]})
    try:
        after = tomllib.loads(text).get("case")
    except (tomllib.TOMLDecodeError, RecursionError):
        after = None
    if not isinstance(after, list) or len(after) != cases_before + 1 or after[-1] != case:
        raise InputError(f"cannot append a case to `{shown_path(path)}`", hint=_APPEND_HINT)
    try:
        write_file_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise InputError(
            f"cannot write `{shown_path(path)}`: {(exc.strerror or str(exc)).lower()}",
            hint="make `golden/` writable, or run without `--write-case`",
        ) from None
    return path


def _check_toml_value(case: dict[str, Any]) -> None:
    """Refuse, naming the field, any value TOML cannot hold or tomli-w cannot encode."""
    stack: list[tuple[Any, str]] = [(case, "")]
    while stack:
        value, where = stack.pop()
        problem = None
        if isinstance(value, str):
            problem = None if encodable(value) else "holds a lone surrogate, which is not Unicode"
        elif isinstance(value, bool):
            pass
        elif isinstance(value, int):
            problem = None if value in _INT64 else "is an integer outside TOML's 64-bit range"
        elif isinstance(value, float):
            problem = None if math.isfinite(value) else "is not a finite number"
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{where}.{key}" if where else str(key)
                if not isinstance(key, str) or not encodable(key):
                    problem = f"has the key `{shown(str(key))}`, which TOML cannot hold"
                    break
                stack.append((item, name))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))
        else:
            kind = "null" if value is None else f"a {type(value).__name__}"
            problem = f"is {kind}, which TOML cannot hold"
        if problem is not None:
            raise InputError(
                f"cannot write the golden case: `{shown(where or 'case')}` {problem}",
                hint="fix the transaction, or add the case to a golden file by hand",
            )


def _existing_cases(path: Path) -> tuple[str, int]:
    """The text of the file we append to ("" if none) and how many cases it holds."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return "", 0  # writing it will say what is wrong with the directory, if anything
    except OSError as exc:
        raise InputError(
            f"cannot read `{shown_path(path)}`: {(exc.strerror or str(exc)).lower()}",
            hint="make the golden file readable, or move it aside, then run again",
        ) from None
    try:
        text = data.decode("utf-8")
        cases = tomllib.loads(text).get("case", [])
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        raise InputError(
            f"`{shown_path(path)}` is not valid TOML; appending to it would not help",
            hint="fix it first (`mu test` names the problem)",
        ) from None
    if not isinstance(cases, list):
        raise InputError(f"`case` in `{shown_path(path)}` is not a list", hint=_APPEND_HINT)
    return text, len(cases)


def _used_case_ids(golden_dir: Path) -> dict[str, Path]:
    """Case id -> the golden file using it; files that do not parse are `mu test`'s to report."""
    used: dict[str, Path] = {}
    for path in sorted_files(golden_dir, "*.toml"):
        try:
            cases = tomllib.loads(path.read_bytes().decode("utf-8")).get("case", [])
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
            continue
        for raw in cases if isinstance(cases, list) else []:
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                used.setdefault(raw["id"], path)
    return used
