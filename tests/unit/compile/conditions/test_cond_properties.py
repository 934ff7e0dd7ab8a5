"""Properties over generated input: safety for any text, meaning for valid conditions."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.compile.conditions import ConditionProblem, TypeEnv, compile_condition
from mu.generator.compile.conditions.safety import verify_source

Run = Callable[[str, Mapping[str, Any]], Any]

TOKENS = [
    "amount", "currency", "approver.authority", "counterparty.is_new", "counterparty.country",
    "counterparty.risk_score", "L1", "L4", "CFO", "x", "a.b", "and", "or", "not", "in",
    "true", "false", "=", "!=", "<", "<=", ">", ">=", "(", ")", "{", "}", ",",
    "5", "-5", "1.50", "100000.00", '"IR"', '"a\\"b"', '"\\n"', "'", '"', "\\", "__import__",
    "tx", "Decimal", ".", "==", "\n",
]  # fmt: skip


def assert_safe(source: str) -> None:
    """The whitelist holds and no name but `tx` and `Decimal` appears."""
    verify_source(source)
    names = {n.id for n in ast.walk(ast.parse(source, mode="eval")) if isinstance(n, ast.Name)}
    assert names <= {"tx", "Decimal"}


def compile_or_problem(text: str, env: TypeEnv) -> str | None:
    try:
        return compile_condition(text, env).source
    except ConditionProblem as problem:
        assert problem.kind in ("syntax", "type")
        assert problem.column >= 1
        assert problem.message and problem.hint
        return None


@given(st.text(max_size=200))
@settings(max_examples=400)
def test_any_text_is_a_problem_or_safe_source(env: TypeEnv, text: str) -> None:
    source = compile_or_problem(text, env)
    if source is not None:
        assert_safe(source)


@given(st.lists(st.sampled_from(TOKENS), max_size=25))
@settings(max_examples=600)
def test_token_soup_is_a_problem_or_safe_source(env: TypeEnv, tokens: list[str]) -> None:
    text = " ".join(tokens)
    source = compile_or_problem(text, env)
    if source is not None:
        assert_safe(source)
        assert compile_condition(text, env).source == source  # deterministic


# --- valid conditions keep their meaning ------------------------------------

RANK = {"L1": 1, "L2": 2, "L3": 3, "L4": 4, "L5": 5, "CFO": 9}
PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass(frozen=True)
class Case:
    """A condition's text with a reference meaning over plain values."""

    text: str
    holds: Callable[[Mapping[str, Any]], bool]


def _string_literal(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'


ops = st.sampled_from(sorted(PY_OPS))
decimals = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)
strings = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"))


@st.composite
def amount_cases(draw: st.DrawFn) -> Case:
    op, value = draw(ops), draw(decimals)
    literal = str(value) if "." in str(value) else f"{value}.00"
    return Case(f"amount {op} {literal}", lambda v: PY_OPS[op](v["amount"], value))


@st.composite
def authority_cases(draw: st.DrawFn) -> Case:
    op, code = draw(ops), draw(st.sampled_from(sorted(RANK)))
    return Case(
        f"approver.authority {op} {code}",
        lambda v: PY_OPS[op](RANK[v["approver.authority"]], RANK[code]),
    )


@st.composite
def country_cases(draw: st.DrawFn) -> Case:
    options = draw(st.lists(st.sampled_from(["IR", "KP", "DE", 'a"b', "\n"]), min_size=1))
    negated = draw(st.booleans())
    items = ", ".join(_string_literal(o) for o in options)
    keyword = "not in" if negated else "in"
    return Case(
        f"counterparty.country {keyword} {{{items}}}",
        lambda v: (v["counterparty.country"] in options) != negated,
    )


atoms = st.one_of(
    amount_cases(),
    authority_cases(),
    country_cases(),
    st.just(Case("counterparty.is_new", lambda v: v["counterparty.is_new"])),
    st.booleans().map(lambda b: Case(str(b).lower(), lambda v: b)),
)


def _combine(children: st.SearchStrategy[Case]) -> st.SearchStrategy[Case]:
    def both(word: str, pair: tuple[Case, Case]) -> Case:
        a, b = pair
        if word == "and":
            return Case(f"({a.text}) and ({b.text})", lambda v: a.holds(v) and b.holds(v))
        return Case(f"({a.text}) or ({b.text})", lambda v: a.holds(v) or b.holds(v))

    return st.one_of(
        children.map(lambda c: Case(f"not ({c.text})", lambda v: not c.holds(v))),
        st.tuples(children, children).map(lambda p: both("and", p)),
        st.tuples(children, children).map(lambda p: both("or", p)),
    )


conditions = st.recursive(atoms, _combine, max_leaves=8)

transactions = st.fixed_dictionaries(
    {
        "amount": decimals,
        "approver.authority": st.sampled_from(sorted(RANK)),
        "counterparty.country": st.sampled_from(["IR", "KP", "DE", 'a"b', "\n", "ir"]),
        "counterparty.is_new": st.booleans(),
    }
)


@pytest.mark.slow
@given(conditions, transactions)
@settings(max_examples=300)
def test_compiled_conditions_mean_what_they_say(
    env: TypeEnv, run: Run, case: Case, values: dict[str, Any]
) -> None:
    source = compile_condition(case.text, env).source
    assert_safe(source)
    assert run(source, values) is case.holds(values)


@given(strings)
def test_any_string_literal_round_trips(env: TypeEnv, run: Run, value: str) -> None:
    text = f"counterparty.country = {_string_literal(value)}"
    source = compile_condition(text, env).source
    assert_safe(source)
    assert run(source, {"counterparty.country": value}) is True
    assert run(source, {"counterparty.country": value + "."}) is False


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4))
def test_decimal_literals_are_exact(env: TypeEnv, run: Run, value: Decimal) -> None:
    text = f"amount = {value:f}" if "." in f"{value:f}" else f"amount = {value:f}.0"
    source = compile_condition(text, env).source
    assert "Decimal(" in source
    assert run(source, {"amount": value}) is True
    with localcontext() as exact:  # the sum must not round back onto `value`
        exact.prec = 200
        above = value + Decimal("0.0001")
    assert run(source, {"amount": above}) is False
