"""Emission: exact source for every construct, and its meaning when evaluated."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from mu.generator.compile.conditions import (
    CompiledCondition,
    ConditionProblem,
    TypeEnv,
    compile_condition,
    emit_condition,
    parse_condition,
)

Evaluate = Callable[..., Any]


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("amount > 100000.00", "(tx['amount'] > Decimal('100000.00'))"),
        ("amount >= 007.50", "(tx['amount'] >= Decimal('7.50'))"),
        ("amount = 5", "(tx['amount'] == 5)"),
        ("amount != -5", "(tx['amount'] != -5)"),
        ("amount < -0.5", "(tx['amount'] < Decimal('-0.5'))"),
        ('counterparty.country = "IR"', "(tx['counterparty.country'] == 'IR')"),
        ("counterparty.is_new = false", "(tx['counterparty.is_new'] == False)"),
        ("counterparty.is_new", "(tx['counterparty.is_new'] == True)"),
        ("true", "(True)"),
        (
            "approver.authority >= L4",
            "(tx.rank(tx['approver.authority']) >= tx.rank('L4'))",
        ),
        (
            "L4 < approver.authority",
            "(tx.rank('L4') < tx.rank(tx['approver.authority']))",
        ),
        (
            'approver.authority = "L3"',
            "(tx.rank(tx['approver.authority']) == tx.rank('L3'))",
        ),
        (
            "approver.authority > reviewer.authority",
            "(tx.rank(tx['approver.authority']) > tx.rank(tx['reviewer.authority']))",
        ),
        (
            "approver.authority in {L4, CFO}",
            "(tx['approver.authority'] in ('L4', 'CFO'))",
        ),
        (
            'approver.authority not in {L4, "L4", CFO}',
            "(tx['approver.authority'] not in ('L4', 'CFO'))",
        ),
        (
            'counterparty.country in {"KP", "IR", "KP"}',
            "(tx['counterparty.country'] in ('KP', 'IR'))",
        ),
        ('currency in {"EUR"}', "(tx['currency'] in ('EUR',))"),
        ("amount in {1, 2.50}", "(tx['amount'] in (1, Decimal('2.50')))"),
        (
            'not amount > 5 and currency = "EUR" or true',
            "(((not (tx['amount'] > 5)) and (tx['currency'] == 'EUR')) or (True))",
        ),
        (
            "amount > 1 and (amount < 9 or amount = 20)",
            "((tx['amount'] > 1) and ((tx['amount'] < 9) or (tx['amount'] == 20)))",
        ),
    ],
)
def test_source(text: str, source: str, env: TypeEnv) -> None:
    assert emit_condition(parse_condition(text), env) == source
    assert compile_condition(text, env).source == source


def test_emit_type_checks_first(env: TypeEnv) -> None:
    with pytest.raises(ConditionProblem) as info:
        emit_condition(parse_condition("amount"), env)
    assert info.value.kind == "type"


def test_fields_are_sorted_and_deduplicated(env: TypeEnv) -> None:
    compiled = compile_condition(
        'currency = "EUR" and amount > 5 and amount < 9 and approver.authority >= L4', env
    )
    assert compiled == CompiledCondition(
        source=compiled.source,
        fields=("amount", "approver.authority", "currency"),
        guard=("member", "currency", ("EUR",)),
        # The condition once its first test holds: the other three, in order.
        rest_source="((tx['amount'] > 5) and (tx['amount'] < 9) and "
        "(tx.rank(tx['approver.authority']) >= tx.rank('L4')))",
    )
    assert compile_condition("true", env).fields == ()


def test_same_input_same_source(env: TypeEnv) -> None:
    text = 'counterparty.country in {"IR", "KP"} and amount >= 1.10 or approver.authority < L2'
    assert len({compile_condition(text, env) for _ in range(5)}) == 1


# --- semantics: evaluate the source with a fake tx --------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("100000.00", False), ("100000", False), ("100000.01", True), ("99999.99", False)],
)
def test_threshold_is_strict_and_exact(amount: str, expected: bool, evaluate: Evaluate) -> None:
    values = {"amount": Decimal(amount)}
    assert evaluate("amount > 100000.00", values) is expected
    assert evaluate("amount > 100000", values) is expected


def test_decimal_equality_is_exact(evaluate: Evaluate) -> None:
    sum_ = Decimal("0.1") + Decimal("0.2")
    assert evaluate("amount = 0.3", {"amount": sum_}) is True
    assert evaluate("amount = 0.30000000000000004", {"amount": sum_}) is False
    assert evaluate("amount = 5", {"amount": Decimal("5.000")}) is True


def test_integer_field(evaluate: Evaluate) -> None:
    assert evaluate("counterparty.risk_score >= 10", {"counterparty.risk_score": 10}) is True
    assert evaluate("counterparty.risk_score > 9.99", {"counterparty.risk_score": 10}) is True
    assert evaluate("counterparty.risk_score < -1", {"counterparty.risk_score": -2}) is True


@pytest.mark.parametrize(
    ("authority", "at_least_l4"),
    [("L1", False), ("L3", False), ("L4", True), ("L5", True), ("CFO", True)],
)
def test_authority_compares_by_rank(authority: str, at_least_l4: bool, evaluate: Evaluate) -> None:
    values = {"approver.authority": authority}
    assert evaluate("approver.authority >= L4", values) is at_least_l4
    assert evaluate("approver.authority < L4", values) is not at_least_l4
    assert evaluate('approver.authority >= "L4"', values) is at_least_l4
    assert evaluate("L4 <= approver.authority", values) is at_least_l4


def test_authority_membership_compares_codes(evaluate: Evaluate) -> None:
    assert evaluate("approver.authority in {L4, CFO}", {"approver.authority": "CFO"}) is True
    assert evaluate("approver.authority in {L4, CFO}", {"approver.authority": "L5"}) is False
    assert evaluate("approver.authority not in {L1}", {"approver.authority": "L5"}) is True


def test_two_authority_fields(evaluate: Evaluate) -> None:
    values = {"approver.authority": "L3", "reviewer.authority": "L2"}
    assert evaluate("approver.authority > reviewer.authority", values) is True
    assert evaluate("approver.authority = reviewer.authority", values) is False


def test_strings_and_membership(evaluate: Evaluate) -> None:
    assert evaluate('counterparty.country in {"IR", "KP"}', {"counterparty.country": "KP"})
    assert not evaluate('counterparty.country in {"IR", "KP"}', {"counterparty.country": "kp"})
    assert evaluate('counterparty.country not in {"IR"}', {"counterparty.country": "DE"})
    assert evaluate('currency != "USD"', {"currency": "EUR"})


def test_booleans(evaluate: Evaluate) -> None:
    assert evaluate("counterparty.is_new", {"counterparty.is_new": True}) is True
    assert evaluate("counterparty.is_new", {"counterparty.is_new": False}) is False
    assert evaluate("not counterparty.is_new", {"counterparty.is_new": False}) is True
    assert evaluate("counterparty.is_new = false", {"counterparty.is_new": False}) is True


def test_precedence_matches_the_language(evaluate: Evaluate) -> None:
    # `true or false and false` is `true or (false and false)`.
    assert evaluate("true or false and false") is True
    assert evaluate("(true or false) and false") is False
    assert evaluate("not false and false") is False
    assert evaluate("not (false and false)") is True


def test_only_the_fields_needed_are_read(env: TypeEnv, fake_tx: type[Any]) -> None:
    tx = fake_tx({"amount": Decimal(1)})
    source = compile_condition('amount > 5 and currency = "EUR"', env).source
    # Short-circuiting: a missing field behind a false conjunct is never read.
    assert eval(source, {"__builtins__": {}}, {"tx": tx, "Decimal": Decimal}) is False
    assert tx.reads == ["amount"]


# --- injection: user strings stay inert literals ----------------------------

HOSTILE = [
    "'",
    '"',
    '"""',
    "'''",
    "\\",
    "\n",
    "a\tb",
    "__import__('os').system('x')",
    "'); import os; ('",
    "\"); __import__('os').system('rm -rf /'); (\"",
    "{tx.__class__}",
    "%s %(x)s {0}",
    "\\x41\\u0041\\N{BULLET}",
    "\x00\x1b[2J",
    "é ✓ \U0001d518",
]


def _literal(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_are_inert(value: str, env: TypeEnv, evaluate: Evaluate) -> None:
    text = f"counterparty.country = {_literal(value)}"
    compiled = compile_condition(text, env)
    assert compiled.source == f"(tx['counterparty.country'] == {value!r})"
    assert evaluate(text, {"counterparty.country": value}) is True
    assert evaluate(text, {"counterparty.country": value + "x"}) is False
    member = f'counterparty.country in {{{_literal(value)}, "zz"}}'
    assert evaluate(member, {"counterparty.country": value}) is True


def test_escapes_decode_to_the_characters(evaluate: Evaluate) -> None:
    text = r'currency = "a\"b\\c\nd\te"'
    assert evaluate(text, {"currency": 'a"b\\c\nd\te'}) is True
    assert evaluate(text, {"currency": 'a\\"b\\\\c\\nd\\te'}) is False


def test_hostile_names_never_parse(env: TypeEnv) -> None:
    for text in ["__import__('os')", "tx['x']", "amount.__class__ = 1", "eval(1)"]:
        with pytest.raises(ConditionProblem):
            compile_condition(text, env)
