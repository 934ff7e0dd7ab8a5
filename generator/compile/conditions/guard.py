"""The guard of a condition: its first test, as data the runtime can index.

A condition `a and b and ...` holds only if `a` holds, and Python's `and`
evaluates `a` first and stops there when it is false. So when `a` compares a
field with literals, the runtime can evaluate `a` for many controls at once —
one binary search over the sorted thresholds of every `amount > …` guard, one
dict lookup for every `counterparty.country in {…}` guard — and call a
control's compiled condition only when its guard holds, with exactly the
meaning of calling it always (the indexing OPA does for rule heads). A guard is
only ever a necessary condition: the compiled condition still decides,
unless the condition is that one test alone (`guard_is_condition`), when the
guard holding is the condition holding for a transaction with the field.

Guards are plain tuples of literals, written into the control module:

- `("range", path, op, value)` — `field op value` with `op` one of `<`, `<=`,
  `>`, `>=`; `value` is a canonical decimal string for decimal fields, an int
  for integer fields and an authority code for authority fields (compared by
  rank at run time);
- `("member", path, values)` — the field equals one of `values` (`=`, `in`, a
  bare boolean field as `(True,)`); strings compared with a party id are in
  the party-id normal form, decimals are canonical decimal strings; `not
  flag` is `("member", path, (False,))`.

Anything else (an `or`, `!=`, `not in`, two fields compared) has no guard.
"""

from __future__ import annotations

from decimal import Decimal

from mu.generator.compile.runtime.values import party_id

from . import ast
from .env import TypeEnv
from .typecheck import field_type

Guard = tuple[object, ...]

# `not (a op b)` is `a flipped b` for the total orders of numbers and ranks.
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
# `b op a` is `a mirrored b`.
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
_LITERALS = (ast.DecimalLit, ast.IntLit, ast.StrLit, ast.BoolLit)


def condition_guard(expr: ast.Expr, env: TypeEnv) -> Guard | None:
    """The guard of a type-checked condition, or None if its first test has none."""
    first = expr.operands[0] if isinstance(expr, ast.And) else expr
    return _atom(first, env, negated=False)


def guard_is_condition(expr: ast.Expr, env: TypeEnv) -> bool:
    """Whether the condition is its guard alone (a single test with a guard).

    Then, for a transaction that has the guarded field, the guard holding is
    the condition holding, and the runtime need not call it at all.
    """
    return not isinstance(expr, ast.And) and condition_guard(expr, env) is not None


def _atom(node: ast.Expr, env: TypeEnv, *, negated: bool) -> Guard | None:
    match node:
        case ast.Not(operand) if not negated:
            return _atom(operand, env, negated=True)
        case ast.Compare(op, left, right):
            return _compare(op, left, right, env, negated)
        case ast.In(False, left, values) if not negated:
            path = _field_path(left, env)
            if path is None:
                return None
            literals = [_literal(item, path, env) for item in values.items]
            if any(value is None for value in literals):
                return None
            return ("member", path, _sorted_values(literals))
        case ast.FieldRef() | ast.Name():
            path = _field_path(node, env)
            if path is None or env.field_type(path) != "boolean":
                return None
            return ("member", path, (not negated,))
        case _:
            return None


def _compare(
    op: str, left: ast.Operand, right: ast.Operand, env: TypeEnv, negated: bool
) -> Guard | None:
    path = _field_path(left, env)
    other: ast.Operand = right
    if path is None:
        path, other = _field_path(right, env), left
        if path is None or op not in _MIRRORED:
            return None
        op = _MIRRORED[op]
    if _field_path(other, env) is not None:
        return None  # two fields: nothing to index
    datatype = env.field_type(path)
    if op == "=" and not negated:
        value = _literal(other, path, env)
        return None if value is None else ("member", path, (value,))
    if op not in _NEGATED or datatype not in ("decimal", "integer", "authority"):
        return None
    if negated:
        op = _NEGATED[op]
    value = _literal(other, path, env)
    if value is None or isinstance(value, bool):
        return None
    return ("range", path, op, value)


def _field_path(node: ast.Operand | ast.SetItem, env: TypeEnv) -> str | None:
    if field_type(node, env) is None:
        return None
    if isinstance(node, ast.FieldRef):
        return node.path
    if isinstance(node, ast.Name):
        return node.name
    return None


def _literal(node: ast.Operand | ast.SetItem, path: str, env: TypeEnv) -> object | None:
    """The literal as the runtime compares it with the field at `path`, or None."""
    datatype = env.field_type(path)
    if isinstance(node, ast.Name) and field_type(node, env) is None:
        return node.name if datatype == "authority" else None  # an authority code
    if not isinstance(node, _LITERALS) or datatype == "authority":
        return None
    value = node.value
    if isinstance(value, Decimal):
        if datatype != "decimal" and datatype != "integer":
            return None
        return _decimal_text(value)
    if isinstance(value, str) and path.endswith(".id") and datatype == "string":
        return party_id(value)  # the form the runtime holds party ids in
    return value


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise RuntimeError(f"non-finite decimal {value} in a condition")
    return str(value)


def _sorted_values(values: list[object | None]) -> tuple[object, ...]:
    # Sorted by type name, then text, so equal sets give equal guards.
    unique = {(type(v).__name__, repr(v)): v for v in values}
    return tuple(unique[key] for key in sorted(unique))
