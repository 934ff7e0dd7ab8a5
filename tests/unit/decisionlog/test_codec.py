"""Canonical JSON with exact numbers, strict request bodies, and the entry contract."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.decisionlog import Entry, canonical_json, parse_body
from mu.generator.decisionlog.codec import _encode, check_entry
from mu.generator.errors import InputError
from tests.unit.decisionlog.conftest import RELEASE, entry


def test_canonical_json_is_sorted_compact_ascii() -> None:
    written = canonical_json({"b": [1, True, None], "a": "é\n"})
    assert written == '{"a":"\\u00e9\\n","b":[1,true,null]}'


@pytest.mark.parametrize(
    "text",
    ["105000.10", "1.50", "-0.0", "1E+5", "0.000000000000000000000001", "123456789012345678901.5"],
)
def test_decimals_keep_their_exact_text(text: str) -> None:
    body = f'{{"amount": {text}, "n": 7}}'.encode()
    value = parse_body(body)
    assert isinstance(value["amount"], Decimal)
    written = canonical_json(value)
    assert written == f'{{"amount":{Decimal(text)},"n":7}}'
    assert canonical_json(parse_body(written.encode())) == written


def test_the_python_and_c_encoders_agree() -> None:
    value = {"s": '\u2028\ud83d\ude00\x00"\\', "f": 1.5, "l": [{"z": 1, "a": [False]}], "i": -3}
    python: list[str] = []
    _encode(value, python)
    assert "".join(python) == canonical_json(value)
    # With a Decimal anywhere, the whole value goes the Python way, with the same text.
    assert (
        canonical_json({**value, "d": Decimal("2.50")}) == '{"d":2.50,' + canonical_json(value)[1:]
    )


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1e16, "1E+16"),
        (1e-07, "1E-7"),
        (1e-05, "0.00001"),
        (1.5e300, "1.5E+300"),
        (0.1, "0.1"),
        (100.0, "100.0"),
        (-0.0, "-0.0"),
        (123456.789, "123456.789"),
    ],
)
def test_floats_are_written_so_they_read_back_the_same(number: float, text: str) -> None:
    written = canonical_json({"x": [number], "s": "1e+5"})
    assert written == f'{{"s":"1e+5","x":[{text}]}}'
    assert canonical_json(parse_body(written.encode())) == written
    assert json.loads(written)["x"][0] == number
    check_entry(Entry(RELEASE, written, "APPROVE", (), ()))


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), float("nan")])
def test_non_numbers_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": [bad, Decimal("1")]})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1, "a": 2}', "repeats the field `a`"),
        (b'{"a": NaN}', "`NaN`"),
        (b"\xff", "not UTF-8"),
        (b'{"a": ', "not valid JSON"),
        (b"[" * 100_000, "nested too deeply"),
        (b"1" * 10_000, "number too long"),
    ],
)
def test_bodies_are_read_strictly(body: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("`", ".")):
        parse_body(body)


def test_an_entry_must_keep_its_contract() -> None:
    good = entry(1)
    assert check_entry(good) == {"amount": "10.00", "id": "tx-1", "type": "vendor_payment"}
    for bad in (
        Entry(RELEASE, '{"b":1, "a":2}', "APPROVE", (), ()),
        Entry(RELEASE, "{", "APPROVE", (), ()),
        Entry(RELEASE, "{}", "MAYBE", (), ()),
        Entry("nope", "{}", "APPROVE", (), ()),
        Entry(RELEASE, "{}", "APPROVE", ({"control_id": object()},), ()),
        Entry(RELEASE, "{}", "APPROVE", (), ({"targets": {1, 2}},)),
    ):
        with pytest.raises(ValueError):
            check_entry(bad)


_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_VALUES)
def test_canonical_text_reads_back_to_itself(value: object) -> None:
    written = canonical_json(value)
    assert canonical_json(parse_body(written.encode())) == written
    python: list[str] = []
    _encode(value, python)
    assert "".join(python) == written
