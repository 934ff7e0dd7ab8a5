"""Hypothesis strategies that build transactions from an ontology model.

Everything is read off the `Ontology`: its transaction types and their fields,
authority codes, approval thresholds and currencies, and the literals of every
`mu:when` condition (through the condition parser, so `amount > 2100` yields
2100 and 2099.99 and 2100.01). A draw is a valid transaction most of the time,
so that every control gets to fire, and wrong in one or a few places otherwise:
missing fields, wrong types, floats for money, unknown types and codes, party
ids that collide outright or only after normalisation ("alice" and its fullwidth twin).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from mu.generator.compile.conditions import ast as cond
from mu.generator.compile.conditions.parser import parse_condition
from mu.generator.compile.model import CORE_FIELDS, FieldDef, Ontology

MISSING = object()  # a key left out of the transaction
PARTIES = ("initiator", "approver", "executor")
CENT = Decimal("0.01")

# Party ids: distinct people, and spellings of one person that a party-id
# normal form (NFKC, case folding, ignorables removed, trimmed) makes equal.
PEOPLE = ("alice", "bob", "carol", "dave")


def fullwidth(text: str) -> str:
    """The fullwidth forms of ASCII letters ("alice" -> U+FF41 ...), NFKC-equal to them."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


LOOK_ALIKES = {
    "alice": (
        "alice",
        "Alice",
        "alice ",
        " ALICE",
        "al\u200bice",
        fullwidth("alice"),
        "alice\u00ad",
    ),
    "bob": ("bob", "BOB", "\tbob", "b\u2060ob", fullwidth("bob")),
    "carol": ("carol", "Carol", "carol\u200d", fullwidth("carol")),
    "dave": ("dave", "DAVE", "dave\u00a0", fullwidth("dave")),
    "strasse": ("strasse", "straße", "STRASSE", "Straße"),  # case folding, not lowering
    "fin": ("fin", "\ufb01n", "FIN"),  # the U+FB01 ligature is "fi" in NFKC
}
# Ids that are empty once normalised (invalid), and non-string junk.
EMPTY_IDS = ("", " ", "\u200b", "\u00ad\u200d", "\t \n")
JUNK = (MISSING, None, 5, 1.5, True, [], {}, "x")


@dataclass(frozen=True)
class Vocabulary:
    """What a model gives the strategies to draw from."""

    types: tuple[str, ...]
    codes: tuple[str, ...]
    currencies: tuple[str, ...]
    amounts: tuple[str, ...]  # every threshold and literal, and ± one cent
    integers: tuple[int, ...]
    strings: tuple[str, ...]


def _literals(ontology: Ontology) -> tuple[set[Decimal], set[int], set[str]]:
    """Decimal, integer and string literals of every condition."""
    decimals: set[Decimal] = set()
    integers: set[int] = set()
    strings: set[str] = set()

    def walk(node: object) -> None:
        match node:
            case cond.DecimalLit(value):
                decimals.add(value)
            case cond.IntLit(value):
                integers.add(value)
                decimals.add(Decimal(value))
            case cond.StrLit(value):
                strings.add(value)
            case cond.Or(items) | cond.And(items):
                for item in items:
                    walk(item)
            case cond.Not(operand):
                walk(operand)
            case cond.Compare(_, left, right):
                walk(left)
                walk(right)
            case cond.In(_, left, values):
                walk(left)
                for item in values.items:
                    walk(item)

    for text in {c.when for c in ontology.controls if c.when}:
        walk(parse_condition(text))
    return decimals, integers, strings


def vocabulary(ontology: Ontology) -> Vocabulary:
    """Read the values worth drawing from the model."""
    decimals, integers, strings = _literals(ontology)
    thresholds = {c.amount_threshold for c in ontology.controls if c.amount_threshold is not None}
    near = {
        format(t + delta, "f")
        for t in thresholds | decimals | {Decimal(0)}
        for delta in (-CENT, Decimal(0), CENT)
        if t + delta >= 0
    }
    currencies = {c.currency for c in ontology.controls if c.currency} | {"USD", "EUR"}
    return Vocabulary(
        types=tuple(t.type_id for t in ontology.transaction_types),
        codes=tuple(a.code for a in ontology.authority_levels),
        currencies=tuple(sorted(currencies)),
        amounts=tuple(sorted(near, key=Decimal)),
        integers=tuple(sorted({n + d for n in integers | {0} for d in (-1, 0, 1)})),
        strings=tuple(sorted(strings | {"DE", "US", "", "travel"})),
    )


def put(tx: dict[str, Any], path: str, value: object) -> None:
    """Set a dotted path in nested dicts, leaving `MISSING` out."""
    if value is MISSING:
        return
    *parents, leaf = path.split(".")
    node = tx
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return  # a parent already broken on purpose stays broken
        node = child
    node[leaf] = value


def sometimes(
    draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], odds: int
) -> Any:
    """Usually a good value; a bad one once in `odds` draws."""
    return draw(bad) if draw(st.integers(1, odds)) == 1 else draw(good)


def amounts(v: Vocabulary) -> st.SearchStrategy[object]:
    """Money on every boundary, anywhere between, and as int or Decimal (both exact)."""
    return st.one_of(
        st.sampled_from(v.amounts),
        st.sampled_from(v.amounts),  # boundaries twice as often as the rest
        st.decimals(min_value=0, max_value=2_000_000, places=2).map(lambda d: format(d, "f")),
        st.integers(0, 2_000_000),
        st.sampled_from(v.amounts).map(Decimal),
    )


def bad_amounts() -> st.SearchStrategy[object]:
    """Money that is never valid: floats, exponents, signs, spaces, other digits, junk."""
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(
            [
                "1e5",
                "abc",
                " 100",
                "1,000.00",
                "",
                "+5",
                ".5",
                "5.",
                "-5.00",
                "-0.01",
                "NaN",
                "١٢",
                "Infinity",
                None,
                True,
                False,
                [],
                MISSING,
                Decimal("NaN"),
                -1,
            ]
        ),
    )


def party_ids(draw: st.DrawFn) -> list[Any]:
    """Three party ids: distinct, colliding exactly, or colliding only when normalised."""
    mode = draw(st.integers(0, 9))
    if mode <= 4:  # distinct people
        return list(draw(st.permutations(PEOPLE))[:3])
    if mode <= 6:  # spellings of one or two people
        names = draw(st.lists(st.sampled_from(sorted(LOOK_ALIKES)), min_size=3, max_size=3))
        return [draw(st.sampled_from(LOOK_ALIKES[n])) for n in names]
    if mode == 7:  # exact duplicates
        return [draw(st.sampled_from(PEOPLE[:2])) for _ in range(3)]
    ids: list[Any] = list(draw(st.permutations(PEOPLE))[:3])
    ids[draw(st.integers(0, 2))] = draw(st.sampled_from(EMPTY_IDS + JUNK))
    return ids


# Ways to make a string look like another one: a pattern or an allowed value
# must refuse each, never let it pass as some other, harmless value.
DISGUISES = (
    str.lower,
    str.upper,
    fullwidth,
    lambda s: s[:1] + "\u200b" + s[1:],
    lambda s: s + "\n",
    lambda s: " " + s,
)


def disguised(strings: tuple[str, ...]) -> st.SearchStrategy[str]:
    """One of `strings`, disguised by one of `DISGUISES`."""
    return st.tuples(st.sampled_from(strings), st.sampled_from(DISGUISES)).map(
        lambda pair: pair[1](pair[0])
    )


def field_value(draw: st.DrawFn, f: FieldDef, v: Vocabulary) -> Any:
    """A value for a declared field: usually fitting its datatype and restrictions."""
    allowed = tuple(getattr(f, "allowed_values", ()) or ())
    if f.datatype == "string" and f.path.endswith(".id"):
        good: st.SearchStrategy[Any] = st.sampled_from(
            [s for spellings in LOOK_ALIKES.values() for s in spellings] + list(EMPTY_IDS)
        )
    elif allowed and f.datatype in ("string", "authority"):
        good = st.one_of(st.sampled_from([*allowed, *allowed, *v.strings]), disguised(allowed))
    elif f.datatype == "string":
        good = st.one_of(st.sampled_from(v.strings), disguised(v.strings))
    elif f.datatype == "boolean":
        good = st.booleans()
    elif f.datatype == "integer":
        good = st.one_of(st.sampled_from(v.integers), st.integers(-5, 200))
    elif f.datatype == "decimal":
        good = amounts(v)
    else:  # authority
        good = st.sampled_from(v.codes)
    if not f.required:
        good = st.one_of(good, good, good, st.just(MISSING))
    return sometimes(draw, good, st.sampled_from(JUNK), 25)


@st.composite
def transactions(draw: st.DrawFn, ontology: Ontology, v: Vocabulary) -> dict[str, Any]:
    """A transaction for a random type, valid most of the time and wrong in places otherwise."""
    unknown_types = st.sampled_from(["unknown", "", "VENDOR_PAYMENT", 3, None, MISSING])
    type_id = sometimes(draw, st.sampled_from(v.types), unknown_types, 20)
    tx: dict[str, Any] = {}
    put(tx, "id", sometimes(draw, st.sampled_from(["tx-1", "tx-2"]), st.sampled_from(JUNK), 40))
    put(tx, "type", type_id)
    put(tx, "amount", sometimes(draw, amounts(v), bad_amounts(), 15))
    currencies = st.sampled_from(v.currencies)
    put(tx, "currency", sometimes(draw, currencies, st.sampled_from(["GBP", "usd", *JUNK]), 20))
    for party, person in zip(PARTIES, party_ids(draw), strict=True):
        put(tx, f"{party}.id", person)
    codes = st.sampled_from(v.codes)
    bad_codes = st.sampled_from(["L9", "l1", " L1", "", "cfo", *JUNK])
    put(tx, "approver.authority", sometimes(draw, codes, bad_codes, 20))

    # Declared fields of the type (of some type, when the type is unknown).
    ttype = ontology.type_by_id(type_id) if isinstance(type_id, str) else None
    ttype = ttype or draw(st.sampled_from(ontology.transaction_types))
    core = {f.path for f in CORE_FIELDS}
    for f in ttype.fields:
        if f.path not in core:
            put(tx, f.path, field_value(draw, f, v))
    if draw(st.integers(0, 29)) == 0:  # a field nobody declared is ignored
        tx["note"] = "extra"
    if tx and draw(st.integers(0, 39)) == 0:  # a parent that is not an object
        tx[draw(st.sampled_from(sorted(tx)))] = draw(st.sampled_from(["oops", [], 7, None]))
    return tx
