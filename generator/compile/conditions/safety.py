"""Defence in depth: prove emitted source is built only from the allowed shapes.

The emitter already escapes everything; this re-parses its output and walks
the Python AST against a whitelist, so that an emitter bug can never turn into
code execution in a generated enforcer. A failure here is a bug in mu, not in
the user's condition, hence `RuntimeError` rather than `ConditionProblem`.
"""

from __future__ import annotations

import ast

_NAMES = frozenset({"tx", "Decimal"})
_TX_METHODS = frozenset({"rank"})
_COMPARE_OPS = (
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
)


def verify_source(source: str, *, constants: frozenset[str] = frozenset()) -> None:
    """Raise `RuntimeError` unless `source` is an expression of the allowed shapes.

    `constants` are further names it may read: the hoisted decimal literals
    (`_D0`, ...) of a control module, each a `Decimal` the renderer wrote.
    """
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise RuntimeError(f"emitted condition is not valid Python: {source!r}") from exc
    _check(tree, source, _NAMES | constants)


def _reject(node: ast.AST, source: str) -> RuntimeError:
    return RuntimeError(
        f"emitted condition contains a disallowed {type(node).__name__}: {source!r}"
    )


def _check(node: ast.AST, source: str, names: frozenset[str]) -> None:
    match node:
        case ast.Expression(body=body):
            _check(body, source, names)
        case ast.BoolOp(op=ast.And() | ast.Or(), values=values):
            for value in values:
                _check(value, source, names)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            _check(operand, source, names)
        case ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=value)) if type(value) is int:
            pass  # a negative integer literal
        case ast.Compare(left=left, ops=[op], comparators=[right]) if isinstance(op, _COMPARE_OPS):
            _check(left, source, names)
            _check(right, source, names)
        case ast.Call(
            func=func, args=[ast.Constant() | ast.Call() | ast.Subscript() as arg], keywords=[]
        ):
            if not _allowed_callee(func):
                raise _reject(func, source)
            _check(arg, source, names)
        case ast.Constant(value=value) if type(value) in (str, int, bool):
            pass
        case ast.Subscript(
            value=ast.Name(id="tx", ctx=ast.Load()), slice=ast.Constant(value=str()), ctx=ast.Load()
        ):
            pass  # a field read: `tx["counterparty.country"]`
        case ast.Tuple(elts=elts, ctx=ast.Load()):
            for elt in elts:
                _check(elt, source, names)
        case ast.Name(id=name, ctx=ast.Load()) if name in names:
            pass
        case _:
            raise _reject(node, source)


def _allowed_callee(func: ast.expr) -> bool:
    match func:
        case ast.Attribute(value=ast.Name(id="tx", ctx=ast.Load()), attr=attr, ctx=ast.Load()):
            return attr in _TX_METHODS
        case ast.Name(id="Decimal", ctx=ast.Load()):
            return True
        case _:
            return False
