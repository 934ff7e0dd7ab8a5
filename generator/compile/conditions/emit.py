"""A checked condition AST → a Python expression over `tx` and `Decimal`.

The contract is in docs/ARCHITECTURE.md ("Compiled conditions"). User text
reaches the source only through `repr` of a `str`, `int` or canonical decimal
string, never by formatting user text into code, and every compound
sub-expression is parenthesised so that precedence never depends on Python's.
A string compared with a party id (`initiator.id = "Alice"`) is written in the
party-id normal form the runtime compares ids in (`'alice'`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import assert_never

from mu.generator.compile.runtime.values import party_id

from . import ast
from .env import TypeEnv
from .typecheck import check_condition, field_type

_PY_OPS: dict[ast.CompareOp, str] = {
    "=": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}


def emit_condition(expr: ast.Expr, env: TypeEnv) -> str:
    """The Python expression source that evaluates `expr`.

    Type-checks first (raising `ConditionProblem`), because how a bare name
    and a comparison are emitted depends on the types. The source reads only
    `tx[path]`, `tx.rank(code)` and `Decimal(text)`; equal inputs give
    identical source.
    """
    check_condition(expr, env)
    return _emit(expr, env)


def fields_read(expr: ast.Expr, env: TypeEnv) -> tuple[str, ...]:
    """The field paths `expr` reads, sorted and deduplicated."""
    paths: set[str] = set()
    stack: list[ast.Expr] = [expr]
    while stack:
        node = stack.pop()
        match node:
            case ast.Or(operands) | ast.And(operands):
                stack.extend(operands)
            case ast.Not(operand):
                stack.append(operand)
            case ast.Compare(_, left, right):
                stack.extend((left, right))
            case ast.In(_, left):
                stack.append(left)
            case ast.FieldRef(path):
                paths.add(path)
            case ast.Name(name) if field_type(node, env) is not None:
                paths.add(name)
            case _:
                pass
    return tuple(sorted(paths))


def _emit(expr: ast.Expr, env: TypeEnv) -> str:
    match expr:
        case ast.Or(operands):
            return "(" + " or ".join(_emit(o, env) for o in operands) + ")"
        case ast.And(operands):
            return "(" + " and ".join(_emit(o, env) for o in operands) + ")"
        case ast.Not(operand):
            return f"(not {_emit(operand, env)})"
        case ast.Compare(op, left, right):
            lhs, rhs = (
                _operand(left, env, _reads_party_id(right, env)),
                _operand(right, env, _reads_party_id(left, env)),
            )
            if "authority" in (field_type(left, env), field_type(right, env)):
                # Authority levels order by rank; the other side is a field or
                # a code, both of which `tx.rank` accepts.
                lhs, rhs = f"tx.rank({lhs})", f"tx.rank({rhs})"
            return f"({lhs} {_PY_OPS[op]} {rhs})"
        case ast.In(negated, left, values):
            # Membership compares codes as strings: no ranks needed.
            party = _reads_party_id(left, env)
            items = tuple(dict.fromkeys(_operand(item, env, party) for item in values.items))
            tuple_source = "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            keyword = "not in" if negated else "in"
            return f"({_operand(left, env)} {keyword} {tuple_source})"
        case ast.FieldRef() | ast.Name():
            # A bare boolean field means `= true` (the checker allows no other).
            return f"({_operand(expr, env)} == True)"
        case ast.BoolLit(value):
            return f"({value!r})"
        case ast.DecimalLit() | ast.IntLit() | ast.StrLit():
            raise RuntimeError("emit_condition reached a literal used as a condition")
        case _:
            assert_never(expr)


def _reads_party_id(node: ast.Operand | ast.SetItem, env: TypeEnv) -> bool:
    """Whether `node` reads a party id: a field whose dotted path ends in `.id`.

    The runtime holds party ids in their normal form (SPEC §3), so a string
    compared with one must be written in that form too: `initiator.id =
    "Alice"` then matches the id `alice`, as the sender meant. The top-level
    `id` (the transaction's own id) is not a party id.
    """
    if field_type(node, env) != "string":
        return False
    path = node.path if isinstance(node, ast.FieldRef) else getattr(node, "name", "")
    return path.endswith(".id")


def _operand(node: ast.Operand | ast.SetItem, env: TypeEnv, party_id_side: bool = False) -> str:
    """The source of one operand; `party_id_side` says the other side reads a party id."""
    match node:
        case ast.FieldRef(path):
            return f"tx[{path!r}]"
        case ast.Name(name):
            if field_type(node, env) is not None:
                return f"tx[{name!r}]"
            return repr(name)  # an authority code, as the checker established
        case ast.DecimalLit(value):
            return f"Decimal({_decimal_text(value)!r})"
        case ast.IntLit(value):
            return repr(value)
        case ast.StrLit(value):
            return repr(party_id(value) if party_id_side else value)
        case ast.BoolLit(value):
            return repr(value)
        case _:
            assert_never(node)


def _decimal_text(value: Decimal) -> str:
    # str() of a Decimal is exact and canonical (`007.50` → `7.50`), and only
    # ever holds digits, a sign, a point or an exponent.
    text = str(value)
    if not value.is_finite():
        raise RuntimeError(f"non-finite decimal {text!r} in a condition")
    return text
