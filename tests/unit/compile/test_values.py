"""The runtime part `values.py`: the party-id normal form and whole-value matches (SPEC §3)."""

from __future__ import annotations

import itertools
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.compile.render import RUNTIME_PARTS, runtime_source
from mu.generator.compile.runtime import values
from mu.generator.compile.runtime.values import full_match, party_id
from mu.generator.run.reference import default_ignorable, normal_party_id

ALICE_LOOKALIKES = [
    "alice",
    "Alice",
    "ALICE",
    "alice ",
    " alice\t",
    "al\u200bice",  # zero width space
    "al\u00adice",  # soft hyphen
    "\u2060alice\ufeff",  # word joiner, byte order mark
    "al\u200dice",  # zero width joiner
    "\uff41\uff4c\uff49\uff43\uff45",  # full-width
    "\uff21\uff2c\uff29\uff23\uff25",  # full-width capitals
    "alice\u00a0",  # no-break space
    "\u3000alice",  # ideographic space
    "ali\u034fce",  # combining grapheme joiner
    "ali\U000e0063ce",  # a tag character
]


@pytest.mark.parametrize("text", ALICE_LOOKALIKES)
def test_look_alikes_of_an_id_have_one_normal_form(text: str) -> None:
    assert party_id(text) == "alice"


@pytest.mark.parametrize(
    "text", ["", " ", "  ", "\t\n", "\u200b", "\u200b \u2060", "\u3164", "\ufeff", "\u00ad"]
)
def test_an_id_of_blanks_and_invisible_characters_is_empty(text: str) -> None:
    assert party_id(text) == ""


def test_the_normal_form_composes_and_case_folds() -> None:
    assert party_id("Jos\u0065\u0301") == "jos\u00e9"  # e + combining acute -> é
    assert party_id("JOS\u00c9") == "jos\u00e9"
    assert party_id("e\u200b\u0301") == "\u00e9"  # removing the ZWSP lets them compose
    assert party_id("STRASSE") == party_id("stra\u00dfe") == "strasse"  # ß folds to ss
    assert party_id("\u2167") == "viii"  # ROMAN NUMERAL EIGHT is NFKC "VIII"
    # Different people stay different.
    assert party_id("alice") != party_id("alicia")
    assert party_id("bob-1") != party_id("bob_1")


@given(st.text())
@settings(max_examples=1000, deadline=None)
def test_the_normal_form_is_idempotent(text: str) -> None:
    once = party_id(text)
    assert party_id(once) == once


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
@settings(max_examples=1000, deadline=None)
def test_the_ascii_fast_path_equals_the_unicode_path(text: str) -> None:
    assert party_id(text) == values._party_id_unicode(text)


def test_the_ascii_fast_path_equals_the_unicode_path_for_every_ascii_character() -> None:
    for code in range(0x80):
        for text in (chr(code), f"a{chr(code)}B", f" {chr(code)} "):
            assert party_id(text) == values._party_id_unicode(text), repr(text)


@given(st.text())
@settings(max_examples=600, deadline=None)
def test_the_reference_evaluator_writes_the_same_normal_form(text: str) -> None:
    assert party_id(text) == normal_party_id(text)


@pytest.mark.slow  # every code point of Unicode, several times: seconds
def test_the_ignorable_table_is_sorted_merged_and_matches_its_definition() -> None:
    ranges = values._DEFAULT_IGNORABLE_RANGES
    assert all(first <= last for first, last in ranges)
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))
    assert tuple(first for first, _ in ranges) == values._DEFAULT_IGNORABLE_STARTS
    assert sum(last - first + 1 for first, last in ranges) == 4174  # Unicode 15.1 / 16.0
    # The embedded table and the reference evaluator's derivation from
    # `unicodedata` (Cf + other ignorables + variation selectors - exceptions)
    # agree on every code point of this Python's Unicode version.
    differ = [
        hex(code)
        for code in range(0x110000)
        if values._is_default_ignorable(chr(code)) != default_ignorable(chr(code))
    ]
    assert differ == [], f"Unicode {unicodedata.unidata_version}: {differ[:10]}"


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("[A-Z]{2}", "IR", True),
        ("[A-Z]{2}", "ir", False),
        ("[A-Z]{2}", "IRN", False),  # never a prefix
        ("[A-Z]{2}", "IR\n", False),
        ("[A-Z]{2}$", "IR\n", False),  # `$` cannot swallow a trailing newline
        ("^[A-Z]{2}$", "IR", True),
        ("[A-Z]{2}\\s*", "IR\n", False),  # a trailing newline never matches
        ("[A-Z]{2}\\s*", "IR ", True),
        ("[A-Z]{2}", "I\u200bR", False),
        ("[A-Z]{2}", "\uff29\uff32", False),  # full-width IR
        ("[A-Z]{2}", "", False),
    ],
)
def test_full_match(pattern: str, value: str, expected: bool) -> None:
    assert full_match(re.compile(pattern), value) is expected


def test_values_is_the_first_part_of_the_generated_runtime() -> None:
    assert RUNTIME_PARTS[0] == "values.py"
    assert RUNTIME_PARTS.index("parse.py") > RUNTIME_PARTS.index("decision.py")
    namespace: dict[str, object] = {}
    exec(compile(runtime_source("mu", "0.0.0"), "runtime.py", "exec"), namespace)
    generated = namespace["party_id"]
    assert callable(generated)
    assert [generated(text) for text in ALICE_LOOKALIKES] == ["alice"] * len(ALICE_LOOKALIKES)
    matches = namespace["full_match"]
    assert callable(matches)
    assert matches(re.compile("[A-Z]{2}"), "IR\n") is False
