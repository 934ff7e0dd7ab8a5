"""The one error hierarchy of mu.

Every failure a user can cause is a `MuError` carrying the exit code of the
contract (SPEC §7), a lowercase message with user input in backticks, a hint
saying how to fix it, and, where the failure is in a file, its `Location`.
The CLI catches `MuError` in exactly one place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

# How tomllib places an error in its message: `... (at line 3, column 12)`.
_AT_LINE_COLUMN = re.compile(r"\(at line (\d+), column (\d+)\)")


class ExitCode(IntEnum):
    """The process exit codes of the contract (SPEC §7)."""

    OK = 0
    CHECK_FAILED = 1  # a check ran and failed: violations, drift, a bad signature
    USAGE = 2  # bad usage or unreadable input


@dataclass(frozen=True)
class Location:
    """Where in a file something is wrong (as OPA's `ast.Location`).

    `file` is the path as the user can open it; `line` and `column` are 1-based
    and None when unknown.
    """

    file: str
    line: int | None = None
    column: int | None = None

    @classmethod
    def of_parse_error(cls, file: str, exc: BaseException) -> Location:
        """Where a parser's exception says the error is in `file`: JSON's `lineno` and
        `colno`, a `SyntaxError`'s `lineno` and `offset`, TOML's `(at line L, column C)`."""
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        if column is None:
            column = getattr(exc, "offset", None)
        if not isinstance(line, int):
            match = _AT_LINE_COLUMN.search(str(exc))
            line, column = (int(match[1]), int(match[2])) if match else (None, None)
        return cls(file, line, column if isinstance(column, int) and line else None)

    def __str__(self) -> str:
        """`file`, `file:line` or `file:line:column`."""
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text

    def to_dict(self) -> dict[str, str | int | None]:
        """The location as plain data (`line` and `column` null when unknown)."""
        return {"file": self.file, "line": self.line, "column": self.column}


@dataclass(frozen=True)
class Problem:
    """One problem found by a check; checks collect all of them before stopping.

    `where` names what is wrong (a file, a case, a field, a severity);
    `location`, when known, is the place in a file.
    """

    where: str
    message: str
    hint: str = ""
    location: Location | None = None


class MuError(Exception):
    """Base of every error that reaches a user.

    `code` is the process exit code; `problems` lists every individual problem
    when a check collected more than one; `location` is where in a file the
    error is, when it is in one.
    """

    code: ExitCode = ExitCode.USAGE

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        problems: Sequence[Problem] = (),
        code: ExitCode | None = None,
        location: Location | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.location = location
        if code is not None:
            self.code = code


class InputError(MuError):
    """Unreadable or malformed input: missing file, Turtle/TOML/JSON syntax (exit 2)."""

    code = ExitCode.USAGE


class CheckFailed(MuError):
    """A check ran and failed: violations, golden failures, drift (exit 1)."""

    code = ExitCode.CHECK_FAILED
