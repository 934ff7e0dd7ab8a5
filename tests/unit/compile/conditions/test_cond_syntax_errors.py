"""Syntax errors: kind, 1-based column, human wording and a useful hint."""

from __future__ import annotations

import re

import pytest

from mu.generator.compile.conditions import ConditionProblem, parse_condition
from mu.generator.compile.conditions.parser import MAX_DEPTH


def problem(text: str) -> ConditionProblem:
    with pytest.raises(ConditionProblem) as info:
        parse_condition(text)
    assert info.value.kind == "syntax"
    return info.value


@pytest.mark.parametrize(
    ("text", "column", "message", "hint"),
    [
        # the end of the text: the column just past the last token
        ("amount > ", 9, "expected a value after `>`", "a field, a number"),
        ("amount >= ", 10, "expected a value after `>=`", "a field, a number"),
        ("amount > 5 and", 15, "expected one of: `(`, `not`, a value after `and`", "a field"),
        ("(amount > 5", 12, "expected `)` after `5`", "close every `(`"),
        ('c in {"a", "b"', 15, 'expected one of: `,`, `}` after `"b"`', "close the set"),
        ("c in", 5, "expected `{` after `in`", "set literal"),
        ("not", 4, "expected one of: `(`, `not`, a value after `not`", "a field"),
        # a token out of place
        ("amount >> 5", 9, "unexpected `>` after `>`: expected a value", "one comparison"),
        ("amount == 5", 9, "unexpected `=` after `=`: expected a value", "single `=`"),
        (
            "a < b < c",
            7,
            "unexpected `<` after `b`: expected one of: `and`, `or`, the end of the condition",
            "do not chain",
        ),
        ("a = 1 = 2", 7, "unexpected `=` after `1`", "do not chain"),
        ("amount 5", 8, "unexpected `5` after `amount`", "put a comparison operator"),
        ("a AND b", 3, "unexpected `AND` after `a`", "keywords are lowercase: write `and`"),
        ("NOT a", 5, "unexpected `a` after `NOT`", "keywords are lowercase: write `not`"),
        ("a > 5)", 6, "unexpected `)` after `5`", "a condition combines"),
        ("()", 2, "unexpected `)` after `(`: expected one of: `(`, `not`, a value", "a field"),
        ("c in {}", 7, "unexpected `}` after `{`: expected a value", "a field"),
        ("c in {1,}", 9, "unexpected `}` after `,`: expected a value", "a field"),
        ("c in {a.b}", 8, "unexpected character `.` after `a`: expected one of: `,`, `}`", ""),
        ("c in EUR", 6, "unexpected `EUR` after `in`: expected `{`", "set literal"),
        ("n = 5abc", 6, "unexpected `abc` after `5`", "a condition combines"),
        ("amount > 5 andx", 12, "unexpected `andx` after `5`", "a condition combines"),
        # parentheses group conditions, not values
        ("(amount) > 5", 10, "unexpected `>` after `)`", "do not chain"),
        # keywords are reserved everywhere, even where the parser cannot take them
        ("in", 1, "unexpected `in`: expected one of: `(`, `not`, a value", "a field"),
        ("a = or", 5, "unexpected `or` after `=`: expected a value", "a field"),
        ("c in {true, in}", 13, "unexpected `in` after `,`: expected a value", "a field"),
        # a character that starts no token
        ("currency = 'EUR'", 12, "unexpected character `'` after `=`: expected a value", "double"),
        ("a > 1 && b", 7, "unexpected character `&` after `1`", "`and` and `or` as words"),
        ("a > 1 || b", 7, "unexpected character `|` after `1`", "`and` and `or` as words"),
        ("!a", 1, "unexpected character `!`: expected one of: `(`, `not`, a value", "`not`"),
        ("amount > 1.", 11, "unexpected character `.` after `1`", "both sides of the point"),
        ("amount > .5", 10, "unexpected character `.` after `>`", "both sides of the point"),
        ("amount > $5", 10, "unexpected character `$` after `>`", "a field"),
        ("währung = 1", 2, "unexpected character `ä` after `w`", ""),
        ("a =\u00a05", 4, "unexpected character U+00A0 after `=`", ""),
        ("a - 5", 3, "unexpected character `-` after `a`", ""),
        # strings
        ('x = "abc', 5, "unterminated string literal", 'close the string with a `"`'),
        ('x = "abc\\', 5, "unterminated string literal", ""),
        ('x = "ab\\qc"', 8, "unsupported escape `\\q` in a string literal", "only escapes"),
        ('x = "\\u0041"', 6, "unsupported escape `\\u`", "only escapes"),
        ('x = "ab\ncd"', 8, "a string literal cannot span lines", "write a line break as `\\n`"),
        ('x = "ab\rcd"', 8, "a string literal cannot span lines", ""),
        ('x = "ab\\\ncd"', 9, "a string literal cannot span lines", "only escapes"),
        # nothing at all
        ("", 1, "the condition is empty", "amount > 1000.00"),
        ("  \n\t", 1, "the condition is empty", ""),
    ],
)
def test_syntax_error(text: str, column: int, message: str, hint: str) -> None:
    found = problem(text)
    assert found.column == column
    assert found.message.startswith(message), found.message
    assert hint in found.hint


def test_message_names_no_lark_terminal() -> None:
    texts = ["amount >", "a < b < c", "(", "c in {", "x = 'y'", "a b", "1 2", "in", ")"]
    for text in texts:
        found = problem(text)
        # user input and examples are in backticks; the rest must be plain words
        rendered = re.sub(r"`[^`]*`", "", f"{found.message} {found.hint}")
        assert "__ANON" not in rendered
        assert not re.search(r"\b(_?[A-Z]{2,}|\$END)\b", rendered), rendered


def test_expected_list_is_sorted_and_deduplicated() -> None:
    found = problem("a = 1 b")
    listed = found.message.split("expected one of: ", 1)[1].split(", ")
    assert listed == sorted(set(listed))
    assert listed.count("a comparison operator") <= 1


def test_problem_str_carries_the_column() -> None:
    assert str(problem("amount > ")) == "column 9: expected a value after `>`"


def test_long_tokens_are_shortened_in_messages() -> None:
    found = problem('a = 1 "' + "x" * 100 + '"')
    assert "..." in found.message
    assert len(found.message) < 120


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    found = problem("not " * (MAX_DEPTH + 5) + "a")
    assert "nested more than" in found.message
    assert found.column > 1


def test_nesting_below_the_limit_parses() -> None:
    parse_condition("not " * (MAX_DEPTH - 5) + "a")
    parse_condition("(" * 500 + "a" + ")" * 500)  # parentheses add no depth


def test_huge_integer_is_a_syntax_error() -> None:
    found = problem("n = " + "9" * 5000)
    assert found.column == 5
    assert "too many digits" in found.message


def test_huge_decimal_is_fine() -> None:
    parse_condition("amount = " + "9" * 5000 + ".5")
