"""The condition language of `mu:when` (SPEC §4): text → AST → type check → Python.

    >>> env = TypeEnv({"amount": "decimal", "approver.authority": "authority"},
    ...               frozenset({"L3", "L4"}))
    >>> compile_condition("amount > 100000.00", env).source
    "(tx['amount'] > Decimal('100000.00'))"
    >>> compile_condition("approver.authority >= L4", env).source
    "(tx.rank(tx['approver.authority']) >= tx.rank('L4'))"

`parse_condition` turns text into an `ast.Expr` (frozen dataclasses), raising
`ConditionProblem(kind="syntax")`; `check_condition` types it against a
`TypeEnv`, raising `ConditionProblem(kind="type")`; `emit_condition` produces a
Python expression over the names `tx` and `Decimal` only (the contract in
docs/ARCHITECTURE.md); `compile_condition` does all three and then verifies
the emitted source against a whitelist of Python syntax.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ast import And, Expr
from .emit import emit_condition, fields_read
from .env import TypeEnv
from .guard import Guard, condition_guard, guard_is_condition
from .parser import parse_condition
from .problem import ConditionProblem
from .safety import verify_source
from .typecheck import check_condition

__all__ = [
    "CompiledCondition",
    "ConditionProblem",
    "Expr",
    "Guard",
    "TypeEnv",
    "check_condition",
    "compile_condition",
    "emit_condition",
    "parse_condition",
]


@dataclass(frozen=True)
class CompiledCondition:
    """A condition ready for a generated module.

    `source` is a Python expression over `tx` and `Decimal`; `fields` are the
    field paths it reads, sorted and deduplicated.
    """

    source: str
    fields: tuple[str, ...]
    # The first test as data for the runtime's index of conditions (guard.py).
    guard: Guard | None = None
    # Whether the condition is that first test alone (`guard_is_condition`).
    guard_is_condition: bool = False
    # The condition without its guarded first test (`a and b and c` -> `b and c`),
    # what the runtime calls once the guard is known to hold; None without one.
    rest_source: str | None = None


def compile_condition(text: str, env: TypeEnv) -> CompiledCondition:
    """Parse, type-check and emit `text`, then verify the emitted source.

    Raises `ConditionProblem` for a syntax or type error in `text`, and
    `RuntimeError` if the emitted source fails the whitelist (a bug in mu).
    """
    expr = parse_condition(text)
    source = emit_condition(expr, env)
    verify_source(source)
    guard = condition_guard(expr, env)
    rest_source = None
    if guard is not None and isinstance(expr, And):
        remaining = expr.operands[1:]
        rest = remaining[0] if len(remaining) == 1 else And(remaining, expr.column)
        rest_source = emit_condition(rest, env)
        verify_source(rest_source)
    return CompiledCondition(
        source=source,
        fields=fields_read(expr, env),
        guard=guard,
        guard_is_condition=guard_is_condition(expr, env),
        rest_source=rest_source,
    )
