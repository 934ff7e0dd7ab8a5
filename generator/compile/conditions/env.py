"""What a condition may refer to: typed field paths and authority codes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..model import DATATYPES, FieldDef


@dataclass(frozen=True)
class TypeEnv:
    """The names a condition is checked against.

    `fields` maps a dotted path to its datatype (`decimal`, `integer`,
    `string`, `boolean` or `authority`); `authority_codes` holds every known
    authority code such as `L4` or `CFO`.
    """

    fields: Mapping[str, str]
    authority_codes: frozenset[str]

    def __post_init__(self) -> None:
        # Fail at construction, not with a KeyError deep inside the checker.
        unknown = sorted(t for t in set(self.fields.values()) if t not in DATATYPES)
        if unknown:
            raise ValueError(f"unknown field datatype(s): {', '.join(unknown)}")

    @classmethod
    def of(cls, fields: Iterable[FieldDef], authority_codes: Iterable[str]) -> TypeEnv:
        """Build an environment from model field definitions and authority codes."""
        return cls(
            fields={f.path: f.datatype for f in fields},
            authority_codes=frozenset(authority_codes),
        )

    def field_type(self, path: str) -> str | None:
        """The datatype of `path`, or None when it is not a known field."""
        return self.fields.get(path)
