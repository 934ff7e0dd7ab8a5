"""Strict JSON reading: a repeated key is an error, never a silent last-wins.

`json.loads` keeps the last of two equal keys, so a reviewer reading the
first `"roles"` and mu reading the second would see different files. Every
place mu reads JSON goes through `loads_strict`, which refuses duplicate keys
and the non-JSON constants `NaN`, `Infinity` and `-Infinity` (SPEC §3, §9).
"""

from __future__ import annotations

import json
from typing import Any

from mu.generator.errors import InputError, Location
from mu.generator.jsonshape import json_type, preview


class DuplicateKey(ValueError):
    """A JSON object names the same key twice; `key` is the repeated key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"repeats the field `{preview(key, 64)}`")
        self.key = key


class NonJsonConstant(ValueError):
    """`NaN`, `Infinity` or `-Infinity`: Python's json reads them, JSON has none.

    `constant` is the word found; the message reads "holds `NaN`, which is not JSON".
    """

    def __init__(self, constant: str) -> None:
        super().__init__(f"holds `{constant}`, which is not JSON")
        self.constant = constant


def strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """One JSON object's members as a dict; `DuplicateKey` at the first repeated key."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def refuse_constant(name: str) -> Any:
    """Refuse `NaN`, `Infinity` and `-Infinity`."""
    raise NonJsonConstant(name)


def loads_strict(data: bytes | str) -> Any:
    """Parse JSON, refusing duplicate keys (`DuplicateKey`) and NaN/Infinity (`NonJsonConstant`).

    Bytes must be UTF-8. Decoding, syntax, nesting and number-size errors
    propagate as `UnicodeDecodeError`, `json.JSONDecodeError`, `RecursionError`
    and `ValueError`; callers turn them into messages.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return json.loads(text, object_pairs_hook=strict_object, parse_constant=refuse_constant)


def read_json_object(data: bytes, what: str, source: str, hint: str) -> dict[str, Any]:
    """`data` as a JSON object, read strictly.

    Anything wrong is an `InputError` (exit 2) whose message names `what` and
    `source` and says what is wrong: not UTF-8, not valid JSON (with its
    `Location`), a repeated field, nested too deeply, a number too long to
    read, a non-JSON constant, or a value that is not an object. `hint` says
    how to fix it.
    """

    def bad(problem: str, location: Location | None = None) -> InputError:
        return InputError(f"{what} `{source}` {problem}", hint=hint, location=location)

    try:
        value = loads_strict(data)
    except UnicodeDecodeError as exc:
        raise bad(f"is not UTF-8 (byte {exc.start})") from None
    except (DuplicateKey, NonJsonConstant) as exc:
        raise bad(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise bad(
            f"is not valid JSON: {exc.msg[:1].lower()}{exc.msg[1:]} "
            f"at line {exc.lineno} column {exc.colno}",
            Location.of_parse_error(source, exc),
        ) from None
    except RecursionError:
        raise bad("is nested too deeply") from None
    except ValueError:  # an integer over Python's digit limit (not a JSONDecodeError)
        raise bad("holds a number too long to read") from None
    if not isinstance(value, dict):
        raise bad(f"is {json_type(value)}, not a JSON object")
    return value
