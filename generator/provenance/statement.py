"""The statements mu signs and reads back: their kinds and shapes (SPEC §6, docs/RECEIPTS.md).

A signature says who wrote a statement, not that it has the shape mu's code
relies on: a trusted key can sign a predicate whose `sequence` is a string or
whose `ontology.snapshot` is a list. `statement_problems` is the one
structural check, run by the reader on every statement it reads and (through
`predicate_problems`) by `from_dict` on every predicate it types. Every field
a consumer reads has a type, a bound and, for digests, a form (64 lowercase
hex digits); fields that no consumer reads may be added by later versions of
mu and are not checked (nor kept by `from_dict`).

The typed values of receipts and rejections live in `predicates.py`, those of
the other kinds in `kinds.py`; both are built only from checked dicts.
"""

from __future__ import annotations

from collections.abc import Mapping

from mu.generator.errors import Problem
from mu.generator.jsonshape import (
    LONG,
    MAX_PROBLEMS,
    PATH,
    Boolean,
    Hex64,
    Integer,
    ListOf,
    MapOf,
    Nullable,
    Number,
    OneOf,
    RelativePath,
    Spec,
    Text,
    add_problem,
    json_type,
    preview,
    record,
)
from mu.generator.layout import SNAPSHOTS
from mu.generator.provenance.claims import MADE_UNDER_FIELDS, MADE_UNDER_NAMES
from mu.generator.provenance.verdict import STATUSES

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
RECEIPT_TYPE = "urn:mu:v1#Receipt"
REJECTION_TYPE = "urn:mu:v1#Rejection"
APPROVAL_TYPE = "urn:mu:v1#Approval"
OVERRIDE_TYPE = "urn:mu:v1#Override"
AUDIT_TYPE = "urn:mu:v1#Audit"
UPGRADE_TYPE = "urn:mu:v1#Upgrade"
CHECKPOINT_TYPE = "urn:mu:v1#DecisionCheckpoint"
CANONICALIZATION = "RDFC-1.0"  # how the ontology's semantic digest is computed
MALFORMED_HINT = (
    "mu never writes a statement of this shape: the receipt was altered or made by "
    "another tool; restore it from its original copy"
)

# --- the shape of each statement kind (what `statement_problems` checks) ----

HEX = Hex64()
GENERATOR = record(("name", Text()), ("version", Text()), ("source_sha256", HEX))
GOLDEN = record(("sha256", HEX), ("passed", Integer()), ("failed", Integer()), ("total", Integer()))
VERDICT = OneOf(STATUSES)
GATES = MapOf(Text(), VERDICT)  # a rejection records the gates that ran before the failure
# A receipt records every gate of a build: `approvals` is missing only from receipts
# made before trust roots, `override` is there only when an override let the build on.
RECEIPT_GATES = record(
    ("ontology", VERDICT),
    ("golden", VERDICT),
    ("coverage", VERDICT),
    ("reference", VERDICT),
    ("determinism", VERDICT),
    ("approvals", VERDICT),
    ("override", VERDICT),
    # `coverage` and `reference` are missing only from receipts made before those gates.
    optional=("coverage", "reference", "approvals", "override"),
)
# The golden coverage a build required (`[build] min_coverage` of `mu.toml`, percent)
# and found: controls covered on both sides, of how many, each uncovered one's missing side.
COVERAGE = record(
    ("required", Number(0, 100)),
    ("covered", Integer()),
    ("controls", Integer()),
    ("uncovered", MapOf(Text(), Text())),
)
SOURCE_FILES = MapOf(RelativePath(), HEX)
NAMES = ListOf(Text())
# One signed statement a receipt counted: whose (identity, key) and which statement.
SIGNED_BY = record(("identity", Text()), ("keyid", HEX), ("statement", HEX), optional=("identity",))
SUBJECT = ListOf(
    record(("name", RelativePath()), ("digest", record(("sha256", HEX)))), non_empty=True
)

RECEIPT = record(
    ("sequence", Integer(minimum=1)),
    ("generator", GENERATOR),
    (
        "ontology",
        record(
            ("digest", HEX),
            ("canonicalization", Text()),
            ("files", SOURCE_FILES),
            ("snapshot", record(("path", RelativePath(f"{SNAPSHOTS}/")), ("sha256", HEX))),
        ),
    ),
    ("golden", GOLDEN),
    ("gates", RECEIPT_GATES),
    ("controls", MapOf(Text(), record(("digest", HEX), ("module", RelativePath())))),
    ("enforcers", record(("sha256", HEX))),
    ("parent", Nullable(HEX)),
    ("change", record(("added", NAMES), ("removed", NAMES), ("changed", NAMES))),
    ("approvals", record(("required", Integer()), ("by", ListOf(SIGNED_BY)))),
    ("override", record(("rejection", HEX), ("by", ListOf(SIGNED_BY)))),
    ("coverage", COVERAGE),
    *MADE_UNDER_FIELDS,
    # Receipts made before trust roots lack the claims and may lack approvals; receipts
    # made before the coverage gate lack `coverage`.
    optional=("approvals", "override", "coverage", *MADE_UNDER_NAMES),
)

REJECTION = record(
    ("generator", GENERATOR),
    ("ontology", record(("digest", Nullable(HEX)), ("files", SOURCE_FILES))),
    ("gates", GATES),
    ("failed_gates", NAMES),
    ("context", Nullable(HEX)),
    (
        "violations",
        ListOf(
            record(
                ("focus", Text(LONG, multiline=True)),
                ("path", Nullable(Text(LONG, multiline=True))),
                ("shape", Text(LONG, multiline=True)),
                ("message", Text(LONG, multiline=True)),
                ("file", Nullable(RelativePath())),
            )
        ),
    ),
    ("golden", GOLDEN),
    (
        "failed_cases",
        ListOf(
            record(
                ("id", Text(LONG, multiline=True)),
                ("file", Text(PATH)),
                ("mismatches", ListOf(Text(LONG, multiline=True))),
            )
        ),
    ),
    ("compliance_override_required", Boolean()),
    ("overridable", Boolean()),
    ("coverage", COVERAGE),
    *MADE_UNDER_FIELDS,
    optional=(
        "violations",
        "golden",
        "failed_cases",
        "compliance_override_required",
        "overridable",
        "coverage",
        *MADE_UNDER_NAMES,
    ),
)

ATTEMPTED = record(("digest", HEX), ("canonicalization", Text()), ("files", SOURCE_FILES))
APPROVAL = record(
    ("ontology", ATTEMPTED),
    ("generator", GENERATOR),
    *MADE_UNDER_FIELDS,
    optional=("generator", *MADE_UNDER_NAMES),
)
VIOLATION_KEY = record(
    ("shape", Text(LONG, multiline=True)), ("focus", Text(LONG, multiline=True))
)
OVERRIDE = record(
    ("rejection", HEX),
    ("ontology", record(("digest", HEX))),
    ("violations", ListOf(VIOLATION_KEY, non_empty=True)),
    ("generator", GENERATOR),
    *MADE_UNDER_FIELDS,
    optional=("signedAt",),
)
AUDIT = record(
    ("receipt", record(("digest", HEX), ("sequence", Integer(minimum=1)))),
    ("replayed", record(("payload_sha256", HEX), ("matches", Boolean()))),
    ("generator", GENERATOR),
    *MADE_UNDER_FIELDS,
    optional=("signedAt",),
)
UPGRADE = record(*MADE_UNDER_FIELDS, optional=MADE_UNDER_NAMES)
# A decision-log checkpoint (`generator.decisionlog`): the head of log `log_id` after record
# `seq`, and why it was signed; a recovery checkpoint also says what the restart found.
CHECKPOINT_REASONS = ("interval", "rotation", "shutdown", "recovery")
CHECKPOINT = record(
    ("log_id", Text()),
    ("seq", Integer()),
    ("decisions", Integer()),
    ("reason", OneOf(CHECKPOINT_REASONS)),
    ("time", Text()),
    (
        "recovery",
        record(
            ("uncovered_from", Nullable(Integer())),
            ("uncovered_records", Integer()),
            ("dropped_bytes", Integer()),
        ),
    ),
    *MADE_UNDER_FIELDS,
    optional=("recovery", "signedAt"),
)

# The shape of every kind mu signs (a trust root is checked by `trustroot.py`).
PREDICATES: Mapping[str, Spec] = {
    RECEIPT_TYPE: RECEIPT,
    REJECTION_TYPE: REJECTION,
    APPROVAL_TYPE: APPROVAL,
    OVERRIDE_TYPE: OVERRIDE,
    AUDIT_TYPE: AUDIT,
    UPGRADE_TYPE: UPGRADE,
    CHECKPOINT_TYPE: CHECKPOINT,
}


# --- the structural check ------------------------------------------------------


def statement_problems(statement: object, expected_type: str | None = None) -> tuple[Problem, ...]:
    """Every way `statement` departs from an in-toto Statement v1 of mu's shape.

    The predicate is checked against the schema of its `predicateType`;
    `expected_type`, when given, is the only type accepted. At most
    `MAX_PROBLEMS` problems are listed, then one saying that more exist.
    """
    out: list[Problem] = []
    if not isinstance(statement, dict):
        add_problem(out, (), f"must be a JSON object, found {json_type(statement)}")
        return tuple(out)
    kind = statement.get("predicateType")
    kinds = OneOf((expected_type,)) if expected_type is not None else Text()
    for name, spec in (("_type", OneOf((STATEMENT_TYPE,))), ("predicateType", kinds)):
        if name in statement:
            spec.check(statement[name], (name,), out)
        else:
            add_problem(out, (name,), "is missing")
    if "subject" not in statement:
        add_problem(out, ("subject",), "is missing")
    else:
        SUBJECT.check(statement["subject"], ("subject",), out)
        _duplicate_subjects(statement["subject"], out)
    predicate = statement.get("predicate")
    if "predicate" not in statement:
        add_problem(out, ("predicate",), "is missing")
    elif not isinstance(predicate, dict):
        add_problem(out, ("predicate",), f"must be an object, found {json_type(predicate)}")
    elif isinstance(kind, str) and kind in PREDICATES:
        predicate_problems(predicate, kind, out)
    return tuple(out)


def predicate_problems(predicate: object, kind: str, out: list[Problem]) -> None:
    """Add to `out` every way `predicate` departs from the shape of `kind` (one of `PREDICATES`).

    Problems are located under `predicate`, as in `statement_problems`.
    """
    if not isinstance(predicate, dict):
        add_problem(out, ("predicate",), f"must be an object, found {json_type(predicate)}")
        return
    PREDICATES[kind].check(predicate, ("predicate",), out)
    if kind == RECEIPT_TYPE:
        _snapshot_address(predicate, out)
        _coverage_recorded(predicate, out)


def _coverage_recorded(predicate: Mapping[str, object], out: list[Problem]) -> None:
    # A receipt made before the coverage and reference gates lacks all three of these;
    # one made since has all three. One without the others is not a receipt mu made.
    gates = predicate.get("gates")
    if not isinstance(gates, dict):
        return
    present = {
        ("predicate", "gates", "coverage"): "coverage" in gates,
        ("predicate", "gates", "reference"): "reference" in gates,
        ("predicate", "coverage"): "coverage" in predicate,
    }
    if any(present.values()):
        for where, there in present.items():
            if not there:
                add_problem(
                    out, where, "is missing, but the receipt records the coverage gate elsewhere"
                )


def _snapshot_address(predicate: Mapping[str, object], out: list[Problem]) -> None:
    # Snapshots are content-addressed: mu only ever names `<dir>/<sha256>.json`,
    # so a receipt naming any other file (`/dev/zero`, another snapshot) is not mu's.
    ontology = predicate.get("ontology")
    snapshot = ontology.get("snapshot") if isinstance(ontology, dict) else None
    if not isinstance(snapshot, dict):
        return
    path, sha256 = snapshot.get("path"), snapshot.get("sha256")
    typed = HEX.reason(sha256) is None and RelativePath().reason(path) is None
    if typed and path != f"{SNAPSHOTS}/{sha256}.json":
        add_problem(
            out,
            ("predicate", "ontology", "snapshot", "path"),
            f"must be `{SNAPSHOTS}/<its sha256>.json`, found `{preview(str(path))}`",
        )


def _duplicate_subjects(subject: object, out: list[Problem]) -> None:
    # Two digests for one name would let two readers of one receipt disagree.
    if not isinstance(subject, list):
        return
    seen: set[str] = set()
    for index, entry in enumerate(subject):
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str):
            if name in seen:
                add_problem(out, ("subject", index, "name"), f"repeats `{preview(name)}`")
            seen.add(name)


def describe(problems: tuple[Problem, ...]) -> str:
    """The first problem as a sentence, and how many more there are."""
    if not problems:
        return "well formed"
    first = f"{problems[0].where} {problems[0].message}"
    if len(problems) > MAX_PROBLEMS:
        return f"{first} (and at least {MAX_PROBLEMS} more)"
    if len(problems) > 1:
        return f"{first} (and {len(problems) - 1} more)"
    return first
