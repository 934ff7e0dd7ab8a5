"""Hoisting decimal literals out of compiled conditions, token by token."""

from __future__ import annotations

import pytest

from mu.generator.compile.conditions import TypeEnv, compile_condition
from mu.generator.compile.conditions.hoist import Hoisted, hoist_decimals
from mu.generator.compile.conditions.safety import verify_source


def test_each_distinct_literal_becomes_one_constant() -> None:
    source = (
        "((tx['amount'] > Decimal('1.50')) and (tx['fee'] < Decimal('1.50')))"
        " or (tx['x'] == Decimal('-2'))"
    )
    assert hoist_decimals(source) == Hoisted(
        "((tx['amount'] > _D0) and (tx['fee'] < _D0)) or (tx['x'] == _D1)", ("1.50", "-2")
    )


def test_a_string_that_reads_like_a_decimal_call_stays_a_string(env: TypeEnv) -> None:
    text = "counterparty.country = \"Decimal('1')\" and amount > 5.00"
    source = compile_condition(text, env).source
    hoisted = hoist_decimals(source)
    assert hoisted.decimals == ("5.00",)
    assert "\"Decimal('1')\"" in hoisted.source
    verify_source(hoisted.source, constants=frozenset({"_D0"}))


def test_without_decimals_the_source_is_unchanged(env: TypeEnv) -> None:
    source = compile_condition('counterparty.country in {"IR"}', env).source
    assert hoist_decimals(source) == Hoisted(source, ())


@pytest.mark.parametrize(
    "source",
    ["Decimal(x)", "Decimal('1e5x')", "Decimal('1', '2')", "Decimal"],
)
def test_an_unexpected_shape_is_a_bug_in_mu(source: str) -> None:
    with pytest.raises(RuntimeError):
        hoist_decimals(source)


def test_hoisted_names_are_allowed_only_when_declared() -> None:
    with pytest.raises(RuntimeError):
        verify_source("(tx['amount'] > _D0)")
    verify_source("(tx['amount'] > _D0)", constants=frozenset({"_D0"}))
