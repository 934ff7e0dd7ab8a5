"""The typed policy model: what the ontology says, free of rdflib objects.

`extract.py` builds an `Ontology` from a validated graph. Every collection is a
tuple sorted by a plain string key (never by a blank-node label or by graph
iteration order), so everything downstream is deterministic by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, get_args

# The vocabulary (SPEC §3). Each is named once, here, as a type; the tuples
# below are derived from the types, so a check and a type cannot disagree.
Datatype = Literal["decimal", "integer", "string", "boolean", "authority"]
DecisionKind = Literal["approval", "segregation", "condition"]
ActionKind = Literal["notification", "audit_log"]
ControlKind = Literal[DecisionKind, ActionKind]
Party = Literal["initiator", "approver", "executor"]
Outcome = Literal["APPROVE", "REJECT", "REVIEW"]
Effect = Literal["REJECT", "REVIEW"]

DATATYPES: Final[tuple[Datatype, ...]] = get_args(Datatype)
CONTROL_KINDS: Final[tuple[ControlKind, ...]] = get_args(ControlKind)
PARTIES: Final[tuple[Party, ...]] = get_args(Party)
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)
EFFECTS: Final[tuple[Effect, ...]] = get_args(Effect)
DECISION_KINDS: frozenset[str] = frozenset(get_args(DecisionKind))
ACTION_KINDS: frozenset[str] = frozenset(get_args(ActionKind))


@dataclass(frozen=True)
class FieldDef:
    """A field of a transaction type: a dotted path into transaction JSON.

    `pattern` (`mu:pattern`) is a regular expression the whole value must
    match; `allowed_values` (`mu:allowedValue`) are the values it may take,
    each in its canonical lexical form (`lexical_value`), sorted and
    de-duplicated; none means any value of the datatype.
    """

    path: str
    datatype: Datatype
    required: bool
    pattern: str | None = None
    allowed_values: tuple[str, ...] = ()

    @property
    def is_party_id(self) -> bool:
        """Whether the field is compared in the party-id normal form (SPEC §3).

        A string field whose dotted path ends in `.id` (`approver.id`,
        `employee.id`); the top-level `id` is the transaction's own id, not a
        party.
        """
        return self.datatype == "string" and is_party_id_path(self.path)


def is_party_id_path(path: str) -> bool:
    """Whether `path` names a party id: a dotted path whose last segment is `id`."""
    return path.endswith(".id")


def lexical_value(datatype: str, value: object) -> str:
    """The canonical lexical form of an allowed value of a field of `datatype`.

    `true`/`false` for booleans, decimal digits for integers, plain decimal
    notation for decimals (`str(Decimal)` without ever an exponent; `1.50`
    stays `1.50`: it equals `1.5` as a value, which is how the runtime
    compares decimals), the text itself for strings and authority codes.
    Raises `ValueError` for a value that does not fit the datatype.
    """
    if datatype == "boolean" and type(value) is bool:
        return "true" if value else "false"
    if datatype == "integer" and type(value) is int:
        return str(value)
    if datatype == "decimal" and isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    if datatype in ("string", "authority") and type(value) is str:
        return value
    raise ValueError(f"`{value}` is not a value of a {datatype} field")


# Every transaction carries these without declaring them (SPEC §3).
CORE_FIELDS: tuple[FieldDef, ...] = (
    FieldDef("id", "string", True),
    FieldDef("type", "string", True),
    FieldDef("amount", "decimal", True),
    FieldDef("currency", "string", True),
    FieldDef("initiator.id", "string", True),
    FieldDef("approver.id", "string", True),
    FieldDef("approver.authority", "authority", True),
    FieldDef("executor.id", "string", True),
)


@dataclass(frozen=True)
class TransactionType:
    """A `mu:TransactionType`; `fields` are the declared ones, sorted by path."""

    iri: str
    type_id: str
    label: str
    fields: tuple[FieldDef, ...]


@dataclass(frozen=True)
class AuthorityLevel:
    """A `mu:AuthorityLevel`; higher rank is more senior."""

    iri: str
    code: str
    rank: int
    label: str


@dataclass(frozen=True)
class Role:
    """A `mu:Role`; the type ids it may initiate, approve and execute (sorted)."""

    iri: str
    label: str
    may_initiate: tuple[str, ...]
    may_approve: tuple[str, ...]
    may_execute: tuple[str, ...]


@dataclass(frozen=True)
class Control:
    """A `mu:Control` of any kind; fields that do not apply to a kind are empty.

    References to other nodes are resolved to their plain identifiers:
    `applies_to` holds type ids, `depends_on` control ids and
    `required_authority` an authority code, each sorted.
    """

    iri: str
    control_id: str
    kind: ControlKind
    label: str
    owner: str
    applies_to: tuple[str, ...]
    when: str | None = None
    depends_on: tuple[str, ...] = ()
    amount_threshold: Decimal | None = None
    currency: str | None = None
    required_authority: str | None = None
    separates: tuple[Party, ...] = ()
    effect: Effect | None = None
    message: str | None = None
    recipients: tuple[str, ...] = ()
    on_outcome: tuple[Outcome, ...] = ()
    ledger: str | None = None


@dataclass(frozen=True)
class Ontology:
    """O as a typed model: every collection sorted by its plain identifier."""

    transaction_types: tuple[TransactionType, ...]
    authority_levels: tuple[AuthorityLevel, ...]
    roles: tuple[Role, ...]
    controls: tuple[Control, ...]

    def type_by_id(self, type_id: str) -> TransactionType | None:
        """The transaction type with this `mu:typeId`, if any."""
        for t in self.transaction_types:
            if t.type_id == type_id:
                return t
        return None
