"""The whitelist over emitted source: allowed shapes pass, everything else is a bug."""

from __future__ import annotations

import doctest

import pytest

import mu.generator.compile.conditions
from mu.generator.compile.conditions.safety import verify_source

ALLOWED = [
    "(tx['amount'] > Decimal('100000.00'))",
    "(tx.rank(tx['approver.authority']) >= tx.rank('L4'))",
    "(tx['a'] in ('x', 'y'))",
    "(tx['a'] not in (1, -5, Decimal('2.5')))",
    "((not (tx['a'] == True)) or (False))",
    "(tx['a'] != -5)",
]

REJECTED = [
    "__import__('os').system('x')",
    "open('x')",
    "tx.__class__",
    "tx['a'].__class__",
    "tx.values",
    "tx.get",
    "tx.get('a', 'b')",
    "tx.get()",
    "tx.get(*'a')",
    "tx.get(key='a')",
    "tx.get(tx)",
    "tx.get(x)",
    "tx.save('a')",
    "Decimal.from_float(0.1)",
    "Decimal(0.1)",
    "Decimal(b'1')",
    "Decimal(None)",
    "tx['a'] == 1.5",
    "tx['a'] == 1j",
    "tx['a'] == ...",
    "-tx['a']",
    "-True",
    "+5",
    "~5",
    "1 < 2 < 3",
    "tx['a'] is True",
    "tx['a'] + 1",
    "tx['a'][0]",
    "[1, 2]",
    "{1, 2}",
    "{'a': 1}",
    "lambda: 1",
    "(x := 1)",
    "f'{tx}'",
    "1 if tx else 2",
    "[t for t in tx]",
    "os",
    "(not x)",
    "getattr(tx, 'get')",
]


@pytest.mark.parametrize("source", ALLOWED)
def test_emitted_shapes_pass(source: str) -> None:
    verify_source(source)


@pytest.mark.parametrize("source", REJECTED)
def test_anything_else_is_an_internal_error(source: str) -> None:
    with pytest.raises(RuntimeError):
        verify_source(source)


def test_invalid_python_is_an_internal_error() -> None:
    with pytest.raises(RuntimeError, match="not valid Python"):
        verify_source("(tx['a'] ==")


def test_statements_cannot_hide_in_an_expression() -> None:
    with pytest.raises(RuntimeError):
        verify_source("tx['a']; import os")


def test_package_docstring_examples_hold() -> None:
    result = doctest.testmod(mu.generator.compile.conditions)
    assert result.attempted > 0
    assert result.failed == 0
