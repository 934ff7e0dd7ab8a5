"""Condition text → `ast.Expr`, or a `ConditionProblem` of kind `syntax`.

This is the only module that touches lark: trees, tokens and lark exceptions
are turned into `ast` nodes and `ConditionProblem`s here and never leave it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError
from lark.tree import Meta

from . import ast
from .problem import ConditionProblem, syntax_problem
from .syntax_errors import describe_bad_character, describe_unexpected

# Deeper trees are rejected before anything recursive walks them: lark's
# Transformer, the checker and the emitter recurse, and CPython refuses source
# nested more than 200 parentheses deep. No real condition comes close.
MAX_DEPTH = 64

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


@cache
def _lark() -> Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True)


def parse_condition(text: str) -> ast.Expr:
    """Parse a `mu:when` condition into its AST.

    Raises `ConditionProblem` (kind `syntax`) with the column of the first
    offending character or token and the tokens that would have been valid.
    """
    if not text.strip():
        raise syntax_problem(
            "the condition is empty", 1, "write a condition such as `amount > 1000.00`"
        )
    tree = _parse_tree(text)
    _check_depth(tree)
    try:
        result = _ToAst().transform(tree)
    except VisitError as exc:  # lark wraps what our callbacks raise
        if isinstance(exc.orig_exc, ConditionProblem):
            raise exc.orig_exc from None
        raise
    if not isinstance(result, ast.Expr):
        raise RuntimeError(f"parser produced {type(result).__name__}, not a condition")
    return result


def _parse_tree(text: str) -> Tree[Token]:
    # Parse interactively so that the token before the error is known
    # ("expected a value after `>=`") and the truly acceptable terminals can be
    # asked for (LALR tables alone over-report them).
    parser = _lark().parse_interactive(text)
    seen: list[Token] = []
    try:
        for token in parser.iter_parse():
            seen.append(token)
        # lark leaves these two helpers unannotated; both are public API.
        result = parser.feed_eof(seen[-1] if seen else None)  # type: ignore[no-untyped-call]
    except UnexpectedToken as exc:
        found = None if exc.token.type == "$END" else exc.token
        # A token the parser rejected was yielded first; one the contextual
        # lexer rejected (and the full lexer recognised) never was.
        fed = seen[:-1] if seen and found is not None and seen[-1] is exc.token else seen
        expected: set[str] = parser.accepts()  # type: ignore[no-untyped-call]
        raise _unexpected(text, expected, found, fed[-1] if fed else None) from None
    except UnexpectedCharacters as exc:
        allowed: set[str] = parser.accepts()  # type: ignore[no-untyped-call]
        prev = seen[-1].value if seen else None
        raise describe_bad_character(text, exc.pos_in_stream or 0, allowed, prev) from None
    except UnexpectedInput as exc:  # pragma: no cover - LALR raises only the two above
        raise syntax_problem("the condition does not parse", 1, str(exc)) from None
    if not isinstance(result, Tree):
        raise RuntimeError("lark returned no tree")
    return result


def _unexpected(
    text: str, expected: set[str], found: Token | None, prev: Token | None
) -> ConditionProblem:
    if found is None:
        column = len(text.rstrip(" \t\r\n")) + 1  # just past the last token
        return describe_unexpected(expected, None, None, prev and prev.value, column)
    return describe_unexpected(
        expected, found.type, found.value, prev and prev.value, _token_column(found)
    )


def _check_depth(tree: Tree[Token]) -> None:
    # Iterative on purpose: this runs before anything recursive sees the tree.
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise syntax_problem(
                f"the condition is nested more than {MAX_DEPTH} levels deep",
                node.meta.start_pos + 1,
                "remove redundant parentheses and `not`s, or split the control",
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def _token_column(token: Token) -> int:
    return (token.start_pos or 0) + 1


def _meta_column(meta: Meta) -> int:
    return meta.start_pos + 1


@v_args(meta=True)
class _ToAst(Transformer[Token, Any]):
    """Builds `ast` nodes bottom-up; method names are the grammar's rule aliases."""

    def or_expr(self, meta: Meta, children: list[ast.Expr]) -> ast.Or:
        return ast.Or(tuple(children), _meta_column(meta))

    def and_expr(self, meta: Meta, children: list[ast.Expr]) -> ast.And:
        return ast.And(tuple(children), _meta_column(meta))

    def not_(self, meta: Meta, children: list[Any]) -> ast.Not:
        keyword, operand = children
        return ast.Not(operand, _token_column(keyword))

    def comparison(self, meta: Meta, children: list[Any]) -> ast.Compare:
        left, op, right = children
        return ast.Compare(op.value, left, right, _meta_column(meta), _token_column(op))

    def in_(self, meta: Meta, children: list[Any]) -> ast.In:
        left, keyword, values = children
        return ast.In(False, left, values, _meta_column(meta), _token_column(keyword))

    def not_in(self, meta: Meta, children: list[Any]) -> ast.In:
        left, keyword, _in, values = children
        return ast.In(True, left, values, _meta_column(meta), _token_column(keyword))

    def set_lit(self, meta: Meta, children: list[ast.SetItem]) -> ast.SetLit:
        return ast.SetLit(tuple(children), _meta_column(meta))

    def field(self, meta: Meta, children: list[Token]) -> ast.FieldRef:
        return ast.FieldRef(children[0].value, _token_column(children[0]))

    def name(self, meta: Meta, children: list[Token]) -> ast.Name:
        return ast.Name(children[0].value, _token_column(children[0]))

    def decimal(self, meta: Meta, children: list[Token]) -> ast.DecimalLit:
        # The terminal admits only digits around one point, so this is exact.
        return ast.DecimalLit(Decimal(children[0].value), _token_column(children[0]))

    def integer(self, meta: Meta, children: list[Token]) -> ast.IntLit:
        token = children[0]
        try:
            value = int(token.value)
        except ValueError:  # CPython's limit on int digits (CVE-2020-10735)
            raise syntax_problem(
                "this integer literal has too many digits",
                _token_column(token),
                "write a number with fewer than 4300 digits",
            ) from None
        return ast.IntLit(value, _token_column(token))

    def string(self, meta: Meta, children: list[Token]) -> ast.StrLit:
        token = children[0]
        # The terminal admits only the four escapes, so every match decodes.
        value = re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], token.value[1:-1])
        return ast.StrLit(value, _token_column(token))

    def true(self, meta: Meta, children: list[Token]) -> ast.BoolLit:
        return ast.BoolLit(True, _token_column(children[0]))

    def false(self, meta: Meta, children: list[Token]) -> ast.BoolLit:
        return ast.BoolLit(False, _token_column(children[0]))
