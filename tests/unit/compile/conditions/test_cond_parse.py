"""Parsing: text → AST, one construct at a time, with columns."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mu.generator.compile.conditions import parse_condition
from mu.generator.compile.conditions.ast import (
    And,
    BoolLit,
    Compare,
    DecimalLit,
    FieldRef,
    In,
    IntLit,
    Name,
    Not,
    Or,
    SetLit,
    StrLit,
)


def test_comparison_with_name_and_integer() -> None:
    assert parse_condition("amount > 5") == Compare(
        ">", Name("amount", 1), IntLit(5, 10), column=1, op_column=8
    )


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_every_comparison_operator(op: str) -> None:
    expr = parse_condition(f"amount {op} 1")
    assert isinstance(expr, Compare)
    assert expr.op == op


def test_dotted_path_is_a_field_ref() -> None:
    expr = parse_condition('counterparty.country = "IR"')
    assert expr == Compare(
        "=", FieldRef("counterparty.country", 1), StrLit("IR", 24), column=1, op_column=22
    )


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("100000.00", DecimalLit(Decimal("100000.00"), 10)),
        ("-0.5", DecimalLit(Decimal("-0.5"), 10)),
        ("5", IntLit(5, 10)),
        ("-5", IntLit(-5, 10)),
        ("007", IntLit(7, 10)),
        ("true", BoolLit(True, 10)),
        ("false", BoolLit(False, 10)),
        ('"IR"', StrLit("IR", 10)),
        ('""', StrLit("", 10)),
        (r'"a\"b\\c\nd\te"', StrLit('a"b\\c\nd\te', 10)),
        ('"späß ✓"', StrLit("späß ✓", 10)),
    ],
)
def test_literals(text: str, literal: object) -> None:
    expr = parse_condition(f"amount = {text}")
    assert isinstance(expr, Compare)
    assert expr.right == literal


def test_decimal_keeps_its_exact_value() -> None:
    expr = parse_condition("amount > 100000.00")
    assert isinstance(expr, Compare) and isinstance(expr.right, DecimalLit)
    assert str(expr.right.value) == "100000.00"


def test_in_and_not_in() -> None:
    assert parse_condition('c.x in {"IR", "KP"}') == In(
        False,
        FieldRef("c.x", 1),
        SetLit((StrLit("IR", 9), StrLit("KP", 15)), 8),
        column=1,
        op_column=5,
    )
    assert parse_condition("a not in {L4, 1, 2.5, true}") == In(
        True,
        Name("a", 1),
        SetLit(
            (Name("L4", 11), IntLit(1, 15), DecimalLit(Decimal("2.5"), 18), BoolLit(True, 23)),
            10,
        ),
        column=1,
        op_column=3,
    )


def test_set_keeps_duplicates_and_order() -> None:
    expr = parse_condition('c in {"b", "a", "b"}')
    assert isinstance(expr, In)
    assert [i.value for i in expr.right.items if isinstance(i, StrLit)] == ["b", "a", "b"]


def test_precedence_not_binds_tighter_than_and_than_or() -> None:
    a, b, c = Name("a", 1), Name("b", 6), Name("c", 12)
    assert parse_condition("a or b and c") == Or((a, And((b, c), 6)), 1)
    assert parse_condition("not a and b") == And((Not(Name("a", 5), 1), Name("b", 11)), 1)
    assert parse_condition("not a = 1") == Not(Compare("=", Name("a", 5), IntLit(1, 9), 5, 7), 1)


def test_parentheses_group_and_leave_no_node() -> None:
    expr = parse_condition("(a or b) and c")
    assert expr == And((Or((Name("a", 2), Name("b", 7)), 2), Name("c", 14)), 1)
    assert parse_condition("((a))") == Name("a", 3)


def test_chains_are_flattened_but_parentheses_nest() -> None:
    flat = parse_condition("a and b and c")
    assert isinstance(flat, And) and len(flat.operands) == 3
    nested = parse_condition("a and (b and c)")
    assert isinstance(nested, And) and len(nested.operands) == 2
    assert isinstance(nested.operands[1], And)


def test_double_negation() -> None:
    assert parse_condition("not not a") == Not(Not(Name("a", 9), 5), 1)


@pytest.mark.parametrize("word", ["andx", "notable", "true_flag", "inx", "orders", "falsey"])
def test_identifiers_may_start_with_a_keyword(word: str) -> None:
    assert parse_condition(word) == Name(word, 1)


def test_keyword_inside_a_path_is_just_a_segment() -> None:
    assert parse_condition("not.in = 1") == Compare("=", FieldRef("not.in", 1), IntLit(1, 10), 1, 8)


def test_whitespace_and_line_breaks_are_insignificant() -> None:
    expr = parse_condition("amount\t>\n  5")
    # Columns count characters from the start of the text, line breaks included.
    assert expr == Compare(">", Name("amount", 1), IntLit(5, 12), column=1, op_column=8)


def test_no_lark_objects_escape() -> None:
    import dataclasses

    expr = parse_condition('not (a.b >= L4 or c in {"x"}) and d')
    stack: list[object] = [expr]
    while stack:
        node = stack.pop()
        module = type(node).__module__
        assert module in {"mu.generator.compile.conditions.ast", "builtins", "decimal"}
        if dataclasses.is_dataclass(node):
            stack.extend(getattr(node, f.name) for f in dataclasses.fields(node))
        elif isinstance(node, tuple):
            stack.extend(node)
