"""Strict JSON for transactions: `parse_transaction`.

`json.loads` keeps the last of two equal keys, so `{"approver": {"id": "bob",
"id": "alice"}}` would reach a control as `alice` while a log, a proxy or a
reviewer reading the first key sees `bob`. SPEC §3 makes such a transaction
invalid; this parser refuses it, and refuses NaN and Infinity, which are not
JSON at all. Callers that receive transaction text should parse it here
before `evaluate`, which only ever sees the parsed mapping.

This docstring and the imports below are not rendered: in
`enforcers/runtime.py` everything after the imports here follows the body of
`decision.py`, in the same module, so the import from it is dropped there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

from .decision import FieldProblem, InvalidTransaction


class _RefusedConstant(ValueError):
    """A JSON number the transaction parser refuses: NaN, Infinity or one too large."""


# Objects that held a duplicate key, by `id()` of the dict the parser made for
# them, with the duplicated keys; filled by `_pairs` while one parse runs and
# read back once the whole document is parsed, when the paths are known.
_Duplicates = dict[int, list[str]]


def parse_transaction(text: str | bytes) -> dict[str, object]:
    """Parse transaction JSON strictly; raise `InvalidTransaction` naming every problem.

    Refused: text that is not JSON (or not UTF-8), a top level that is not an
    object, a duplicate key in any object (each is named by its dotted path,
    such as `approver.id`; an array element by its index, `items.0.sku`),
    `NaN`, `Infinity` and numbers too large for a float. Numbers with a
    fraction or an exponent stay floats, which the runtime then refuses for
    money with a message saying to send a string: the parser does not guess.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidTransaction(
                [FieldProblem("", f"the transaction is not UTF-8 text (byte {exc.start})")]
            ) from None
    duplicates: _Duplicates = {}

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        obj: dict[str, object] = {}
        seen: list[str] = []
        for key, value in items:
            if key in obj and key not in seen:
                seen.append(key)
            obj[key] = value
        if seen:
            duplicates[id(obj)] = seen
        return obj

    try:
        document = json.loads(
            text,
            object_pairs_hook=pairs,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except _RefusedConstant as exc:
        raise InvalidTransaction([FieldProblem("", str(exc))]) from None
    except json.JSONDecodeError as exc:
        raise InvalidTransaction(
            [
                FieldProblem(
                    "",
                    f"the transaction is not valid JSON: {exc.msg.lower()} "
                    f"(line {exc.lineno}, column {exc.colno})",
                )
            ]
        ) from None
    except RecursionError:
        raise InvalidTransaction(
            [FieldProblem("", "the transaction JSON is nested too deeply")]
        ) from None
    if not isinstance(document, dict):
        raise InvalidTransaction(
            [FieldProblem("", "the transaction must be a JSON object `{...}`")]
        )
    if duplicates:
        raise InvalidTransaction(
            FieldProblem(
                path,
                f"duplicate key `{path.rpartition('.')[2]}`: each key may appear only once "
                "in an object, or readers disagree on its value",
            )
            for path in sorted(set(_duplicate_paths(document, "", duplicates)))
        )
    return document


def _duplicate_paths(node: object, prefix: str, duplicates: _Duplicates) -> Iterator[str]:
    """The dotted path of every duplicated key under `node` (at `prefix`)."""
    # An explicit stack, not recursion: json.loads already bounded the depth,
    # but a walk should not spend the recursion limit a second time.
    stack: list[tuple[object, str]] = [(node, prefix)]
    while stack:
        current, at = stack.pop()
        if isinstance(current, dict):
            for key in duplicates.get(id(current), ()):
                yield f"{at}.{key}" if at else key
            for key, value in current.items():
                stack.append((value, f"{at}.{key}" if at else key))
        elif isinstance(current, list):
            for index, value in enumerate(current):
                stack.append((value, f"{at}.{index}" if at else str(index)))


def _refuse_constant(name: str) -> object:
    """`parse_constant` for json.loads: NaN and Infinity are not JSON numbers."""
    raise _RefusedConstant(f"`{name}` is not a JSON number; send numbers as finite values")


def _finite_float(text: str) -> float:
    """`parse_float` for json.loads: a float, or a refusal if it overflows to infinity."""
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise _RefusedConstant(
            f"the number `{shown}` is too large; send large amounts as decimal strings"
        )
    return value
