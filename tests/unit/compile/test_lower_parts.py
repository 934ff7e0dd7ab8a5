"""Lowering one control: what it reads beyond the control (`ConditionContext`), and the key
material a cache of lowered controls keys on."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from mu.generator.compile.lower import (
    ConditionContext,
    ConditionFailure,
    compile_conditions,
    compile_control_condition,
    condition_env,
    condition_key_material,
    control_key_material,
    lower,
    lower_control,
)
from mu.generator.compile.model import (
    AuthorityLevel,
    Control,
    FieldDef,
    Ontology,
    TransactionType,
)

EX = "https://acme.example/policy#"


def ttype(type_id: str, *fields: FieldDef) -> TransactionType:
    return TransactionType(EX + type_id, type_id, type_id.replace("_", " "), fields)


def level(code: str, rank: int) -> AuthorityLevel:
    return AuthorityLevel(EX + code, code, rank, f"level {code}")


def control(control_id: str, **fields: object) -> Control:
    values: dict[str, object] = {
        "iri": EX + control_id,
        "control_id": control_id,
        "kind": "condition",
        "label": control_id,
        "owner": "risk",
        "applies_to": ("vendor_payment",),
        "effect": "REJECT",
        "message": "no",
    }
    values.update(fields)
    return Control(**values)  # type: ignore[arg-type]


COUNTRY = FieldDef("counterparty.country", "string", True)
SCORE_INT = FieldDef("counterparty.risk_score", "integer", True)
SCORE_DEC = FieldDef("counterparty.risk_score", "decimal", True)
GATED = control("gated", when='counterparty.country in {"IR"} and approver.authority >= L4')
SHARED = control(
    "shared", applies_to=("vendor_payment", "wire_transfer"), when='counterparty.country = "IR"'
)
PLAIN = control(
    "plain",
    kind="approval",
    amount_threshold=Decimal("1000.00"),
    currency="USD",
    required_authority="L4",
    effect=None,
    message=None,
    depends_on=("gated",),
)
BROKEN = control("broken", when="amount >")
ONTOLOGY = Ontology(
    transaction_types=(
        ttype("vendor_payment", COUNTRY, SCORE_INT),
        ttype("wire_transfer", COUNTRY, SCORE_DEC),
    ),
    authority_levels=(level("L1", 1), level("L4", 4)),
    roles=(),
    controls=(BROKEN, GATED, PLAIN, SHARED),
)


def test_the_environment_is_the_fields_its_types_share() -> None:
    context = ConditionContext.of(ONTOLOGY)
    env = context.env(SHARED)
    assert env == condition_env(ONTOLOGY, SHARED)
    assert env.fields["counterparty.country"] == "string"
    # The types disagree on the risk score's datatype, so the condition may not read it.
    assert "counterparty.risk_score" not in env.fields
    assert context.env(GATED).fields["counterparty.risk_score"] == "integer"
    assert env.authority_codes == frozenset({"L1", "L4"})


def test_one_control_at_a_time_is_the_whole_stage() -> None:
    context = ConditionContext.of(ONTOLOGY)
    whole = compile_conditions(ONTOLOGY)
    one = {c.control_id: compile_control_condition(c, context) for c in ONTOLOGY.controls}
    assert {k: v for k, v in one.items() if v is not None and k in whole.compiled} == (
        whole.compiled
    )
    assert tuple(v for v in one.values() if isinstance(v, ConditionFailure)) == whole.failures
    assert one["plain"] is None
    assert whole.failures[0].control_id == "broken"
    ok = [c for c in ONTOLOGY.controls if c.control_id != "broken"]
    lowered = lower(dataclasses.replace(ONTOLOGY, controls=tuple(ok)), whole.compiled)
    for ir, model in zip(lowered.controls, ok, strict=True):
        condition = compile_control_condition(model, context)
        assert not isinstance(condition, ConditionFailure)
        assert lower_control(model, condition) == ir


def keys(ontology: Ontology) -> dict[str, bytes]:
    context = ConditionContext.of(ontology)
    return {c.control_id: control_key_material(c, context) for c in ontology.controls}


def condition_keys(ontology: Ontology) -> dict[str, bytes]:
    context = ConditionContext.of(ontology)
    return {c.control_id: condition_key_material(c, context) for c in ontology.controls}


def test_another_control_does_not_reach_a_control_key() -> None:
    edited = control("broken", when="amount > 5.00", label="fixed")
    other = dataclasses.replace(ONTOLOGY, controls=(edited, GATED, PLAIN, SHARED))
    before, after = keys(ONTOLOGY), keys(other)
    assert before["broken"] != after["broken"]
    assert {k: v for k, v in before.items() if k != "broken"} == {
        k: v for k, v in after.items() if k != "broken"
    }


def test_authority_codes_reach_conditions_only_and_ranks_reach_nothing() -> None:
    more = dataclasses.replace(
        ONTOLOGY, authority_levels=(*ONTOLOGY.authority_levels, level("CFO", 9))
    )
    before, after = keys(ONTOLOGY), keys(more)
    assert before["plain"] == after["plain"]  # no condition: the codes are not read
    assert before["gated"] != after["gated"]
    assert condition_keys(ONTOLOGY)["gated"] != condition_keys(more)["gated"]
    reranked = dataclasses.replace(ONTOLOGY, authority_levels=(level("L1", 2), level("L4", 7)))
    assert keys(reranked) == keys(ONTOLOGY)
    assert condition_keys(reranked) == condition_keys(ONTOLOGY)


def test_a_type_reaches_the_conditions_that_apply_to_it_only() -> None:
    new_field = FieldDef("counterparty.segment", "string", False)
    wire = ttype("wire_transfer", COUNTRY, SCORE_DEC, new_field)
    changed = dataclasses.replace(
        ONTOLOGY, transaction_types=(ONTOLOGY.transaction_types[0], wire)
    )
    before, after = keys(ONTOLOGY), keys(changed)
    assert before["gated"] == after["gated"]  # vendor_payment only
    assert before["plain"] == after["plain"]
    # `shared` applies to both, but the field is not common to both: its environment,
    # and so its key, stays the same.
    assert before["shared"] == after["shared"]
    both = dataclasses.replace(
        changed,
        transaction_types=(ttype("vendor_payment", COUNTRY, SCORE_INT, new_field), wire),
    )
    assert keys(both)["shared"] != before["shared"]
    # A label or a restriction of a type is not part of any condition's environment.
    relabelled = dataclasses.replace(
        ONTOLOGY,
        transaction_types=tuple(
            dataclasses.replace(t, label="renamed") for t in ONTOLOGY.transaction_types
        ),
    )
    assert keys(relabelled) == before


def test_key_material_follows_every_field_of_the_control() -> None:
    base = keys(ONTOLOGY)["plain"]
    for change in (
        {"amount_threshold": Decimal("1000.01")},
        {"required_authority": "L1"},
        {"depends_on": ()},
        {"owner": "treasury"},
        {"iri": EX + "moved"},
    ):
        edited = dataclasses.replace(PLAIN, **change)  # type: ignore[arg-type]
        other = dataclasses.replace(ONTOLOGY, controls=(BROKEN, GATED, edited, SHARED))
        assert keys(other)["plain"] != base, change
