"""Type checking against a `TypeEnv`: what is accepted, and every type error's column."""

from __future__ import annotations

import pytest

from mu.generator.compile.conditions import (
    ConditionProblem,
    TypeEnv,
    check_condition,
    parse_condition,
)
from mu.generator.compile.model import FieldDef

WELL_TYPED = [
    # numbers, mixing decimal and integer, all six operators
    "amount > 100000.00",
    "amount >= 5",
    "amount != -1",
    "counterparty.risk_score < 7.5",
    "counterparty.risk_score <= counterparty.risk_score",
    "fx.rate = amount",
    "1 < 2",
    # strings and booleans: equality and (strings) membership
    'currency = "EUR"',
    '"EUR" != currency',
    'counterparty.country in {"IR", "KP"}',
    'counterparty.country not in {"IR"}',
    "counterparty.is_new = true",
    "counterparty.is_new != false",
    "counterparty.is_new",
    "not counterparty.is_new",
    "true",
    "(counterparty.is_new)",
    # numeric membership
    "amount in {1, 2.50}",
    "counterparty.risk_score not in {0}",
    # authority: codes by rank, fields, code strings, membership
    "approver.authority >= L4",
    "L4 <= approver.authority",
    "approver.authority > reviewer.authority",
    'approver.authority = "L3"',
    "approver.authority in {L4, CFO}",
    'approver.authority not in {"L1", L2}',
    # combinations
    'amount > 10000 and (currency = "USD" or not counterparty.is_new)',
]


@pytest.mark.parametrize("text", WELL_TYPED)
def test_well_typed(text: str, env: TypeEnv) -> None:
    check_condition(parse_condition(text), env)


def test_a_field_shadows_an_authority_code() -> None:
    env = TypeEnv({"L4": "integer", "approver.authority": "authority"}, frozenset({"L4"}))
    check_condition(parse_condition("L4 > 3"), env)
    with pytest.raises(ConditionProblem):
        check_condition(parse_condition("approver.authority >= L4"), env)


def test_type_env_from_model_fields() -> None:
    env = TypeEnv.of([FieldDef("amount", "decimal", True)], ["L1"])
    assert env.fields == {"amount": "decimal"}
    assert env.authority_codes == frozenset({"L1"})


@pytest.mark.parametrize(
    ("text", "column", "message", "hint"),
    [
        # names
        ("amont > 5", 1, "unknown field or authority code `amont`", "did you mean `amount`?"),
        ("counterparty.cuntry = 1", 1, "unknown field `counterparty.cuntry`", "did you mean"),
        ("a.b", 1, "unknown field `a.b`", "known fields: `amount`, `approver.authority`"),
        ("approver.authority >= L9", 23, "unknown field or authority code `L9`", "`CFO`"),
        ("L4 < L5", 1, "authority code `L4` can only be compared with an authority field", ""),
        ("amount > L4", 10, "authority code `L4` can only be compared", "approver.authority"),
        ('approver.authority = "L9"', 22, "unknown authority code `L9`", "`L1`, `L2`"),
        ("approver.authority in {L4, L9}", 28, "unknown authority code `L9`", "known"),
        ("L4 in {L4}", 1, "authority code `L4` can only be compared", ""),
        # incompatible types, reported at the operator
        ('amount = "100"', 8, 'cannot compare `amount` (decimal) with `"100"` (string)', "number"),
        (
            '"100" < amount',
            7,
            'cannot compare `"100"` (string) with `amount` (decimal)',
            "`amount`",
        ),
        ("currency = 5", 10, "cannot compare `currency` (string) with `5` (integer)", "string"),
        ("counterparty.is_new = 1", 21, "(boolean) with `1` (integer)", "`true` or `false`"),
        ("approver.authority >= 4", 20, "(authority) with `4` (integer)", "authority code"),
        ("approver.authority = currency", 20, "(authority) with `currency` (string)", ""),
        ("amount = approver.authority", 8, "`amount` (decimal) with", ""),
        # operators a type does not support
        ('currency < "EUR"', 10, "`<` does not apply to strings", "`=` and `!=`, or tested"),
        ("counterparty.is_new >= true", 21, "`>=` does not apply to booleans", "`=` and `!=`"),
        # membership
        ('currency in {"EUR", 5}', 21, "set element `5` is an integer, but `currency` is a", ""),
        ('amount in {1, "2"}', 15, 'set element `"2"` is a string, but `amount` is a decimal', ""),
        (
            "currency in {EUR}",
            14,
            "set element `EUR` is not a literal",
            'write it as a string: `"EUR"`',
        ),
        ("amount in {x}", 12, "set element `x` is not a literal", "a number"),
        ("approver.authority in {L4, 5}", 28, "set element `5` is an integer", "authority code"),
        ("counterparty.is_new in {true}", 21, "`in` does not apply to booleans", ""),
        ("counterparty.is_new not in {true}", 21, "`not in` does not apply to booleans", ""),
        # conditions must be boolean
        ("amount", 1, "`amount` is a decimal field, not a condition", "`amount > 1000.00`"),
        ("currency", 1, "`currency` is a string field", '`currency = "EUR"`'),
        ("approver.authority", 1, "an authority field", "`approver.authority >= L3`"),
        ("amount > 5 and currency", 16, "`currency` is a string field", ""),
        ("not amount", 5, "`amount` is a decimal field", ""),
        ("5", 1, "an integer literal is not a condition", ""),
        ('"yes"', 1, "a string literal is not a condition", ""),
        ("1.5 or true", 1, "a decimal literal is not a condition", ""),
        # the first problem, in reading order, is the one reported
        ("x = 1 or y = 2", 1, "unknown field or authority code `x`", ""),
    ],
)
def test_type_error(text: str, column: int, message: str, hint: str, env: TypeEnv) -> None:
    with pytest.raises(ConditionProblem) as info:
        check_condition(parse_condition(text), env)
    found = info.value
    assert found.kind == "type"
    assert found.column == column, found.message
    assert message in found.message
    assert hint in found.hint
    assert found.message[:1] == found.message[:1].lower()


def test_hint_lists_known_fields_sorted(env: TypeEnv) -> None:
    with pytest.raises(ConditionProblem) as info:
        check_condition(parse_condition("zzz = 1"), env)
    listed = info.value.hint.split("known fields: ", 1)[1].replace("`", "").split(", ")
    assert listed == sorted(env.fields)


def test_empty_environment_says_none() -> None:
    with pytest.raises(ConditionProblem) as info:
        check_condition(parse_condition("a = 1"), TypeEnv({}, frozenset()))
    assert info.value.hint == "known fields: none"


def test_type_error_column_spans_lines(env: TypeEnv) -> None:
    with pytest.raises(ConditionProblem) as info:
        check_condition(parse_condition('amount > 5\nand currency < "x"'), env)
    assert info.value.column == 25


def test_type_env_rejects_unknown_datatypes() -> None:
    with pytest.raises(ValueError, match="date"):
        TypeEnv({"due": "date"}, frozenset())


def test_unknown_code_opposite_an_authority_field_suggests_codes(env: TypeEnv) -> None:
    with pytest.raises(ConditionProblem) as info:
        check_condition(parse_condition("approver.authority >= CF0"), env)
    assert info.value.hint.startswith("did you mean `CFO`?")
    assert "known authority codes: `CFO`, `L1`" in info.value.hint
