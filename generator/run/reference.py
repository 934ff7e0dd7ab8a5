"""The reference evaluator: SPEC §3 decision semantics read straight off `model.Ontology`.

`mu diagnose` tells a generator defect from an ontology problem by comparing a
generated enforcer package with this module. That comparison only means
something if the two share nothing that could be wrong in the same way, so this
module uses neither the runtime template nor the condition emitter nor any
generated code: it takes the condition *parser* (the AST is the meaning of the
text) and walks the tree itself. It is meant to be slow, small and obviously
right, never to be deployed.

    decision = reference_decide(ontology, transaction)
    observed = summarize_enforcer_decision(load_enforcers(path), transaction)
    assert decision == observed

For the same reason it writes its own party-id normal form (SPEC §3) from the
definition, deriving the default-ignorable code points from `unicodedata`
rather than reading the runtime's table; a test holds the two to agree on every
code point.
"""

from __future__ import annotations

import functools
import heapq
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import ModuleType
from typing import Any

from mu.generator.compile.conditions import ast as cond
from mu.generator.compile.conditions.parser import parse_condition
from mu.generator.compile.model import (
    CORE_FIELDS,
    DECISION_KINDS,
    Control,
    FieldDef,
    Ontology,
    TransactionType,
)

# SPEC: money travels as a string in plain decimal notation; `[0-9]` with
# re.ASCII keeps out other digit scripts that Decimal() would happily accept.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
_NUMBERS = frozenset({"decimal", "integer"})
_LITERAL_KINDS: dict[type, str] = {
    cond.StrLit: "string",
    cond.BoolLit: "boolean",
    cond.IntLit: "integer",
    cond.DecimalLit: "decimal",
}
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class ReferenceDecision:
    """A decision reduced to what both evaluators must agree on.

    `reasons` are (control id, effect) sorted by control id; `actions` are
    (kind, control id) with kind `notify` or `ledger`, in action order;
    `invalid_fields` are the sorted field paths named when `outcome` is
    `INVALID` ("" stands for the transaction as a whole). `trace` holds, for
    every control that applies to the type, by control id, `(control id,
    status)`: "skipped" (its condition was false), "fired" (it gave a reason
    or an action) or "passed"; it is empty when there is no decision.
    """

    outcome: str
    reasons: tuple[tuple[str, str], ...] = ()
    actions: tuple[tuple[str, str], ...] = ()
    invalid_fields: tuple[str, ...] = ()
    # Set only for a generated package that could not decide (outcome `ERROR`).
    error: str = ""
    trace: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data."""
        return {
            "outcome": self.outcome,
            "reasons": [list(r) for r in self.reasons],
            "actions": [list(a) for a in self.actions],
            "invalid_fields": list(self.invalid_fields),
            "error": self.error,
            "trace": [list(t) for t in self.trace],
        }


def _invalid(fields: Iterable[str]) -> ReferenceDecision:
    return ReferenceDecision("INVALID", invalid_fields=tuple(sorted(set(fields))))


# The value of a field the transaction does not carry (missing key or JSON null).
_ABSENT = object()

# Default_Ignorable_Code_Point as DerivedCoreProperties.txt defines it:
# Other_Default_Ignorable_Code_Point + Cf + Variation_Selector - White_Space
# - FFF9..FFFB - 13430..1343F - Prepended_Concatenation_Mark. The first, the
# variation selectors and the exceptions are fixed lists (PropList.txt; the
# first is stable by Unicode policy); Cf comes from `unicodedata`.
_OTHER_DEFAULT_IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0000),
    (0xE0002, 0xE001F),
    (0xE0080, 0xE00FF),
    (0xE01F0, 0xE0FFF),
)
_VARIATION_SELECTORS = ((0x180B, 0x180D), (0x180F, 0x180F), (0xFE00, 0xFE0F), (0xE0100, 0xE01EF))
_NOT_IGNORABLE = (
    (0xFFF9, 0xFFFB),
    (0x13430, 0x1343F),
    (0x0600, 0x0605),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
)


def _within(code: int, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(first <= code <= last for first, last in ranges)


def default_ignorable(char: str) -> bool:
    """Whether `char` is a Default_Ignorable_Code_Point, derived from its definition."""
    code = ord(char)
    if char.isspace() or _within(code, _NOT_IGNORABLE):
        return False
    return (
        unicodedata.category(char) == "Cf"
        or _within(code, _OTHER_DEFAULT_IGNORABLE)
        or _within(code, _VARIATION_SELECTORS)
    )


def normal_party_id(value: str) -> str:
    """A party id in SPEC §3's normal form, step by step as the contract says:
    NFKC, case-folded, NFKC, default-ignorable code points removed, NFKC,
    surrounding white space trimmed."""
    text = unicodedata.normalize("NFKC", value)
    text = unicodedata.normalize("NFKC", text.casefold())
    text = "".join(char for char in text if not default_ignorable(char))
    return unicodedata.normalize("NFKC", text).strip()


def _is_party_id(f: FieldDef) -> bool:
    # `id` alone is the transaction's own id; `initiator.id` or `employee.id` is a party's.
    return f.datatype == "string" and "." in f.path and f.path.rsplit(".", 1)[1] == "id"


def _allowed(f: FieldDef, value: object) -> bool:
    """Whether a typed value is one of the field's `mu:allowedValue`s, compared as values."""
    for text in f.allowed_values:
        if f.datatype == "decimal":
            try:
                if value == Decimal(text):
                    return True
            except InvalidOperation:
                continue
        elif f.datatype == "integer":
            if text.lstrip("-").isdigit() and value == int(text):
                return True
        elif f.datatype == "boolean":
            if isinstance(value, bool) and text == ("true" if value else "false"):
                return True
        elif f.datatype == "string" and _is_party_id(f):
            if value == normal_party_id(text):
                return True
        elif value == text:
            return True
    return False


def _restricted(f: FieldDef, value: object) -> object:
    """The value after SPEC §3's rules on look-alikes; `_BadField` if they refuse it."""
    if _is_party_id(f):
        assert isinstance(value, str)
        value = normal_party_id(value)
        if value == "":
            raise _BadField(f.path)
    if f.pattern is not None:
        text = str(value)
        if text.endswith("\n") or re.fullmatch(f.pattern, text) is None:
            raise _BadField(f.path)
    if f.allowed_values and not _allowed(f, value):
        raise _BadField(f.path)
    return value


@functools.lru_cache(maxsize=65536)
def _parsed(text: str) -> cond.Expr:
    """A condition's AST, parsed once per text: property tests decide tens of
    thousands of transactions against ontologies of thousands of controls."""
    return parse_condition(text)


class _BadField(Exception):
    """A present field whose value does not fit its declaration."""


class _Missing(Exception):
    """A condition read an optional field the transaction does not carry."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _lookup(transaction: Mapping[str, object], path: str) -> object:
    """The raw value at a dotted path, `_ABSENT`, or `_BadField` if a parent is no object."""
    current: object = transaction
    for part in path.split("."):
        if current is None:  # a null parent carries no children
            return _ABSENT
        if not isinstance(current, Mapping):
            raise _BadField(path)
        if part not in current:
            return _ABSENT
        current = current[part]
    return _ABSENT if current is None else current


def _typed(f: FieldDef, raw: object, ranks: Mapping[str, int]) -> object:
    """The typed value of a present field; `_BadField` if it does not fit its datatype."""
    # bool is an int subclass in Python, but never a number in JSON.
    if f.datatype == "decimal":
        # Floats are refused because they have already lost exactness; a
        # Decimal from a Python caller is exact, so it is taken as it is.
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            raise _BadField(f.path)
        if isinstance(raw, str) and not _PLAIN_DECIMAL.fullmatch(raw):
            raise _BadField(f.path)
        if isinstance(raw, Decimal) and not raw.is_finite():
            raise _BadField(f.path)
        value = Decimal(raw)
        if f.path == "amount" and value < 0:
            raise _BadField(f.path)
        return value
    ok = {
        "integer": isinstance(raw, int) and not isinstance(raw, bool),
        "string": isinstance(raw, str),
        "boolean": isinstance(raw, bool),
        "authority": isinstance(raw, str) and raw in ranks,
    }[f.datatype]
    if not ok:
        raise _BadField(f.path)
    return raw


def _schema(ontology: Ontology, ttype: TransactionType | None) -> tuple[FieldDef, ...]:
    """The fields to check: the type's core + declared ones, or, when the type is
    unknown, those every type has alike (so the sender learns all problems at once)."""
    if ttype is not None:
        return CORE_FIELDS + ttype.fields
    if not ontology.transaction_types:
        return ()
    first, *rest = (CORE_FIELDS + t.fields for t in ontology.transaction_types)
    # A restriction belongs to a type's declaration: without a known type
    # there is none to apply, so restricted fields are left to that type.
    return tuple(
        f
        for f in first
        if f.pattern is None and not f.allowed_values and all(f in other for other in rest)
    )


def _validate(
    ontology: Ontology,
    transaction: Mapping[str, object],
    ranks: Mapping[str, int],
    currencies: Mapping[str, frozenset[str | None]],
) -> tuple[dict[str, object], set[str]]:
    """Typed values of the present fields, and the paths of every field that is wrong."""
    bad: set[str] = set()
    type_id = transaction.get("type")
    ttype = ontology.type_by_id(type_id) if isinstance(type_id, str) else None
    if ttype is None:
        bad.add("type")
    values: dict[str, object] = {"type": type_id}
    for f in _schema(ontology, ttype):
        if f.path == "type":
            continue
        try:
            raw = _lookup(transaction, f.path)
            if raw is _ABSENT:
                if f.required:
                    bad.add(f.path)
                continue
            values[f.path] = _restricted(f, _typed(f, raw, ranks))
        except _BadField:
            bad.add(f.path)
    if ttype is not None and "currency" in values:
        # Approval rules exist for the type but none in this currency: every
        # rule would pass it untouched, so the gap must fail closed.
        covered = currencies[ttype.type_id]
        if covered and values["currency"] not in covered:
            bad.add("currency")
    return values, bad


@dataclass(frozen=True)
class _Scope:
    """What a condition sees: typed values, the type's datatypes, authority ranks."""

    values: Mapping[str, object]
    datatypes: Mapping[str, str]
    ranks: Mapping[str, int]
    party_ids: frozenset[str] = frozenset()

    def read(self, path: str) -> object:
        if path not in self.values:
            raise _Missing(path)  # validated, so only an absent optional field gets here
        return self.values[path]

    def rank(self, code: object) -> int:
        if not isinstance(code, str) or code not in self.ranks:
            raise ValueError(f"`{code}` is not an authority code")
        return self.ranks[code]


def _operand(node: cond.Operand | cond.SetItem, scope: _Scope) -> tuple[object, str]:
    """An operand's value and kind: a datatype, `party` for a party id (a string
    held in its normal form), `code` for a bare authority code, or the literal's type."""
    if isinstance(node, cond.FieldRef | cond.Name):
        path = node.path if isinstance(node, cond.FieldRef) else node.name
        datatype = scope.datatypes.get(path)
        if datatype is not None:  # a bare name is a field first, as the checker reads it
            if path in scope.party_ids:
                return scope.read(path), "party"
            return scope.read(path), datatype
        if isinstance(node, cond.Name):
            return node.name, "code"
        raise ValueError(f"unknown field `{path}`")
    return node.value, _LITERAL_KINDS[type(node)]


def _as_party(value: object, kind: str, other_kind: str) -> tuple[object, str]:
    """A string compared with a party id means the person: compare normal forms."""
    if other_kind == "party" and kind == "string" and isinstance(value, str):
        return normal_party_id(value), "party"
    return value, kind


def _compare(node: cond.Compare, scope: _Scope) -> bool:
    """`left op right`; operands are read left to right, as a reader would."""
    left, left_kind = _operand(node.left, scope)
    right, right_kind = _operand(node.right, scope)
    left, left_kind, right, right_kind = (
        *_as_party(left, left_kind, right_kind),
        *_as_party(right, right_kind, left_kind),
    )
    if "authority" in (left_kind, right_kind):
        # Authority levels order by rank, never by how their codes are spelled.
        left, right = scope.rank(left), scope.rank(right)
    elif not (left_kind in _NUMBERS and right_kind in _NUMBERS) and (
        left_kind != right_kind or node.op not in ("=", "!=")
    ):
        # The type checker never lets these through; refuse rather than guess.
        raise ValueError(f"cannot apply `{node.op}` to a {left_kind} and a {right_kind}")
    return bool(_OPERATORS[node.op](left, right))


def _holds(expr: cond.Expr, scope: _Scope) -> bool:
    """Whether a condition holds. `and`/`or` stop at the first operand that
    settles them, so an optional field is only needed where it is read."""
    match expr:
        case cond.Or(operands):
            return any(_holds(o, scope) for o in operands)
        case cond.And(operands):
            return all(_holds(o, scope) for o in operands)
        case cond.Not(operand):
            return not _holds(operand, scope)
        case cond.Compare():
            return _compare(expr, scope)
        case cond.In(negated, left, values):
            # Set items are literals or authority codes; codes are compared as
            # strings, which is rank equality because ranks are unique.
            value, kind = _operand(left, scope)
            items = [
                item.name if isinstance(item, cond.Name) else item.value for item in values.items
            ]
            if kind == "party":
                items = [normal_party_id(i) if isinstance(i, str) else i for i in items]
            return (value in items) != negated
        case cond.BoolLit(value):
            return value
        case cond.FieldRef() | cond.Name():
            value, kind = _operand(expr, scope)
            if kind != "boolean" or not isinstance(value, bool):
                raise ValueError("only a boolean field stands alone as a condition")
            return value
        case _:
            raise ValueError("a literal is not a condition")


def _applicable(ontology: Ontology, type_id: str) -> list[Control]:
    """The controls that apply to a type, by control id."""
    return sorted(
        (c for c in ontology.controls if type_id in c.applies_to), key=lambda c: c.control_id
    )


def action_order(controls: Iterable[Control]) -> tuple[str, ...]:
    """Every control id after the controls it depends on; of those ready, the smallest id.

    Raises `ValueError` on a cycle or a dependency on an unknown control.
    """
    waiting = {c.control_id: set(c.depends_on) for c in controls}
    # Kahn's algorithm: a control is ready once its last dependency is placed, and the
    # heap hands out the smallest ready id: the same order as rescanning every waiting
    # control after each step, in O(n log n) rather than cubic time at 10,000 controls.
    dependants: dict[str, list[str]] = {}
    for cid, deps in waiting.items():
        for dep in deps:
            dependants.setdefault(dep, []).append(cid)
    unplaced = {cid: len(deps) for cid, deps in waiting.items()}
    ready = [cid for cid, count in unplaced.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        order.append(heapq.heappop(ready))
        for cid in dependants.get(order[-1], ()):
            unplaced[cid] -= 1
            if unplaced[cid] == 0:
                heapq.heappush(ready, cid)
    if len(order) < len(waiting):
        stuck = sorted(set(waiting) - set(order))
        raise ValueError("dependsOn has a cycle or names an unknown control: " + ", ".join(stuck))
    return tuple(order)


def _effect(c: Control, values: Mapping[str, object], scope: _Scope) -> str | None:
    """What a decision control whose condition holds says: REJECT, REVIEW or nothing."""
    if c.kind == "approval":
        amount = values["amount"]
        assert isinstance(amount, Decimal) and c.amount_threshold is not None
        # The rule applies strictly above the threshold, and only in its own currency.
        if values["currency"] != c.currency or amount <= c.amount_threshold:
            return None
        senior_enough = scope.rank(values["approver.authority"]) >= scope.rank(c.required_authority)
        return None if senior_enough else "REJECT"
    if c.kind == "segregation":
        ids = [values[f"{party}.id"] for party in c.separates]
        return None if len(set(ids)) == len(ids) else "REJECT"
    if c.kind == "condition":
        return c.effect
    raise ValueError(f"control `{c.control_id}` has kind `{c.kind}`, not a decision kind")


@dataclass(frozen=True)
class Reference:
    """The reference evaluator for one ontology, with what every decision reads of the
    ontology alone worked out once: authority ranks, each type's controls (by control
    id), and the action order over all controls.

    `reference_decide(ontology, tx)` is `Reference.of(ontology).decide(tx)`. A caller
    deciding many transactions against one ontology (the reference gate of `mu build`)
    keeps one `Reference`: at 10,000 controls, recomputing these lookups per decision
    costs more than the decision. They are lookups only; `decide` is SPEC §3 as written.
    """

    ontology: Ontology
    ranks: Mapping[str, int]
    applicable: Mapping[str, tuple[Control, ...]]  # type id → its controls, by control id
    currencies: Mapping[str, frozenset[str | None]]  # type id → its approval rules' currencies

    @classmethod
    def of(cls, ontology: Ontology) -> Reference:
        """The evaluator of `ontology`."""
        applicable = {
            t.type_id: tuple(_applicable(ontology, t.type_id)) for t in ontology.transaction_types
        }
        currencies = {
            type_id: frozenset(c.currency for c in controls if c.kind == "approval")
            for type_id, controls in applicable.items()
        }
        ranks = {a.code: a.rank for a in ontology.authority_levels}
        return cls(ontology, ranks, applicable, currencies)

    @functools.cached_property
    def actions(self) -> Mapping[str, tuple[Control, ...]]:
        """Type id → its notification and audit-log controls in `action_order` over every
        control. Worked out on the first decision that needs it, so that an invalid
        transaction is still INVALID under an ontology with a dependency cycle."""
        by_type: dict[str, list[Control]] = {type_id: [] for type_id in self.applicable}
        by_id = {c.control_id: c for c in self.ontology.controls}
        for cid in action_order(self.ontology.controls):
            control = by_id[cid]
            if control.kind in ("notification", "audit_log"):
                for type_id in control.applies_to:
                    by_type.setdefault(type_id, []).append(control)
        return {type_id: tuple(controls) for type_id, controls in by_type.items()}

    def decide(self, transaction: Mapping[str, object]) -> ReferenceDecision:
        """Decide `transaction` by SPEC §3 over the model alone (`reference_decide`)."""
        ontology, ranks = self.ontology, self.ranks
        if not isinstance(transaction, Mapping):
            return _invalid([""])
        values, bad = _validate(ontology, transaction, ranks, self.currencies)
        if bad:
            return _invalid(bad)
        ttype = ontology.type_by_id(str(values["type"]))
        assert ttype is not None  # validation named `type` otherwise
        fields = CORE_FIELDS + ttype.fields
        scope = _Scope(
            values,
            {f.path: f.datatype for f in fields},
            ranks,
            frozenset(f.path for f in fields if _is_party_id(f)),
        )
        applicable = self.applicable[ttype.type_id]

        # Every applicable control's condition first: an absent optional field that
        # any of them needs makes the whole transaction undecidable.
        holds: dict[str, bool] = {}
        missing: set[str] = set()
        for c in applicable:
            try:
                holds[c.control_id] = c.when is None or _holds(_parsed(c.when), scope)
            except _Missing as exc:
                missing.add(exc.path)
        if missing:
            return _invalid(missing)

        reasons: list[tuple[str, str]] = []
        fired: set[str] = set()
        for c in applicable:
            if c.kind in DECISION_KINDS and holds[c.control_id]:
                effect = _effect(c, values, scope)
                if effect is not None:
                    reasons.append((c.control_id, effect))
                    fired.add(c.control_id)
        effects = {effect for _, effect in reasons}
        outcome = (
            "REJECT" if "REJECT" in effects else "REVIEW" if "REVIEW" in effects else "APPROVE"
        )

        actions: list[tuple[str, str]] = []
        for control in self.actions[ttype.type_id]:
            cid = control.control_id
            if holds[cid] and (not control.on_outcome or outcome in control.on_outcome):
                actions.append(("notify" if control.kind == "notification" else "ledger", cid))
                fired.add(cid)
        trace = tuple(
            (
                c.control_id,
                "skipped"
                if not holds[c.control_id]
                else "fired"
                if c.control_id in fired
                else "passed",
            )
            for c in applicable
        )
        return ReferenceDecision(outcome, tuple(reasons), tuple(actions), trace=trace)


def reference_decide(ontology: Ontology, transaction: Mapping[str, object]) -> ReferenceDecision:
    """Decide `transaction` by SPEC §3 over the model alone.

    Raises `ValueError` when the *ontology* cannot be interpreted (an ill-typed
    condition, a dependency cycle, an unknown authority code in a control) and
    `ConditionProblem` for a condition that does not parse: those are ontology
    problems, never the sender's, so they are not INVALID decisions.
    """
    return Reference.of(ontology).decide(transaction)


def summarize_enforcer_decision(
    module: ModuleType, transaction: Mapping[str, object]
) -> ReferenceDecision:
    """Run a generated package's `evaluate` and reduce its answer to a `ReferenceDecision`.

    Reasons and actions keep the package's own order, so an out-of-order
    answer shows up as a difference. `InvalidTransaction` becomes `INVALID`
    naming every field of its problems. A package that cannot decide
    (`EnforcementError`, or any exception from hand-edited code) gives outcome
    `ERROR` with the message: to a diagnosis that is evidence, not a crash.
    """
    try:
        decision = module.evaluate(transaction)
    except module.InvalidTransaction as exc:
        return _invalid(str(p.field) for p in exc.problems)
    except Exception as exc:  # broken deployed code must be reported, never crash mu
        return ReferenceDecision("ERROR", error=f"{type(exc).__name__}: {exc}")
    return ReferenceDecision(
        outcome=str(decision.outcome),
        reasons=tuple((str(r.control_id), str(r.effect)) for r in decision.reasons),
        actions=tuple((str(a.kind), str(a.control_id)) for a in decision.actions),
        # A package generated before decisions carried a trace has none to compare.
        trace=tuple((str(t.control_id), str(t.status)) for t in getattr(decision, "trace", ())),
    )
