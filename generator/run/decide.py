"""`mu decide`: evaluate one transaction with a generated enforcer package.

A transaction file is foreign input, possibly hostile: it is read with a size
bound and parsed strictly (no duplicate keys, no `NaN`, no lone surrogates, a
bounded depth and number size), so that every malformed file is a clear error
naming the file and the JSON path, never a traceback.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from mu.generator.errors import CheckFailed, InputError, Location, Problem
from mu.generator.jsonshape import encodable, json_type
from mu.generator.run.enforcers import load_enforcers

STDIN = "-"  # `mu decide -` reads the transaction from standard input (SPEC §7)
# How errors name standard input: Python's own spelling, which no file path
# given on a command line can be mistaken for.
STDIN_NAME = "<stdin>"
MAX_TRANSACTION_BYTES = 16 * 1024 * 1024
# A transaction is a handful of nested objects (`counterparty.country`); the
# bound keeps every later walk over it (validation, reports) far from
# Python's recursion limit.
MAX_DEPTH = 64
# Python refuses to convert longer integers (ValueError); refusing them here
# names the file instead, whatever `PYTHONINTMAXSTRDIGITS` says.
MAX_INTEGER_DIGITS = 4300
_MAX_PROBLEMS = 20
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HINT = "a transaction is one JSON object in UTF-8 (SPEC §3), at most 16 MiB"
REFUSED_HINT = "fix every field listed; the enforcer never approves what it cannot check"


@dataclass(frozen=True)
class DecideResult:
    """The decision as plain data (`Decision.to_dict()`)."""

    decision: dict[str, Any]


class _Refused(Exception):
    """Raised from inside the JSON parser's hooks; turned into an `InputError`."""


class _Duplicated(dict[str, Any]):
    """A JSON object that repeated a key; only ever seen on the way to an error."""

    def __init__(self, items: dict[str, Any], duplicates: tuple[str, ...]) -> None:
        super().__init__(items)
        self.duplicates = duplicates


def shown(text: str, limit: int = 80) -> str:
    """`text` safe to print: control characters and lone surrogates escaped, length bounded.

    A lone surrogate cannot be written to a UTF-8 terminal at all, so an error
    message echoing it would itself crash.
    """
    escaped = "".join(c if c.isprintable() else _escape(c) for c in text[: limit + 1])
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def json_path(parts: tuple[str | int, ...]) -> str:
    """A JSONPath for error messages: `$.approver.id`, `$.items[0]`, `$["a b"]`."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"  # ensure_ascii escapes anything unprintable
    return out


def read_transaction(path: Path, stdin: BinaryIO | None = None) -> dict[str, Any]:
    """Read a transaction JSON file, or standard input when `path` is `-`.

    Unreadable, oversized or malformed input is an `InputError` naming the
    file (and the JSON path where it applies).
    """
    if str(path) == STDIN:
        return read_transaction_stream(stdin or sys.stdin.buffer, STDIN_NAME)
    source = f"`{shown(str(path))}`"
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TRANSACTION_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"cannot read {source}: {(exc.strerror or str(exc)).lower()}",
            hint="pass the path of a transaction JSON file, or `-` for standard input",
        ) from None
    return parse_transaction(data, source)


def read_transaction_stream(stream: BinaryIO, name: str = STDIN_NAME) -> dict[str, Any]:
    """Read a transaction from a binary stream with the bound and checks of a file (at most
    16 MiB, strict JSON); `name` names it in errors."""
    try:
        data = stream.read(MAX_TRANSACTION_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"cannot read {name}: {(exc.strerror or str(exc)).lower()}",
            hint="pass the path of a transaction JSON file, or `-` for standard input",
        ) from None
    return parse_transaction(data, name)


def parse_transaction(data: bytes, source: str, *, one_line: bool = False) -> dict[str, Any]:
    """Parse transaction bytes strictly; `source` (already quoted if a path) names them.

    `one_line`: the bytes are one line of a batch, so a syntax error names the
    column only (its line is always 1, which would contradict the batch's).
    """
    if len(data) > MAX_TRANSACTION_BYTES:
        raise InputError(f"{source} is larger than 16 MiB", hint=_HINT)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source} is not valid UTF-8 (byte {exc.start})", hint=_HINT) from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
        )
    except _Refused as exc:
        raise InputError(f"{source} {exc}", hint=_HINT) from None
    except RecursionError:
        raise InputError(
            f"{source} is nested too deeply (at most {MAX_DEPTH} levels)", hint=_HINT
        ) from None
    except json.JSONDecodeError as exc:
        where = f"column {exc.colno}" if one_line else f"line {exc.lineno}, column {exc.colno}"
        raise InputError(
            f"{source} is not valid JSON: {exc.msg} at {where}",
            hint=_HINT,
            location=Location.of_parse_error(source.strip("`"), exc),
        ) from None
    if not isinstance(value, dict):
        raise InputError(f"{source} holds {json_type(value)}, not a JSON object", hint=_HINT)
    problems, count = _problems(value)
    if problems:
        if count > len(problems):
            problems.append(Problem("…", f"and {count - len(problems)} more"))
        raise InputError(
            f"{source} is not a valid transaction: {count} problem(s)",
            hint=f"each key once per object, valid Unicode strings, at most {MAX_DEPTH} levels "
            "of nesting (SPEC §3)",
            problems=problems,
        )
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads silently keeps the last of two equal keys: a reader and the
    # enforcer could then see different transactions (SPEC §3: invalid).
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    duplicates: list[str] = []
    for key, _ in pairs:
        if key in seen and key not in duplicates:
            duplicates.append(key)
        seen.add(key)
    return _Duplicated(result, tuple(duplicates))


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise _Refused(
            f"holds an integer of {digits} digits (at most {MAX_INTEGER_DIGITS}); "
            'send amounts as decimal strings such as "105000.00"'
        )
    try:
        return int(text)
    except ValueError:  # a lower limit set through PYTHONINTMAXSTRDIGITS
        raise _Refused(f"holds an integer of {digits} digits, too long to convert") from None


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"holds the number `{shown(text, 40)}`, too large to represent")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"uses `{name}`, which is not JSON")


def _problems(root: dict[str, Any]) -> tuple[list[Problem], int]:
    """The first problems (duplicate keys, lone surrogates, excess depth) and their count.

    A depth-first walk with an explicit stack of iterators and one shared
    path: no recursion, and memory bounded by the depth, not by the size.
    """
    found = _Found()
    parts: list[str | int] = []
    found.container(root, parts)
    stack: list[Iterator[tuple[str | int, Any]]] = [_children(root)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            if parts:
                parts.pop()
            continue
        key, item = entry
        if isinstance(item, str):
            if not encodable(item):
                found.add(json_path((*parts, key)), "holds a lone surrogate, not valid Unicode")
        elif isinstance(item, dict | list):
            parts.append(key)
            if len(parts) > MAX_DEPTH:
                found.add(json_path(tuple(parts)), f"nested more than {MAX_DEPTH} levels deep")
                parts.pop()
                continue
            found.container(item, parts)
            stack.append(_children(item))
    return found.problems, found.count


class _Found:
    """Problems found so far: the first `_MAX_PROBLEMS` kept, all counted."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.count = 0

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(Problem(where, message))

    def container(self, value: dict[str, Any] | list[Any], parts: list[str | int]) -> None:
        if not isinstance(value, dict):
            return
        if isinstance(value, _Duplicated):
            for key in value.duplicates:
                self.add(json_path((*parts, key)), f"the key `{shown(key)}` appears twice")
        for key in value:
            if not encodable(key):
                self.add(json_path((*parts, key)), "the key holds a lone surrogate")


def _children(value: dict[str, Any] | list[Any]) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        return iter(value.items())
    return iter(enumerate(value))


def decide(
    enforcers_dir: Path, transaction_path: Path, stdin: BinaryIO | None = None
) -> DecideResult:
    """Evaluate the transaction in `transaction_path` (`-`: `stdin`); a refusal fails the check."""
    module = load_enforcers(enforcers_dir)
    transaction = read_transaction(transaction_path, stdin)
    try:
        decision = module.evaluate(transaction)
    except module.InvalidTransaction as exc:
        raise CheckFailed(
            f"transaction refused (fails closed): {len(exc.problems)} problem(s)",
            hint=REFUSED_HINT,
            problems=refusal_problems(exc),
        ) from exc
    except module.EnforcementError as exc:
        raise CheckFailed(
            f"the enforcer could not decide: {shown(str(exc), 400)}",
            hint="escalate with `mu diagnose`",
        ) from exc
    return DecideResult(decision.to_dict())


def refusal_problems(exc: Exception) -> list[Problem]:
    """The problems of an enforcer's `InvalidTransaction`, safe to print: one per field."""
    return [
        Problem(f"`{shown(str(p.field))}`", shown(str(p.message), 400))
        for p in getattr(exc, "problems", ())
    ]
