"""Guards: a condition's first test as data, which the condition always implies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings

from mu.generator.compile.conditions import TypeEnv, compile_condition
from tests.unit.compile.conditions.test_cond_properties import (
    RANK,
    Case,
    conditions,
    transactions,
)


def guard_of(text: str, env: TypeEnv) -> object:
    return compile_condition(text, env).guard


@pytest.mark.parametrize(
    ("text", "guard"),
    [
        ("amount > 100000.00", ("range", "amount", ">", "100000.00")),
        ("amount >= 5", ("range", "amount", ">=", 5)),
        ("5 < amount", ("range", "amount", ">", 5)),
        ("100.50 >= amount", ("range", "amount", "<=", "100.50")),
        ("not (amount > 7)", ("range", "amount", "<=", 7)),
        ("counterparty.risk_score > 90", ("range", "counterparty.risk_score", ">", 90)),
        ("approver.authority >= L4", ("range", "approver.authority", ">=", "L4")),
        ("not (approver.authority >= L2)", ("range", "approver.authority", "<", "L2")),
        (
            'counterparty.country in {"KP", "IR", "KP"}',
            ("member", "counterparty.country", ("IR", "KP")),
        ),
        ('counterparty.country = "IR"', ("member", "counterparty.country", ("IR",))),
        ('"IR" = counterparty.country', ("member", "counterparty.country", ("IR",))),
        ("counterparty.is_new", ("member", "counterparty.is_new", (True,))),
        ("not counterparty.is_new", ("member", "counterparty.is_new", (False,))),
        ("counterparty.is_new = false", ("member", "counterparty.is_new", (False,))),
        ("approver.authority in {L4, CFO}", ("member", "approver.authority", ("CFO", "L4"))),
        ('initiator.id = "Alice "', ("member", "initiator.id", ("alice",))),
        # The first test of a conjunction guards it; the rest is for the condition.
        ("counterparty.is_new and amount > 5", ("member", "counterparty.is_new", (True,))),
        # No guard: an `or`, `!=`, `not in`, two fields, a literal, strings ordered.
        ("counterparty.is_new or amount > 5", None),
        ("amount != 5", None),
        ('counterparty.country not in {"IR"}', None),
        ('not (counterparty.country = "IR")', None),
        ("approver.authority > reviewer.authority", None),
        ("true", None),
        ('approver.authority = "L3"', None),
    ],
)
def test_guard_shapes(env: TypeEnv, text: str, guard: object) -> None:
    assert guard_of(text, env) == guard


def guard_holds(guard: tuple[Any, ...], values: dict[str, Any]) -> bool:
    """The guard's meaning, written independently of the runtime's index."""
    value = values[guard[1]]
    if guard[0] == "member":
        # Decimals travel as their canonical text; the runtime compares numbers.
        numeric = guard[1] == "amount"
        return value in {Decimal(v) if numeric and isinstance(v, str) else v for v in guard[2]}
    _, path, op, literal = guard
    if path == "approver.authority":
        value, literal = RANK[value], RANK[literal]
    elif isinstance(literal, str):
        literal = Decimal(literal)
    outcomes = {"<": value < literal, "<=": value <= literal, ">": value > literal}
    return bool(outcomes.get(op, value >= literal))


@pytest.mark.slow
@given(conditions, transactions)
@settings(max_examples=400)
def test_a_condition_implies_its_guard(env: TypeEnv, case: Case, values: dict[str, Any]) -> None:
    guard = compile_condition(case.text, env).guard
    if guard is not None and case.holds(values):
        assert isinstance(guard, tuple)
        assert guard_holds(guard, values)


@pytest.mark.slow
@given(conditions, transactions)
@settings(max_examples=400)
def test_a_whole_condition_guard_is_the_condition(
    env: TypeEnv, case: Case, values: dict[str, Any]
) -> None:
    compiled = compile_condition(case.text, env)
    if compiled.guard_is_condition:
        assert isinstance(compiled.guard, tuple)
        assert guard_holds(compiled.guard, values) == case.holds(values)


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("amount > 5", True),
        ("not (amount > 7)", True),
        ('counterparty.country in {"IR"}', True),
        ("counterparty.is_new", True),
        ("amount > 5 and counterparty.is_new", False),
        ("amount > 5 or counterparty.is_new", False),
        ("amount != 5", False),
    ],
)
def test_which_guards_are_the_whole_condition(env: TypeEnv, text: str, whole: bool) -> None:
    assert compile_condition(text, env).guard_is_condition is whole


@pytest.mark.slow
@given(conditions, transactions)
@settings(max_examples=400)
def test_the_rest_is_the_condition_once_the_guard_holds(
    env: TypeEnv, run: Any, case: Case, values: dict[str, Any]
) -> None:
    compiled = compile_condition(case.text, env)
    if compiled.rest_source is None:
        assert compiled.guard is None or compiled.guard_is_condition
        return
    assert isinstance(compiled.guard, tuple) and not compiled.guard_is_condition
    if guard_holds(compiled.guard, values):
        assert run(compiled.rest_source, values) is case.holds(values)
