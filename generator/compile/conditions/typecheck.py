"""Type-check a condition AST against a `TypeEnv`; raise `ConditionProblem` (kind `type`).

Types are the field datatypes plus `code`, the type of an authority code used
as a value. A bare name is a field when the environment has it; otherwise it
may only be an authority code, and only opposite an authority field, which is
why operands are resolved in pairs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import assert_never

from . import ast
from .env import TypeEnv
from .problem import ConditionProblem, type_problem

_NUMERIC = frozenset({"decimal", "integer"})
_EQUALITY_ONLY = frozenset({"=", "!="})
_COMPARISONS = {
    "decimal": "> 1000.00",
    "integer": "> 5",
    "string": '= "EUR"',
    "authority": ">= L3",
}
_EXAMPLES = {
    "decimal": "a number such as `100` or `100.00`",
    "integer": "a number such as `5`",
    "string": 'a string such as `"EUR"`',
    "boolean": "`true` or `false`",
    "authority": "an authority code such as `L3`",
}


def check_condition(expr: ast.Expr, env: TypeEnv) -> None:
    """Check that `expr` is a well-typed boolean condition over `env`.

    Raises `ConditionProblem` (kind `type`) at the column of the offending
    node: the operand for unknown names and bad set items, the operator for
    operands that cannot be compared with it.
    """
    match expr:
        case ast.Or(operands) | ast.And(operands):
            for operand in operands:
                check_condition(operand, env)
        case ast.Not(operand):
            check_condition(operand, env)
        case ast.Compare():
            _check_compare(expr, env)
        case ast.In():
            _check_in(expr, env)
        case ast.BoolLit():
            pass
        case ast.FieldRef() | ast.Name():
            datatype = _operand_type(expr, None, env)
            if datatype != "boolean":
                raise type_problem(
                    f"{show(expr)} is {_a(datatype)} {datatype} field, not a condition",
                    expr.column,
                    f"compare it with a value, e.g. `{show(expr)[1:-1]} {_COMPARISONS[datatype]}`; "
                    "only a boolean field stands alone",
                )
        case ast.DecimalLit() | ast.IntLit() | ast.StrLit():
            datatype = literal_type(expr)
            raise type_problem(
                f"{_a(datatype)} {datatype} literal is not a condition",
                expr.column,
                "compare it with a field, e.g. `amount > 1000.00`",
            )
        case _:
            assert_never(expr)


def field_type(node: ast.Operand | ast.SetItem, env: TypeEnv) -> str | None:
    """The datatype of `node` if it reads a known field, else None."""
    if isinstance(node, ast.FieldRef):
        return env.field_type(node.path)
    if isinstance(node, ast.Name):
        return env.field_type(node.name)
    return None


def literal_type(node: ast.DecimalLit | ast.IntLit | ast.StrLit | ast.BoolLit) -> str:
    """The type of a literal."""
    match node:
        case ast.DecimalLit():
            return "decimal"
        case ast.IntLit():
            return "integer"
        case ast.StrLit():
            return "string"
        case ast.BoolLit():
            return "boolean"
        case _:
            assert_never(node)


def show(node: ast.Operand | ast.SetItem) -> str:
    """An operand as the user wrote it (up to spacing), in backticks."""
    match node:
        case ast.FieldRef(path):
            text = path
        case ast.Name(name):
            text = name
        case ast.DecimalLit(value) | ast.IntLit(value):
            text = str(value)
        case ast.StrLit(value):
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            text = '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'
        case ast.BoolLit(value):
            text = "true" if value else "false"
        case _:
            assert_never(node)
    return f"`{text}`"


def _operand_type(node: ast.Operand, other: ast.Operand | None, env: TypeEnv) -> str:
    if isinstance(node, ast.FieldRef):
        datatype = env.field_type(node.path)
        if datatype is None:
            raise _unknown(node.path, node.column, env, "unknown field")
        return datatype
    if isinstance(node, ast.Name):
        datatype = env.field_type(node.name)
        if datatype is not None:
            return datatype
        if node.name in env.authority_codes:
            if other is not None and field_type(other, env) == "authority":
                return "code"
            raise type_problem(
                f"authority code {show(node)} can only be compared with an authority field",
                node.column,
                f"compare it with {_authority_fields(env)}, e.g. `approver.authority >= "
                f"{node.name}`",
            )
        codes_fit = other is not None and field_type(other, env) == "authority"
        raise _unknown(node.name, node.column, env, "unknown field or authority code", codes_fit)
    return literal_type(node)


def _check_compare(node: ast.Compare, env: TypeEnv) -> None:
    left = _operand_type(node.left, node.right, env)
    right = _operand_type(node.right, node.left, env)
    if "authority" in (left, right):
        # The other side is a field, a bare code, or a string naming a code.
        for side, datatype in ((node.left, left), (node.right, right)):
            if isinstance(side, ast.StrLit):
                _require_code(side.value, side.column, env)
            elif datatype not in ("authority", "code"):
                raise _incompatible(node, left, right)
        return  # all six operators compare ranks
    if left in _NUMERIC and right in _NUMERIC:
        return
    if left != right:
        raise _incompatible(node, left, right)
    if node.op not in _EQUALITY_ONLY:
        raise type_problem(
            f"`{node.op}` does not apply to {left}s",
            node.op_column,
            f"{left}s can only be compared with `=` and `!=`"
            + (", or tested with `in {...}`" if left == "string" else ""),
        )


def _check_in(node: ast.In, env: TypeEnv) -> None:
    left = _operand_type(node.left, None, env)
    keyword = "not in" if node.negated else "in"
    if left == "boolean":
        raise type_problem(
            f"`{keyword}` does not apply to booleans",
            node.op_column,
            "compare a boolean with `=` or `!=`",
        )
    for item in node.right.items:
        if left == "authority":
            if isinstance(item, ast.Name | ast.StrLit):
                code = item.name if isinstance(item, ast.Name) else item.value
                _require_code(code, item.column, env)
                continue
            item_type = literal_type(item)
        elif isinstance(item, ast.Name):
            raise type_problem(
                f"set element {show(item)} is not a literal",
                item.column,
                f'write it as a string: `"{item.name}"`'
                if left == "string"
                else f"every element must be {_EXAMPLES[left]}",
            )
        else:
            item_type = literal_type(item)
            if item_type == left or (item_type in _NUMERIC and left in _NUMERIC):
                continue
        raise type_problem(
            f"set element {show(item)} is {_a(item_type)} {item_type}, but "
            f"{show(node.left)} is {_a(left)} {left}",
            item.column,
            f"every element must be {_EXAMPLES[left]}",
        )


def _require_code(code: str, column: int, env: TypeEnv) -> None:
    if code not in env.authority_codes:
        raise type_problem(
            f"unknown authority code `{code}`",
            column,
            "known authority codes: " + _listing(env.authority_codes),
        )


def _incompatible(node: ast.Compare, left: str, right: str) -> ConditionProblem:
    left_type = "authority" if left == "code" else left
    right_type = "authority" if right == "code" else right
    # Anchor the hint on the field side: its type is the one the user meant.
    if isinstance(node.left, ast.FieldRef | ast.Name) or not isinstance(
        node.right, ast.FieldRef | ast.Name
    ):
        anchor, anchor_type = node.left, left_type
    else:
        anchor, anchor_type = node.right, right_type
    return type_problem(
        f"cannot compare {show(node.left)} ({left_type}) with {show(node.right)} ({right_type})",
        node.op_column,
        f"compare {show(anchor)} with {_EXAMPLES[anchor_type]}",
    )


def _unknown(
    name: str, column: int, env: TypeEnv, what: str, codes_fit: bool = False
) -> ConditionProblem:
    # Opposite an authority field a code was likely meant, so list codes too.
    candidates = sorted(env.fields) + (sorted(env.authority_codes) if codes_fit else [])
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f"did you mean `{close[0]}`? " if close else ""
    hint += "known fields: " + _listing(env.fields)
    if codes_fit:
        hint += "; known authority codes: " + _listing(env.authority_codes)
    return type_problem(f"{what} `{name}`", column, hint)


def _authority_fields(env: TypeEnv) -> str:
    paths = sorted(p for p, t in env.fields.items() if t == "authority")
    return "an authority field (" + _listing(paths) + ")" if paths else "an authority field"


def _listing(names: Iterable[str]) -> str:
    items = sorted(names)
    return ", ".join(f"`{n}`" for n in items) if items else "none"


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
