"""`ir.ir_json`: the canonical JSON of IR values, byte for byte `hashing.canonical_json`."""

from __future__ import annotations

import dataclasses

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.compile.ir import ir_digest, ir_json, plain
from mu.generator.hashing import canonical_json, digest_json
from tests.fixtures_ir import sample_package_ir

# Every kind of text JSON escapes differently: quotes, backslashes, control
# characters, DEL, non-ASCII, astral characters (surrogate pairs in UTF-16).
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "\u2028", "😀"]),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=12,
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    TEXT,
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
)
# Keys too: non-ASCII keys, whose UTF-16 order can differ from Python's, go to rfc8785.
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(TEXT, inner, max_size=4),
    ),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_the_same_bytes_as_rfc8785(value: object) -> None:
    assert ir_json(value) == canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\ue000": 1, "😀": 2},  # UTF-16 puts the astral key first, code points do not
        {"b": 1, "a": [True, None, "x"]},
        2**53 - 1,
        -(2**53) + 1,
        "\x00\x08\x0c\x1f\x7f\u2028",
        [1.5, 1e21, 0.1, -0.0],  # floats: never in the IR, written by rfc8785 all the same
    ],
)
def test_edges_of_the_fast_path(value: object) -> None:
    assert ir_json(value) == canonical_json(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), float("nan"), "\ud800", {1: "a"}, object()])
def test_outside_the_domain_the_error_is_rfc8785s(value: object) -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json(value)
    with pytest.raises(rfc8785.CanonicalizationError):
        ir_json(value)


def test_an_ir_digests_as_asdict_and_digest_json() -> None:
    ir = sample_package_ir()
    for control in ir.controls:
        data = dataclasses.asdict(control)
        assert plain(control) == data
        assert ir_json(control) == canonical_json(data)
        data.pop("digest")
        assert ir_digest(control, omit=("digest",)) == digest_json(data)
    assert ir_json(ir) == canonical_json(dataclasses.asdict(ir))


def test_omit_leaves_out_top_level_keys_only() -> None:
    value = {"digest": "x", "inner": {"digest": "y"}}
    assert ir_json(value, omit=("digest",)) == b'{"inner":{"digest":"y"}}'
    assert ir_json(value, omit=("missing",)) == canonical_json(value)
