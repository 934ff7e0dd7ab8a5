"""Reading a transaction against the schema: the field checks of every type.

`FieldChecker` compiles, once, how each field of each transaction type is read
(its dotted path split, the inline check that fits its datatype, its declared
pattern and allowed values) and then checks a transaction's fields against
them, collecting every problem. Party ids are held in their normal form
(`party_id`), so look-alikes are the same person to every control.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from .decision import _ABSENT, DATATYPES, EnforcementError, FieldProblem, _kind_of
from .values import full_match, party_id

# Plain decimal notation only: no exponent, no sign other than a leading minus,
# no spaces, no NaN/Infinity. `[0-9]` with re.ASCII keeps out other digit scripts.
_DECIMAL_RE: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
_EMPTY_PARTY: Final[str] = (
    "a party id must not be empty; white space and invisible characters do not count"
)

# What the schema module declares: a type's fields as (path, datatype, required),
# and its restrictions as (path, pattern or None, allowed values as text).
SchemaRow = tuple[str, str, bool]
RestrictionRow = tuple[str, "str | None", Sequence[str]]

# How a field's raw value is checked on the fast path (`FieldCheck.fast`).
_STRING, _PARTY, _DECIMAL, _AUTHORITY, _INTEGER, _BOOLEAN, _SLOW = range(7)
_FAST: Final[dict[str, int]] = {
    "string": _STRING,
    "decimal": _DECIMAL,
    "authority": _AUTHORITY,
    "integer": _INTEGER,
    "boolean": _BOOLEAN,
}


@dataclass(frozen=True)
class FieldCheck:
    """How one field is read and checked.

    `party` marks a party id, compared in its normal form (SPEC §3);
    `pattern` and `allowed` are the field's declared restrictions, applied to
    the typed (and, for party ids, normalised) value. `first`/`rest` split the
    dotted path, and `fast` says which inline check fits the field (`_SLOW`
    when it has restrictions: then `Engine._store` checks it).
    """

    path: str
    parts: tuple[str, ...]
    datatype: str
    required: bool
    party: bool = False
    pattern: re.Pattern[str] | None = None
    allowed: frozenset[object] | None = None
    allowed_text: tuple[str, ...] = ()

    # Derived, so that the loop over fields reads attributes instead of computing.
    first: str = field(init=False)
    second: str | None = field(init=False)
    fast: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "first", self.parts[0])
        # Two segments (`approver.id`) are the common case, read inline.
        object.__setattr__(self, "second", self.parts[1] if len(self.parts) == 2 else None)
        restricted = self.pattern is not None or self.allowed is not None
        fast = _SLOW if restricted else _PARTY if self.party else _FAST[self.datatype]
        object.__setattr__(self, "fast", fast)


# One field as the validation loop unpacks it: path, first segment, second
# segment or None, inline check, required, and the check itself for `_store`.
FieldRow = tuple[str, str, "str | None", int, bool, FieldCheck]


@dataclass(frozen=True)
class FieldRows:
    """The fields of a type as the validation loop reads them.

    `rows` are the fields one or two segments deep, as plain tuples (unpacking
    a tuple is cheaper than reading attributes); `deep` are the deeper ones,
    checked the general way; `position` is each path's place in the schema,
    the order problems are reported in.
    """

    rows: tuple[FieldRow, ...]
    deep: tuple[FieldCheck, ...]
    position: Mapping[str, int]


def field_rows(checks: Sequence[FieldCheck]) -> FieldRows:
    """The rows of `checks`, without `type` (which validation reads first)."""
    rows: list[FieldRow] = []
    deep: list[FieldCheck] = []
    for c in checks:
        if c.path == "type":
            continue
        if len(c.parts) > 2:
            deep.append(c)
        else:
            rows.append((c.path, c.first, c.second, c.fast, c.required, c))
    return FieldRows(tuple(rows), tuple(deep), {c.path: i for i, c in enumerate(checks)})


class FieldChecker:
    """The field checks of every transaction type of a schema.

    Construction raises `EnforcementError` for a schema the runtime cannot
    check (an unknown datatype, a restriction of an unknown type or field, a
    broken pattern).
    """

    def __init__(
        self,
        types: Mapping[str, Sequence[SchemaRow]],
        authorities: Mapping[str, int],
        restrictions: Mapping[str, Sequence[RestrictionRow]] | None = None,
    ) -> None:
        self.authorities: Mapping[str, int] = authorities
        restrictions = restrictions or {}
        unknown = sorted(set(restrictions) - set(types))
        if unknown:
            raise EnforcementError(f"restrictions name unknown type `{unknown[0]}`")
        self.checks: dict[str, tuple[FieldCheck, ...]] = {
            type_id: _field_checks(fields, restrictions.get(type_id, ()), type_id)
            for type_id, fields in types.items()
        }
        self.rows: dict[str, FieldRows] = {
            type_id: field_rows(checks) for type_id, checks in self.checks.items()
        }
        # Without a known type, the fields every type shares (the core fields)
        # are still checked, so the sender learns all problems at once.
        self.common: FieldRows = field_rows(_common_checks(list(self.checks.values())))

    def check_fields(
        self,
        transaction: Mapping[str, object],
        fields: FieldRows,
        values: dict[str, object],
        problems: list[FieldProblem],
    ) -> None:
        """Read and type every field into `values`; append what is wrong, in schema order.

        The common cases are checked inline over plain tuples (this loop runs
        for every field of every decision); anything unusual goes to `_slow`,
        which says why.
        """
        authorities = self.authorities
        get = transaction.get
        first_problem = len(problems)
        for path, first, second, fast, required, check in fields.rows:
            raw = get(first, _ABSENT)
            if second is not None and raw is not _ABSENT and raw is not None:
                if type(raw) is not dict:
                    self._slow(transaction, check, values, problems)
                    continue
                raw = raw.get(second, _ABSENT)
            if raw is _ABSENT or raw is None:
                if required:
                    problems.append(FieldProblem(path, "required field is missing"))
                continue
            if type(raw) is str:
                if fast == _STRING or (fast == _AUTHORITY and raw in authorities):
                    values[path] = raw
                    continue
                if fast == _PARTY and raw.isascii():
                    # party_id() of an ASCII id, inline; an empty one is refused.
                    party = raw.lower().strip()
                    if party:
                        values[path] = party
                    else:
                        problems.append(FieldProblem(path, _EMPTY_PARTY))
                    continue
                if fast == _DECIMAL and _DECIMAL_RE.fullmatch(raw):
                    number = Decimal(raw)
                    if number < 0 and path == "amount":
                        problems.append(
                            FieldProblem(path, f"amount must not be negative, got `{number}`")
                        )
                    else:
                        values[path] = number
                    continue
            elif (fast == _INTEGER and type(raw) is int) or (
                fast == _BOOLEAN and type(raw) is bool
            ):
                values[path] = raw
                continue
            problem = self._store(check, raw, values)
            if problem is not None:
                problems.append(FieldProblem(path, problem))
        for check in fields.deep:
            self._slow(transaction, check, values, problems)
        if fields.deep and len(problems) > first_problem:
            # Deep paths were checked last; report every problem in schema order.
            position = fields.position
            problems[first_problem:] = sorted(
                problems[first_problem:], key=lambda p: position.get(p.field, -1)
            )

    def storer(self, type_id: str) -> Callable[[str, object, dict[str, object]], bool]:
        """`store(path, raw, values)` for the quick path of `type_id` (schema.py's
        `QUICK`): checks one field of the type the careful way; True if it passed."""
        checks = {c.path: c for c in self.checks[type_id]}

        def store(path: str, raw: object, values: dict[str, object]) -> bool:
            check = checks.get(path)
            return check is not None and self._store(check, raw, values) is None

        return store

    def _slow(
        self,
        transaction: Mapping[str, object],
        check: FieldCheck,
        values: dict[str, object],
        problems: list[FieldProblem],
    ) -> None:
        """Check one field the general way: any depth, any mapping type."""
        try:
            raw = _read(transaction, check)
        except _NotAnObject as exc:
            problems.append(FieldProblem(check.path, str(exc)))
            return
        if raw is _ABSENT:
            if check.required:
                problems.append(FieldProblem(check.path, "required field is missing"))
            return
        problem = self._store(check, raw, values)
        if problem is not None:
            problems.append(FieldProblem(check.path, problem))

    def _store(self, check: FieldCheck, raw: object, values: dict[str, object]) -> str | None:
        """Type `raw` into `values[check.path]`; or return what is wrong with it."""
        datatype = check.datatype
        value: object
        if datatype == "string":
            if not isinstance(raw, str):
                return f"expected a string, got {_kind_of(raw)}"
            value = raw
            if check.party:
                value = party_id(raw)
                if not value:
                    return _EMPTY_PARTY
        elif datatype == "decimal":
            value, problem = _decimal(check.path, raw)
            if problem is not None:
                return problem
        elif datatype == "authority":
            if not isinstance(raw, str) or raw not in self.authorities:
                known = ", ".join(f"`{code}`" for code in self.authorities) or "none"
                if not isinstance(raw, str):
                    return f"expected an authority code (one of {known}), got {_kind_of(raw)}"
                return f"unknown authority code `{raw}`; known codes: {known}"
            value = raw
        elif datatype == "integer":
            # bool is an int subclass in Python but not a number in JSON.
            if not isinstance(raw, int) or isinstance(raw, bool):
                return f"expected an integer, got {_kind_of(raw)}"
            value = raw
        else:  # boolean
            if not isinstance(raw, bool):
                return f"expected true or false, got {_kind_of(raw)}"
            value = raw
        # The messages show the value as sent (`raw`), which for a party id
        # may differ from the normal form that was checked.
        if check.pattern is not None and not full_match(check.pattern, str(value)):
            return (
                f"{_kind_of(raw)} does not match the declared pattern `{check.pattern.pattern}`; "
                "send the value exactly in the declared form (no look-alike letters, "
                "invisible characters or surrounding spaces)"
            )
        if check.allowed is not None and value not in check.allowed:
            return f"{_kind_of(raw)} is not an allowed value; allowed: " + ", ".join(
                f"`{text}`" for text in check.allowed_text
            )
        values[check.path] = value
        return None


def _field_checks(
    fields: Sequence[SchemaRow], restrictions: Sequence[RestrictionRow], type_id: str
) -> tuple[FieldCheck, ...]:
    declared: dict[str, RestrictionRow] = {}
    for row in restrictions:
        declared[row[0]] = row
    checks: list[FieldCheck] = []
    for path, datatype, required in fields:
        if datatype not in DATATYPES:
            raise EnforcementError(f"field `{path}` has unknown datatype `{datatype}`")
        # Party ids (`initiator.id`, `beneficiary.id`; not the transaction's own
        # `id`) are compared in normal form, so look-alikes are the same person.
        party = datatype == "string" and path.endswith(".id")
        check = FieldCheck(path, tuple(path.split(".")), datatype, required, party)
        restriction = declared.pop(path) if path in declared else None
        if restriction is not None:
            check = _restricted(check, restriction[1], tuple(restriction[2]), type_id)
        checks.append(check)
    if declared:
        raise EnforcementError(
            f"transaction type `{type_id}` restricts unknown field(s) "
            + ", ".join(f"`{p}`" for p in sorted(declared))
        )
    return tuple(checks)


def _restricted(
    check: FieldCheck, pattern: str | None, allowed: tuple[str, ...], type_id: str
) -> FieldCheck:
    """`check` with its declared pattern compiled and allowed values typed."""
    compiled = None
    if pattern is not None:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise EnforcementError(
                f"transaction type `{type_id}`: the pattern of `{check.path}` is broken: {exc}"
            ) from None
    typed: set[object] = set()
    for text in allowed:
        value: object
        if check.datatype == "decimal":
            value = Decimal(text)
        elif check.datatype == "integer":
            value = int(text)
        elif check.datatype == "boolean":
            value = text == "true"
        else:
            value = party_id(text) if check.party else text
        typed.add(value)
    return FieldCheck(
        check.path,
        check.parts,
        check.datatype,
        check.required,
        check.party,
        compiled,
        frozenset(typed) if allowed else None,
        allowed,
    )


def _common_checks(per_type: list[tuple[FieldCheck, ...]]) -> tuple[FieldCheck, ...]:
    """The checks every type has alike (unrestricted), for a transaction of unknown type."""
    if not per_type:
        return ()
    first, *rest = per_type
    return tuple(
        c
        for c in first
        if c.pattern is None and c.allowed is None and all(c in other for other in rest)
    )


def _type_problem(type_id: object, known_types: Iterable[str]) -> FieldProblem:
    """The problem with a transaction's `type` that names no known type."""
    if type_id is _ABSENT or type_id is None:
        return FieldProblem("type", "required field is missing")
    if not isinstance(type_id, str):
        return FieldProblem("type", f"expected a string, got {_kind_of(type_id)}")
    known = ", ".join(f"`{t}`" for t in sorted(known_types)) or "none"
    return FieldProblem("type", f"unknown transaction type `{type_id}`; known types: {known}")


def plain_decimal(raw: object) -> Decimal | None:
    """`raw` as a Decimal if it is a string in plain decimal notation, else None."""
    if type(raw) is str and _DECIMAL_RE.fullmatch(raw):
        return Decimal(raw)
    return None


def _decimal(path: str, raw: object) -> tuple[object, str | None]:
    """A Decimal from a plain decimal string or an int; floats are refused."""
    example = 'such as "105000.00"'
    value: Decimal
    if isinstance(raw, bool):
        return None, f"expected a decimal string {example}, got {_kind_of(raw)}"
    if isinstance(raw, float):
        # A float has already lost exactness; only the sender can fix that.
        return None, (
            f"got the number {raw!r}; floats are not accepted for money: "
            f"send the amount as a string {example}"
        )
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, Decimal) and raw.is_finite():
        # Python callers may already hold a Decimal; it is exact, so accept it.
        value = raw
    elif isinstance(raw, str) and _DECIMAL_RE.fullmatch(raw):
        value = Decimal(raw)
    else:
        return None, f"expected a decimal string in plain notation {example}, got {_kind_of(raw)}"
    if path == "amount" and value < 0:
        return None, f"amount must not be negative, got `{value}`"
    return value, None


class _NotAnObject(Exception):
    """A dotted path meets a value that is not an object; the message says where."""


def _read(transaction: Mapping[str, object], check: FieldCheck) -> object:
    """The raw value at the field's path, or `_ABSENT` if it or a parent is absent or null."""
    current: object = transaction
    for index, part in enumerate(check.parts):
        if current is None:
            return _ABSENT  # a null parent carries no children
        if type(current) is not dict and not isinstance(current, Mapping):
            raise _NotAnObject(
                f"expected an object at `{'.'.join(check.parts[:index])}`, got {_kind_of(current)}"
            )
        current = current.get(part, _ABSENT)
        if current is _ABSENT:
            return _ABSENT
    return _ABSENT if current is None else current
