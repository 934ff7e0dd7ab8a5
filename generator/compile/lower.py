"""Stage 5, lower: `model.Ontology` (+ compiled conditions) → `ir.PackageIR`.

The IR is plain and sorted; each control's digest is the sha256 of the
canonical JSON of its IR — exactly what its module is rendered from — so a
change to one control changes one digest and one module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from mu.generator import NAME, __version__
from mu.generator.compile.conditions import (
    CompiledCondition,
    ConditionProblem,
    TypeEnv,
    compile_condition,
)
from mu.generator.compile.ir import (
    AuthorityIR,
    ConditionIR,
    ControlIR,
    FieldIR,
    PackageIR,
    SchemaIR,
    TypeIR,
)
from mu.generator.compile.model import CORE_FIELDS, Control, FieldDef, Ontology
from mu.generator.hashing import digest_json


def condition_env(ontology: Ontology, control: Control) -> TypeEnv:
    """The fields a control's condition may read: the core fields, plus the
    declared fields that every one of its transaction types has with one datatype."""
    common: dict[str, str] | None = None
    for type_id in control.applies_to:
        ttype = ontology.type_by_id(type_id)
        declared: dict[str, str] = {f.path: f.datatype for f in ttype.fields} if ttype else {}
        if common is None:
            common = declared
        else:
            common = {p: d for p, d in common.items() if declared.get(p) == d}
    fields = {f.path: str(f.datatype) for f in CORE_FIELDS}
    fields.update(common or {})
    codes = frozenset(a.code for a in ontology.authority_levels)
    return TypeEnv(fields=dict(sorted(fields.items())), authority_codes=codes)


@dataclass(frozen=True)
class ConditionFailure:
    """A `mu:when` that does not parse (`kind` "syntax") or type-check ("type")."""

    control_id: str
    control_iri: str
    column: int
    kind: str
    message: str
    hint: str


@dataclass(frozen=True)
class CompiledConditions:
    """Every control's compiled condition, and every failure (sorted by control id)."""

    compiled: dict[str, CompiledCondition]
    failures: tuple[ConditionFailure, ...]


def compile_conditions(ontology: Ontology) -> CompiledConditions:
    """Compile every control's `mu:when`, collecting every failure."""
    compiled: dict[str, CompiledCondition] = {}
    failures: list[ConditionFailure] = []
    for control in ontology.controls:
        if control.when is None:
            continue
        try:
            compiled[control.control_id] = compile_condition(
                control.when, condition_env(ontology, control)
            )
        except ConditionProblem as exc:
            failures.append(
                ConditionFailure(
                    control.control_id, control.iri, exc.column, exc.kind, exc.message, exc.hint
                )
            )
    return CompiledConditions(compiled, tuple(failures))


def _field(f: FieldDef) -> FieldIR:
    return FieldIR(
        path=f.path,
        datatype=f.datatype,
        required=f.required,
        pattern=f.pattern,
        allowed_values=f.allowed_values,
    )


def _digest_of(obj: object, exclude: Iterable[str] = ("digest",)) -> str:
    data = dataclasses.asdict(obj)  # type: ignore[call-overload]
    for key in exclude:
        data.pop(key, None)
    return digest_json(data)


def lower_schema(ontology: Ontology) -> SchemaIR:
    """The transaction schema IR: types with core + declared fields, authorities by rank."""
    types = tuple(
        TypeIR(
            type_id=t.type_id,
            label=t.label,
            fields=tuple(_field(f) for f in CORE_FIELDS) + tuple(_field(f) for f in t.fields),
        )
        for t in ontology.transaction_types
    )
    authorities = tuple(
        AuthorityIR(code=a.code, rank=a.rank, label=a.label) for a in ontology.authority_levels
    )
    schema = SchemaIR(types=types, authorities=authorities, digest="")
    return dataclasses.replace(schema, digest=_digest_of(schema))


def lower_control(control: Control, condition: CompiledCondition | None) -> ControlIR:
    """One control's IR, with its digest computed over everything else in it."""
    when = None
    if condition is not None and control.when is not None:
        when = ConditionIR(
            text=control.when,
            source=condition.source,
            fields=condition.fields,
            guard=condition.guard,
            guard_is_condition=condition.guard_is_condition,
            rest_source=condition.rest_source,
        )
    threshold = None
    if control.amount_threshold is not None:
        threshold = format(control.amount_threshold, "f")
    ir = ControlIR(
        control_id=control.control_id,
        kind=control.kind,
        label=control.label,
        owner=control.owner,
        applies_to=control.applies_to,
        depends_on=control.depends_on,
        when=when,
        amount_threshold=threshold,
        currency=control.currency,
        required_authority=control.required_authority,
        separates=tuple(control.separates),
        effect=control.effect,
        message=control.message,
        recipients=control.recipients,
        on_outcome=tuple(control.on_outcome),
        ledger=control.ledger,
        digest="",
    )
    return dataclasses.replace(ir, digest=_digest_of(ir))


def lower(ontology: Ontology, conditions: dict[str, CompiledCondition]) -> PackageIR:
    """The whole package IR, controls sorted by control id."""
    controls = tuple(
        lower_control(c, conditions.get(c.control_id))
        for c in sorted(ontology.controls, key=lambda c: c.control_id)
    )
    return PackageIR(
        generator_name=NAME,
        generator_version=__version__,
        schema=lower_schema(ontology),
        controls=controls,
        dispatch_digest=digest_json(sorted(c.control_id for c in controls)),
    )
