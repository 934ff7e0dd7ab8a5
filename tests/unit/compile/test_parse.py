"""The runtime part `parse.py`: strict transaction JSON (SPEC §3, duplicate keys)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.compile.render import render_package, runtime_source
from mu.generator.compile.runtime.decision import InvalidTransaction
from mu.generator.compile.runtime.parse import parse_transaction
from tests.fixtures_ir import sample_package_ir


def fields_of(exc: pytest.ExceptionInfo[InvalidTransaction]) -> list[str]:
    return [p.field for p in exc.value.problems]


def test_a_plain_transaction_parses_as_json_does() -> None:
    text = '{"id": "t", "amount": "10.00", "approver": {"id": "bob"}, "items": [1, 2.5, null]}'
    assert parse_transaction(text) == json.loads(text)
    assert parse_transaction(text.encode("utf-8")) == json.loads(text)


def test_floats_are_kept_as_they_are() -> None:
    # The runtime refuses them for money with a message; the parser does not guess.
    assert parse_transaction('{"amount": 105000.5}') == {"amount": 105000.5}


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ('{"amount": "1", "amount": "2"}', ["amount"]),
        ('{"approver": {"id": "bob", "id": "alice"}}', ["approver.id"]),
        ('{"a": {"b": {"c": 1, "c": 1}}, "a2": [{"x": 1, "x": 2}]}', ["a.b.c", "a2.0.x"]),
        ('{"k": 1, "k": 2, "k": 3, "j": {"k": 1, "k": 1}}', ["j.k", "k"]),
    ],
)
def test_every_duplicate_key_is_named_by_its_path(text: str, paths: list[str]) -> None:
    with pytest.raises(InvalidTransaction, match="duplicate key") as exc:
        parse_transaction(text)
    assert fields_of(exc) == paths


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"amount": NaN}', "`NaN` is not a JSON number"),
        ('{"amount": Infinity}', "`Infinity` is not a JSON number"),
        ('{"amount": -Infinity}', "`-Infinity` is not a JSON number"),
        ('{"amount": 1e400}', "too large"),
        ("[1, 2]", "must be a JSON object"),
        ('"x"', "must be a JSON object"),
        ("null", "must be a JSON object"),
        ("{", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"a": 1} x', "not valid JSON"),
        (b"\xff{}", "not UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_what_is_not_a_transaction_is_refused_with_a_message(
    text: str | bytes, message: str
) -> None:
    with pytest.raises(InvalidTransaction, match=message) as exc:
        parse_transaction(text)
    assert fields_of(exc) == [""]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@pytest.mark.slow
@given(st.dictionaries(st.text(max_size=4), JSON, max_size=4))
@settings(max_examples=300, deadline=None)
def test_json_without_duplicates_round_trips(document: dict[str, object]) -> None:
    assert parse_transaction(json.dumps(document)) == document


def test_parse_transaction_is_exported_by_the_generated_package() -> None:
    assert "def parse_transaction(" in runtime_source("mu", "0.0.0")
    init = render_package(sample_package_ir())["__init__.py"].decode("utf-8")
    assert "    parse_transaction,\n" in init
    assert '    "parse_transaction",\n' in init
    assert "parse_transaction(text)" in init  # documented in the package docstring
