"""The plain, sorted intermediate representation the templates render.

Templates see only these frozen dataclasses of strings, ints, bools and
tuples: never rdflib or lark objects. User text stays data here; the templates
turn it into Python literals with the `py` filter (a `repr`-based literal
writer), and the only code strings (`ConditionIR.source`) are produced by the
condition compiler from a parsed, type-checked AST.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from mu.generator.hashing import canonical_json, sha256_hex


@dataclass(frozen=True)
class FieldIR:
    """A field the runtime checks: dotted path, datatype name, required flag.

    `pattern` and `allowed_values` are its declared restrictions (`mu:pattern`,
    `mu:allowedValue` as canonical lexical strings, sorted; for a party id in
    its normal form); None and () when it declares none.
    """

    path: str
    datatype: str  # "decimal" | "integer" | "string" | "boolean" | "authority"
    required: bool
    pattern: str | None = None
    allowed_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class TypeIR:
    """A transaction type with all its fields (core fields first, then declared)."""

    type_id: str
    label: str
    fields: tuple[FieldIR, ...]


@dataclass(frozen=True)
class AuthorityIR:
    """An authority level: JSON code, rank (unique, higher is senior), label."""

    code: str
    rank: int
    label: str


@dataclass(frozen=True)
class ConditionIR:
    """A compiled `mu:when`: the original text (data) and the Python expression.

    `source` is a Python expression over the names `tx` (a runtime.Tx) and
    `Decimal`; it was emitted from a checked AST and contains user text only
    as `repr` literals. `fields` lists the paths it reads, sorted.
    """

    text: str
    source: str
    fields: tuple[str, ...]
    # The condition's first test as plain literals, for the runtime's index of
    # conditions (`conditions/guard.py`); None when it has none.
    guard: tuple[object, ...] | None = None
    # True when the condition is the guarded test alone (`guard_is_condition`).
    guard_is_condition: bool = False
    # The condition without its guarded first test, a Python expression like
    # `source`; None when there is no guard or the guard is the whole condition.
    rest_source: str | None = None


@dataclass(frozen=True)
class ControlIR:
    """One control module's whole input. `digest` is sha256 over this IR's content.

    `kind` is one of "approval", "segregation", "condition", "notification",
    "audit_log". Money is a canonical decimal string (`amount_threshold`).
    """

    control_id: str
    kind: str
    label: str
    owner: str
    applies_to: tuple[str, ...]
    depends_on: tuple[str, ...]
    when: ConditionIR | None
    amount_threshold: str | None
    currency: str | None
    required_authority: str | None
    separates: tuple[str, ...]
    effect: str | None
    message: str | None
    recipients: tuple[str, ...]
    on_outcome: tuple[str, ...]
    ledger: str | None
    digest: str

    @property
    def module(self) -> str:
        """Module name inside `enforcers/controls/` (controlId is a valid identifier)."""
        return self.control_id

    @property
    def module_path(self) -> str:
        """Path of the module relative to the enforcer package root."""
        return f"controls/{self.control_id}.py"


@dataclass(frozen=True)
class SchemaIR:
    """The transaction schema: types (sorted by id), authorities (sorted by rank)."""

    types: tuple[TypeIR, ...]
    authorities: tuple[AuthorityIR, ...]
    digest: str


@dataclass(frozen=True)
class PackageIR:
    """Everything the renderer needs to write A; controls sorted by control id."""

    generator_name: str
    generator_version: str
    schema: SchemaIR
    controls: tuple[ControlIR, ...]
    dispatch_digest: str  # sha256 over the sorted control ids


# --------------------------------------------------------------------------
# Canonical JSON of IR values
# --------------------------------------------------------------------------

# JCS (RFC 8785) admits integers only within a double's exact range.
_JCS_INT_MIN = -(2**53) + 1
_JCS_INT_MAX = 2**53 - 1
# Per dataclass type, its field names in declaration order (what `asdict` walks).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def plain(value: object) -> object:
    """`value` as `dataclasses.asdict` would give it: dataclasses become dicts, recursively.

    Tuples stay tuples and lists lists, as with `asdict`; leaves are not copied
    (IR leaves are immutable). Values of any other type pass through unchanged.
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is tuple:
        return tuple(plain(item) for item in value)  # type: ignore[attr-defined]
    if kind is list:
        return [plain(item) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        return {key: plain(item) for key, item in value.items()}  # type: ignore[attr-defined]
    names = _FIELD_NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(value):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
    if names is None:
        return value
    return {name: plain(getattr(value, name)) for name in names}


def ir_json(value: object, *, omit: tuple[str, ...] = ()) -> bytes:
    """The RFC 8785 canonical JSON of `plain(value)`: byte for byte `hashing.canonical_json`.

    `omit` names keys of the top-level object left out (a dataclass's own
    `digest`, when the digest is computed over the rest).

    The IR is strings, small integers, booleans and None in tuples and
    dataclasses, and for those JCS and `json.dumps` (sorted keys, no spaces,
    UTF-8, escapes as in ECMAScript) write the same bytes; `json.dumps` is C
    and several times faster than the pure-Python `rfc8785`. Anything outside
    that domain (a float, an integer JCS refuses, a non-ASCII key, whose UTF-16
    order can differ from Python's, a lone surrogate) goes to `rfc8785` itself,
    so the answer, or the error, is always its.
    """
    try:
        data = _json_value(value)
        _omit(data, omit)
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return text.encode("utf-8")
    except (_OutsideDomain, UnicodeEncodeError):
        # UnicodeEncodeError: a lone surrogate, for which rfc8785 raises its own error.
        data = plain(value)
        _omit(data, omit)
        return canonical_json(data)


def ir_digest(value: object, *, omit: tuple[str, ...] = ()) -> str:
    """Hex sha256 of `ir_json(value, omit=omit)`: the digest `hashing.digest_json` gives."""
    return sha256_hex(ir_json(value, omit=omit))


class _OutsideDomain(Exception):
    """A value `json.dumps` might not write as JCS does."""


def _omit(data: object, keys: tuple[str, ...]) -> None:
    if keys and isinstance(data, dict):
        for key in keys:
            data.pop(key, None)


def _json_value(value: object) -> object:
    """`plain(value)` in one pass, raising `_OutsideDomain` at anything but the IR's
    JSON domain: exact str, bool, None, int within JCS's range, tuples, lists, dicts
    with ASCII string keys, dataclasses of those."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if _JCS_INT_MIN <= value <= _JCS_INT_MAX:  # type: ignore[operator]
            return value
        raise _OutsideDomain
    if kind is tuple or kind is list:
        return [_json_value(item) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        out = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str or not key.isascii():
                raise _OutsideDomain
            out[key] = _json_value(item)
        return out
    names = _FIELD_NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(value):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
    if names is None or not all(name.isascii() for name in names):
        raise _OutsideDomain
    return {name: _json_value(getattr(value, name)) for name in names}
