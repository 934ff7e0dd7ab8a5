"""The plain, sorted intermediate representation the templates render.

Templates see only these frozen dataclasses of strings, ints, bools and
tuples: never rdflib or lark objects. User text stays data here; the templates
turn it into Python literals with the `py` filter (a `repr`-based literal
writer), and the only code strings (`ConditionIR.source`) are produced by the
condition compiler from a parsed, type-checked AST.
"""

from __future__ import annotations

from dataclasses import dataclass


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
