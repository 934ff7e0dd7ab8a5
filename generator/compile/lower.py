"""Stage 5, lower: `model.Ontology` (+ compiled conditions) → `ir.PackageIR`.

The IR is plain and sorted; each control's digest is the sha256 of the
canonical JSON of its IR — exactly what its module is rendered from — so a
change to one control changes one digest and one module.

One control lowers on its own: `compile_control_condition(control, context)`
then `lower_control(control, condition)`, where `ConditionContext` is the only
package-wide input (the declared fields of each transaction type, every
authority code). Its `ControlIR` is a function of `control_key_material` (the
control, and its condition's environment when it has one) and mu's own code:
no other control (a `dependsOn` is kept as the id it names), no authority rank
or label, no type label, required flag or restriction. The schema
(`lower_schema`) reads the types and authority levels only; the dispatch
digest, the sorted control ids only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
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
    ir_digest,
    ir_json,
    plain,
)
from mu.generator.compile.model import CORE_FIELDS, Control, FieldDef, Ontology


@dataclass(frozen=True)
class ConditionContext:
    """What lowering one control reads beyond the control itself: package-wide, made once.

    `fields` maps each transaction type id to its declared fields (path →
    datatype, sorted by path); `authority_codes` holds every authority code.
    A control's condition is checked against `env(control)`, built from these
    and the core fields only: nothing of any other control, no authority rank
    or label, no type label, restriction or required flag.
    """

    fields: Mapping[str, Mapping[str, str]]
    authority_codes: frozenset[str]

    @classmethod
    def of(cls, ontology: Ontology) -> ConditionContext:
        """The context of every control of `ontology`."""
        fields: dict[str, Mapping[str, str]] = {}
        for t in ontology.transaction_types:
            # The first type of an id, as `Ontology.type_by_id` finds it.
            fields.setdefault(t.type_id, {f.path: str(f.datatype) for f in t.fields})
        codes = frozenset(a.code for a in ontology.authority_levels)
        return cls(fields=fields, authority_codes=codes)

    def env(self, control: Control) -> TypeEnv:
        """The fields `control`'s condition may read: the core fields, plus the declared
        fields that every one of its transaction types has with one datatype."""
        common: dict[str, str] | None = None
        for type_id in control.applies_to:
            declared = self._declared(type_id)
            if common is None:
                common = dict(declared)
            else:
                common = {p: d for p, d in common.items() if declared.get(p) == d}
        fields = {f.path: str(f.datatype) for f in CORE_FIELDS}
        fields.update(common or {})
        return TypeEnv(fields=dict(sorted(fields.items())), authority_codes=self.authority_codes)

    def _declared(self, type_id: str) -> Mapping[str, str]:
        # An unknown type declares nothing (SHACL has said so already).
        return self.fields.get(type_id, {})


def condition_env(ontology: Ontology, control: Control) -> TypeEnv:
    """The fields a control's condition may read: the core fields, plus the
    declared fields that every one of its transaction types has with one datatype."""
    return ConditionContext.of(ontology).env(control)


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


def compile_control_condition(
    control: Control, context: ConditionContext
) -> CompiledCondition | ConditionFailure | None:
    """Compile one control's `mu:when` against `context.env(control)`.

    None when the control has no condition; a `ConditionFailure` when it does
    not parse or type-check. A pure function of `condition_key_material(control,
    context)` (and of mu's own code).
    """
    if control.when is None:
        return None
    try:
        return compile_condition(control.when, context.env(control))
    except ConditionProblem as exc:
        return ConditionFailure(
            control.control_id, control.iri, exc.column, exc.kind, exc.message, exc.hint
        )


def compile_conditions(ontology: Ontology) -> CompiledConditions:
    """Compile every control's `mu:when`, collecting every failure."""
    context = ConditionContext.of(ontology)
    compiled: dict[str, CompiledCondition] = {}
    failures: list[ConditionFailure] = []
    for control in ontology.controls:
        result = compile_control_condition(control, context)
        if isinstance(result, ConditionFailure):
            failures.append(result)
        elif result is not None:
            compiled[control.control_id] = result
    return CompiledConditions(compiled, tuple(failures))


def condition_key_material(control: Control, context: ConditionContext) -> bytes:
    """Canonical JSON of exactly what `compile_control_condition` reads.

    The control's id and IRI (a failure names both), its condition text, and,
    when it has one, the environment it is checked in: the fields its types
    share and every authority code. Cache keys must add mu's own digest.
    """
    env = None
    if control.when is not None:
        typed = context.env(control)
        env = {"fields": dict(typed.fields), "authority_codes": sorted(typed.authority_codes)}
    return ir_json(
        {"control_id": control.control_id, "iri": control.iri, "when": control.when, "env": env}
    )


def control_key_material(control: Control, context: ConditionContext) -> bytes:
    """Canonical JSON of exactly what one control's lowering reads: its `ControlIR` (or its
    condition's failure) is a pure function of these bytes and mu's own code.

    That is the whole control as extracted (every field of `model.Control`; the
    threshold as its plain decimal text) and, when it has a condition, the
    environment the condition is checked in (`ConditionContext.env`). Nothing
    else: not the other controls (`depends_on` holds their ids, which is all
    the IR keeps), not authority ranks or labels, not the type labels or field
    restrictions.
    """
    data = plain(control)
    assert isinstance(data, dict)  # a Control is a dataclass
    if control.amount_threshold is not None:
        data["amount_threshold"] = format(control.amount_threshold, "f")
    env = None
    if control.when is not None:
        typed = context.env(control)
        env = {"fields": dict(typed.fields), "authority_codes": sorted(typed.authority_codes)}
    return ir_json({"control": data, "env": env})


def _field(f: FieldDef) -> FieldIR:
    return FieldIR(
        path=f.path,
        datatype=f.datatype,
        required=f.required,
        pattern=f.pattern,
        allowed_values=f.allowed_values,
    )


def _digest_of(obj: object) -> str:
    # `hashing.digest_json` of the IR without its own digest, several times faster.
    return ir_digest(obj, omit=("digest",))


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
        dispatch_digest=ir_digest(sorted(c.control_id for c in controls)),
    )
