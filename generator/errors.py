"""The one error hierarchy of mu.

Every failure a user can cause is a `MuError` carrying the exit code of the
contract (SPEC §7), a lowercase message with user input in backticks, and a
hint saying how to fix it. The CLI catches `MuError` in exactly one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Problem:
    """One problem found by a check; checks collect all of them before stopping."""

    where: str
    message: str
    hint: str = ""


class MuError(Exception):
    """Base of every error that reaches a user.

    `code` is the process exit code; `problems` lists every individual problem
    when a check collected more than one.
    """

    code: int = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        problems: Sequence[Problem] = (),
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems: tuple[Problem, ...] = tuple(problems)
        if code is not None:
            self.code = code


class InputError(MuError):
    """Unreadable or malformed input: missing file, Turtle/TOML/JSON syntax (exit 2)."""

    code = EXIT_USAGE


class CheckFailed(MuError):
    """A check ran and failed: violations, golden failures, drift (exit 1)."""

    code = EXIT_CHECK_FAILED


class ConditionError(CheckFailed):
    """A `mu:when` condition that does not parse or does not type-check."""
