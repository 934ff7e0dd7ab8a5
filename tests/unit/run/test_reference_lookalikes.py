"""The reference evaluator on values that look alike (SPEC §3), its trace and its cache.

Each `decide` also runs freshly generated enforcers and asserts that they
agree, so these tests hold the runtime engine to the same rules: party ids in
their normal form, empty ids invalid, declared patterns and allowed values.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mu.generator.compile.model import FieldDef, Ontology, TransactionType
from mu.generator.compile.pipeline import Compiled
from mu.generator.run import reference
from mu.generator.run.reference import (
    ReferenceDecision,
    reference_decide,
    summarize_enforcer_decision,
)
from tests.unit.run.test_reference import LEVELS, control, tx, write_package


@pytest.fixture(scope="module")
def example(
    tmp_path_factory: pytest.TempPathFactory, example_compiled: Compiled
) -> tuple[Ontology, ModuleType]:
    """The shipped ontology as a model, and the enforcers freshly compiled from it."""
    directory = tmp_path_factory.mktemp("lookalikes") / "enforcers"
    return example_compiled.ontology, write_package(example_compiled.files, directory)


PAY = TransactionType(
    "urn:t:pay",
    "pay",
    "pay",
    (
        FieldDef("country", "string", True, "[A-Z]{2}"),
        FieldDef("payee.id", "string", False),
        FieldDef("score", "integer", True, None, ("1", "5", "10")),
        FieldDef("tier", "string", False, None, ("gold", "silver")),
        FieldDef("rate", "decimal", False, None, ("1.50",)),
        FieldDef("vip", "boolean", False, None, ("false",)),
        FieldDef("level", "authority", False, None, ("L3",)),
        FieldDef("owner.id", "string", False, "[a-z]+", ("alice", "bob")),
    ),
)


def tiny(*controls: Any) -> Ontology:
    return Ontology((PAY,), LEVELS, (), tuple(sorted(controls, key=lambda c: c.control_id)))


SOD = control("sod", "segregation", separates=("initiator", "approver"))


# --------------------------------------------------------------------------
# Party ids
# --------------------------------------------------------------------------


def test_look_alike_party_ids_are_the_same_person(decide: Any) -> None:
    o = tiny(SOD)
    for approver in ("Ann", "ann ", "a\u200bnn", "\uff41\uff4e\uff4e", "ANN", "\u2060ann\u00ad"):
        decision = decide(o, tx(approver={"id": approver, "authority": "L3"}))
        assert decision.reasons == (("sod", "REJECT"),), approver
    assert decide(o, tx(approver={"id": "anne", "authority": "L3"})).outcome == "APPROVE"


def test_an_id_empty_in_normal_form_is_invalid(decide: Any) -> None:
    o = tiny(SOD)
    for empty in ("", " ", "\t", "\u200b", "\u3164 \ufeff"):
        assert decide(o, tx(initiator={"id": empty})).invalid_fields == ("initiator.id",)
        assert decide(o, tx(payee={"id": empty})).invalid_fields == ("payee.id",)
    # The transaction's own `id` is not a party id: blank, it is still a string.
    assert decide(o, tx(id=" ")).outcome == "APPROVE"


def test_literals_compared_with_party_ids_are_normalised(decide: Any) -> None:
    o = tiny(
        control("boss", "condition", when='initiator.id = "ANN"', effect="REVIEW", message="m"),
        control(
            "payees",
            "condition",
            when='payee.id in {"Carol", "D\u00e4n"}',
            effect="REJECT",
            message="m",
        ),
    )
    assert decide(o, tx(payee={"id": "x"})).reasons == (("boss", "REVIEW"),)
    assert decide(o, tx(initiator={"id": "\uff21nn"}, payee={"id": "x"})).reasons == (
        ("boss", "REVIEW"),
    )
    assert decide(o, tx(payee={"id": "carol "})).reasons == (
        ("boss", "REVIEW"),
        ("payees", "REJECT"),
    )
    assert decide(o, tx(payee={"id": "DA\u0308N"})).reasons[-1] == ("payees", "REJECT")
    assert decide(o, tx(initiator={"id": "anna"}, payee={"id": "x"})).outcome == "APPROVE"


# --------------------------------------------------------------------------
# Declared restrictions
# --------------------------------------------------------------------------


def test_a_pattern_must_match_the_whole_value(decide: Any) -> None:
    o = tiny(control("c", "condition", when='country = "IR"', effect="REJECT", message="m"))
    assert decide(o, tx(country="IR")).reasons == (("c", "REJECT"),)
    for lookalike in ("ir", "I\u200bR", "\uff29\uff32", "IR\n", "IRN", " IR", ""):
        assert decide(o, tx(country=lookalike)).invalid_fields == ("country",), lookalike


def test_allowed_values_of_every_datatype(decide: Any) -> None:
    o = tiny()
    assert decide(o, tx(score=5)).outcome == "APPROVE"
    assert decide(o, tx(score=6)).invalid_fields == ("score",)
    assert decide(o, tx(tier="gold")).outcome == "APPROVE"
    assert decide(o, tx(tier="Gold")).invalid_fields == ("tier",)  # not a party id: exact
    assert decide(o, tx(rate="1.5")).outcome == "APPROVE"  # compared as a value
    assert decide(o, tx(rate="1.500")).outcome == "APPROVE"
    assert decide(o, tx(rate="1.51")).invalid_fields == ("rate",)
    assert decide(o, tx(vip=False)).outcome == "APPROVE"
    assert decide(o, tx(vip=True)).invalid_fields == ("vip",)
    assert decide(o, tx(level="L3")).outcome == "APPROVE"
    assert decide(o, tx(level="L1")).invalid_fields == ("level",)


def test_a_party_id_is_restricted_in_its_normal_form(decide: Any) -> None:
    o = tiny()
    assert decide(o, tx(owner={"id": "ALICE"})).outcome == "APPROVE"
    assert decide(o, tx(owner={"id": "b\u200bob "})).outcome == "APPROVE"
    assert decide(o, tx(owner={"id": "carol"})).invalid_fields == ("owner.id",)
    assert decide(o, tx(owner={"id": "  "})).invalid_fields == ("owner.id",)


def test_every_invalid_field_is_named_at_once(decide: Any) -> None:
    o = tiny(SOD)
    bad = tx(country="ir", score=2, initiator={"id": "\u200b"}, tier="bronze")
    assert decide(o, bad).invalid_fields == ("country", "initiator.id", "score", "tier")


# --------------------------------------------------------------------------
# Trace and cache
# --------------------------------------------------------------------------


def test_the_trace_says_what_each_applicable_control_did(decide: Any) -> None:
    o = tiny(
        SOD,
        control("big", "condition", when="amount > 100.00", effect="REVIEW", message="m"),
        control("ledger", "audit_log", ledger="l"),
        control("on_reject", "notification", recipients=("x@y",), on_outcome=("REJECT",)),
    )
    decision = decide(o, tx(amount="5.00"))
    assert decision.trace == (
        ("big", "skipped"),
        ("ledger", "fired"),
        ("on_reject", "passed"),
        ("sod", "passed"),
    )
    decision = decide(o, tx(amount="500.00", approver={"id": "ANN", "authority": "L3"}))
    assert dict(decision.trace) == {
        "big": "fired",
        "ledger": "fired",
        "on_reject": "fired",
        "sod": "fired",
    }
    assert decision.to_dict()["trace"] == [list(t) for t in decision.trace]
    assert decide(o, tx(score=2)).trace == ()  # no decision, no trace


def test_conditions_are_parsed_once_per_text() -> None:
    o = tiny(control("c", "condition", when="score > 4", effect="REVIEW", message="m"))
    reference._parsed.cache_clear()
    for score in (1, 5, 10, 1, 5):
        reference_decide(o, tx(score=score))
    info = reference._parsed.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_a_package_without_a_trace_summarises_to_an_empty_one() -> None:
    class Old:
        outcome = "APPROVE"
        reasons = ()
        actions = ()

    module = ModuleType("old")
    module.evaluate = lambda transaction: Old()  # type: ignore[attr-defined]
    module.InvalidTransaction = ValueError  # type: ignore[attr-defined]
    assert summarize_enforcer_decision(module, {}) == ReferenceDecision("APPROVE")


# --------------------------------------------------------------------------
# The shipped example, with look-alikes among random transactions
# --------------------------------------------------------------------------

LOOKALIKE_IDS = ["alice", "Alice", "alice ", "al\u200bice", "\uff41\uff4c\uff49\uff43\uff45", "bob"]
LOOKALIKE_IDS += ["BOB", "", "  ", "\u200b", "carol", "Car\u00adol"]
COUNTRIES = ["DE", "IR", "ir", "I\u200bR", "\uff29\uff32", "KP", "kp", "IR\n", "CU", "US"]


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_agrees_with_the_enforcers_on_look_alikes(
    example: tuple[Ontology, ModuleType],
    data: st.DataObject,
) -> None:
    ontology, module = example
    type_id = data.draw(st.sampled_from(["vendor_payment", "wire_transfer", "expense_refund"]))
    people = [data.draw(st.sampled_from(LOOKALIKE_IDS)) for _ in range(3)]
    country = data.draw(st.sampled_from(COUNTRIES))
    transaction: dict[str, Any] = {
        "id": "tx-1",
        "type": type_id,
        "amount": data.draw(st.sampled_from(["10.00", "150000.00", "2000000.00"])),
        "currency": "USD",
        "initiator": {"id": people[0]},
        "approver": {"id": people[1], "authority": data.draw(st.sampled_from(["L1", "CFO"]))},
        "executor": {"id": people[2]},
        "counterparty": {"country": country, "is_new": False, "risk_score": 10},
        "invoice": {"id": "INV-1"},
        "beneficiary": {"country": country, "is_new": False, "bank_bic": "DEUTDEFF"},
        "employee": {"id": data.draw(st.sampled_from(LOOKALIKE_IDS))},
        "expense": {"category": "travel"},
        "receipt": {"attached": True},
    }
    expected = reference_decide(ontology, transaction)
    event(expected.outcome)
    assert summarize_enforcer_decision(module, transaction) == expected
