"""The typed syntax tree of a condition: frozen dataclasses, free of lark objects.

Every node carries `column`, the 1-based position (in characters from the
start of the text) where it begins; comparisons and memberships also carry
`op_column`, the position of their operator, because type errors about the
pairing of two operands are reported at the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class FieldRef:
    """A dotted field path such as `counterparty.country`."""

    path: str
    column: int


@dataclass(frozen=True)
class Name:
    """A bare identifier: a field (`amount`) or an authority code (`L4`).

    Which one it is depends on the environment and on the other operand, so
    the type checker decides.
    """

    name: str
    column: int


@dataclass(frozen=True)
class DecimalLit:
    """A decimal literal such as `100000.00` (digits on both sides of the point)."""

    value: Decimal
    column: int


@dataclass(frozen=True)
class IntLit:
    """An integer literal such as `5` or `-5`."""

    value: int
    column: int


@dataclass(frozen=True)
class StrLit:
    """A double-quoted string literal; `value` has its escapes decoded."""

    value: str
    column: int


@dataclass(frozen=True)
class BoolLit:
    """`true` or `false`."""

    value: bool
    column: int


Operand = FieldRef | Name | DecimalLit | IntLit | StrLit | BoolLit
SetItem = Name | DecimalLit | IntLit | StrLit | BoolLit


@dataclass(frozen=True)
class SetLit:
    """A non-empty set literal `{...}`; items in source order, duplicates kept."""

    items: tuple[SetItem, ...]
    column: int


@dataclass(frozen=True)
class Compare:
    """`left op right` for one of the six comparison operators."""

    op: CompareOp
    left: Operand
    right: Operand
    column: int
    op_column: int


@dataclass(frozen=True)
class In:
    """`left in {...}`, or `left not in {...}` when `negated`."""

    negated: bool
    left: Operand
    right: SetLit
    column: int
    op_column: int


@dataclass(frozen=True)
class Not:
    """`not operand`."""

    operand: Expr
    column: int


@dataclass(frozen=True)
class And:
    """`a and b and ...`: two or more operands, flattened from one chain."""

    operands: tuple[Expr, ...]
    column: int


@dataclass(frozen=True)
class Or:
    """`a or b or ...`: two or more operands, flattened from one chain."""

    operands: tuple[Expr, ...]
    column: int


# A condition; a bare operand is one only if it is a boolean field or literal.
Expr = Or | And | Not | Compare | In | FieldRef | Name | DecimalLit | IntLit | StrLit | BoolLit
