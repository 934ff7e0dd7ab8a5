"""The one exception of the condition language: a problem in a `mu:when` text."""

from __future__ import annotations

from typing import Literal

ProblemKind = Literal["syntax", "type"]


class ConditionProblem(Exception):
    """A condition that does not parse (`kind="syntax"`) or type-check (`kind="type"`).

    `column` is 1-based and counts characters from the start of the condition
    text (a line break counts as one character), so it is meaningful for the
    rare condition written over several lines too. `message` is lowercase with
    user input in backticks; `hint` says how to fix it. The caller adds which
    control the condition belongs to.
    """

    def __init__(self, message: str, *, column: int, hint: str, kind: ProblemKind) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column
        self.hint = hint
        self.kind: ProblemKind = kind


def syntax_problem(message: str, column: int, hint: str) -> ConditionProblem:
    """A `ConditionProblem` of kind `syntax`."""
    return ConditionProblem(message, column=column, hint=hint, kind="syntax")


def type_problem(message: str, column: int, hint: str) -> ConditionProblem:
    """A `ConditionProblem` of kind `type`."""
    return ConditionProblem(message, column=column, hint=hint, kind="type")
