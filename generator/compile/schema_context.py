"""The schema module's context: the plain, sorted data `schema.py.j2` renders.

Types and their fields, authority levels, declared restrictions (checked
again here, since the IR could have been built by other code) and, per type,
the fields of its generated quick path of validation.
"""

from __future__ import annotations

import re
from typing import Any

from mu.generator.compile.ir import SchemaIR, TypeIR
from mu.generator.compile.model import DATATYPES


def schema_context(schema: SchemaIR) -> dict[str, Any]:
    """What `schema.py.j2` sees: types, authorities, restrictions and quick paths, sorted.

    Raises `ValueError` or `TypeError` for a schema IR the renderer must not
    write (an unknown datatype, a restriction that is not plain data).
    """
    types = sorted(schema.types, key=lambda t: t.type_id)
    authorities = sorted(schema.authorities, key=lambda a: (a.rank, a.code))
    for t in types:
        for f in t.fields:
            if f.datatype not in DATATYPES:
                raise ValueError(
                    f"field `{f.path}` of type `{t.type_id}` has unknown datatype `{f.datatype}`"
                )
    restrictions = []
    for t in types:
        declared = []
        for f in sorted(t.fields, key=lambda f: f.path):
            if f.pattern is None and not f.allowed_values:
                continue
            _check_restriction(t.type_id, f.path, f.pattern, f.allowed_values)
            declared.append((f.path, f.pattern, tuple(sorted(set(f.allowed_values)))))
        restrictions.append((t.type_id, declared))
    return {
        # (type id, label, ((path, datatype, required), ...)) — plain tuples for `py`.
        "types": [
            (t.type_id, t.label, [(f.path, f.datatype, f.required) for f in t.fields])
            for t in types
        ],
        "authorities": [(a.code, a.rank, a.label) for a in authorities],
        # (type id, ((path, pattern or None, allowed values), ...)) for every type.
        "restrictions": restrictions,
        "quick": _quick_paths(types),
    }


# The inline check of a field on the quick path, by datatype (see schema.py.j2).
_QUICK_KINDS = {
    "string": "string",
    "decimal": "decimal",
    "authority": "authority",
    "integer": "integer",
    "boolean": "boolean",
}


def _quick_paths(types: list[TypeIR]) -> list[tuple[str, str, list[Any]]]:
    """Per type with no field deeper than two segments: (type id, function name,
    groups), each group (parent key or None, every field optional, fields) and
    each field (key, path, inline check, required), in schema order.

    The checks mirror the runtime's careful path (`fields.py`): a party id is a
    string field whose path ends in `.id`; a field with a declared restriction
    goes to the runtime's `store`. The function is named by position, never by
    the type id, so no user text is ever an identifier.
    """
    quick = []
    for index, t in enumerate(types):
        if any(f.path.count(".") > 1 for f in t.fields):
            continue
        groups: dict[str | None, list[tuple[str, str, str, bool]]] = {}
        for f in t.fields:
            if f.path == "type":
                continue  # read first, by the runtime, to find the type
            first, _, second = f.path.partition(".")
            if f.pattern is not None or f.allowed_values:
                kind = "restricted"
            elif f.datatype == "string" and f.path.endswith(".id"):
                kind = "party"
            elif f.path == "amount" and f.datatype == "decimal":
                kind = "amount"  # a negative amount is a problem
            else:
                kind = _QUICK_KINDS[f.datatype]
            parent = first if second else None
            groups.setdefault(parent, []).append((second or first, f.path, kind, f.required))
        quick.append(
            (
                t.type_id,
                f"_quick_{index}",
                [
                    (parent, not any(field[3] for field in fields), fields)
                    for parent, fields in groups.items()
                ],
            )
        )
    return quick


def _check_restriction(
    type_id: str, path: str, pattern: str | None, allowed: tuple[str, ...]
) -> None:
    """A declared restriction must be plain data, and its pattern must compile.

    The compiler's restrictions stage has checked the pattern properly; this
    only keeps a pattern the runtime could not compile from shipping.
    """
    where = f"field `{path}` of type `{type_id}`"
    if pattern is not None:
        if type(pattern) is not str:
            raise TypeError(f"{where} has a pattern of type {type(pattern).__name__}")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{where} has a pattern that does not compile: {exc}") from None
    if not all(type(value) is str for value in allowed):
        raise TypeError(f"{where} has an allowed value that is not a string")
