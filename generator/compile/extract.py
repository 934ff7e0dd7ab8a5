"""Stage 3, extract: a validated graph → the typed `model.Ontology`.

Runs only after O ⊨ Σ, so cardinalities and datatypes hold; lookups still fail
with a clear error rather than a traceback if they do not. Every node is
identified by its plain identifier (`mu:typeId`, `mu:controlId`, `mu:code`)
and every collection is sorted by it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TypeVar, cast

import rdflib
from rdflib.namespace import RDF, RDFS, XSD
from rdflib.term import Node

from mu.generator.compile.model import (
    AuthorityLevel,
    Control,
    ControlKind,
    Datatype,
    Effect,
    FieldDef,
    Ontology,
    Outcome,
    Party,
    Role,
    TransactionType,
    is_party_id_path,
    lexical_value,
)
from mu.generator.compile.runtime.values import party_id
from mu.generator.compile.validate import MU
from mu.generator.errors import CheckFailed

KIND_OF_CLASS: dict[rdflib.URIRef, ControlKind] = {
    MU.ApprovalRule: "approval",
    MU.SegregationOfDutyRule: "segregation",
    MU.ConditionRule: "condition",
    MU.NotificationRule: "notification",
    MU.AuditLogRule: "audit_log",
}
DATATYPES: dict[rdflib.URIRef, Datatype] = {
    XSD.decimal: "decimal",
    XSD.integer: "integer",
    XSD.string: "string",
    XSD.boolean: "boolean",
    MU.AuthorityLevel: "authority",
}
PARTIES: dict[rdflib.URIRef, Party] = {
    MU.Initiator: "initiator",
    MU.Approver: "approver",
    MU.Executor: "executor",
}
EFFECTS: dict[rdflib.URIRef, Effect] = {MU.Reject: "REJECT", MU.Review: "REVIEW"}
T = TypeVar("T", bound=str)

OUTCOMES: dict[rdflib.URIRef, Outcome] = {
    MU.Approve: "APPROVE",
    MU.Reject: "REJECT",
    MU.Review: "REVIEW",
}


class _T:
    """The terms extract reads, each made once: an attribute of an rdflib `Namespace`
    builds a new `URIRef` on every access, a real cost over 10,000 controls."""

    AuthorityLevel = MU.AuthorityLevel
    Role = MU.Role
    TransactionType = MU.TransactionType
    allowed_value = MU.allowedValue
    amount_threshold = MU.amountThreshold
    applies_to = MU.appliesTo
    code = MU.code
    control_id = MU.controlId
    currency = MU.currency
    datatype = MU.datatype
    depends_on = MU.dependsOn
    effect = MU.effect
    has_field = MU.hasField
    ledger = MU.ledger
    may_approve = MU.mayApprove
    may_execute = MU.mayExecute
    may_initiate = MU.mayInitiate
    message = MU.message
    on_outcome = MU.onOutcome
    owner = MU.owner
    path = MU.path
    pattern = MU.pattern
    rank = MU.rank
    recipient = MU.recipient
    required = MU.required
    required_authority = MU.requiredAuthority
    separates = MU.separates
    type_id = MU.typeId
    when = MU.when
    label = RDFS.label


_RDF_TYPE = RDF.type


class _Reader:
    """Typed single-value and multi-value reads with a clear error on a gap.

    The graph is read once, in one pass over its triples, into an index of
    subject → predicate → objects; every read after that is a dict lookup.
    (Asking rdflib per control and property was most of the stage.) The reads
    answer exactly what `graph.objects(node, prop)` and
    `graph.subjects(RDF.type, cls)` would: rdflib yields each triple of a
    graph once, so the index holds no value twice.
    """

    def __init__(self, graph: rdflib.Graph) -> None:
        index: dict[Node, dict[Node, list[Node]]] = {}
        for s, p, o in graph.triples((None, None, None)):
            by_prop = index.get(s)
            if by_prop is None:
                by_prop = index[s] = {}
            values = by_prop.get(p)
            if values is None:
                by_prop[p] = [o]
            else:
                values.append(o)
        typed: dict[Node, list[Node]] = {}
        for s, by_prop in index.items():
            for cls in by_prop.get(_RDF_TYPE, ()):
                typed.setdefault(cls, []).append(s)
        self._index = index
        self._typed = typed
        # The properties of the node read last: extract reads one node's
        # properties in a row, and an rdflib term hashes in Python, slowly.
        self._node: Node | None = None
        self._props: dict[Node, list[Node]] = {}

    def _objects(self, node: Node, prop: rdflib.URIRef) -> list[Node]:
        """The objects of `prop` on `node` (the index's own list: never modified)."""
        if node is not self._node:
            self._node, self._props = node, self._index.get(node, {})
        return self._props.get(prop, [])

    def instances(self, cls: rdflib.URIRef) -> list[Node]:
        """Every subject typed `cls` (`rdf:type`), in no particular order: callers sort."""
        return list(self._typed.get(cls, ()))

    def one(self, node: Node, prop: rdflib.URIRef) -> Node:
        """The single value of `prop` on `node`; anything else is a clear error."""
        values = self._objects(node, prop)
        if len(values) != 1:
            raise CheckFailed(
                f"`{node}` needs exactly one `{prop}`, found {len(values)}",
                hint="run `mu validate` for the full list of violations",
            )
        return values[0]

    def opt(self, node: Node, prop: rdflib.URIRef) -> Node | None:
        """The value of an optional `prop` (the smallest if several), or None."""
        values = self._objects(node, prop)
        if len(values) < 2:
            return values[0] if values else None
        return sorted(values, key=str)[0]

    def text(self, node: Node, prop: rdflib.URIRef) -> str:
        """The single value of `prop` as a string."""
        return str(self.one(node, prop))

    def opt_text(self, node: Node, prop: rdflib.URIRef) -> str | None:
        """The optional value of `prop` as a string, or None."""
        value = self.opt(node, prop)
        return None if value is None else str(value)

    def all(self, node: Node, prop: rdflib.URIRef) -> list[Node]:
        """Every value of `prop`, sorted so graph order never leaks out."""
        return sorted(self._objects(node, prop), key=str)


def _ids(r: _Reader, nodes: list[Node], prop: rdflib.URIRef) -> tuple[str, ...]:
    return tuple(sorted(r.text(n, prop) for n in nodes))


def _mapped(table: dict[rdflib.URIRef, T], nodes: list[Node]) -> tuple[T, ...]:
    out = []
    for node in nodes:
        if node not in table:
            raise CheckFailed(f"unexpected value `{node}`", hint="run `mu validate`")
        out.append(table[cast(rdflib.URIRef, node)])
    return tuple(sorted(set(out)))


def _transaction_types(r: _Reader) -> tuple[TransactionType, ...]:
    types = []
    for node in r.instances(_T.TransactionType):
        fields = []
        for field in r.all(node, _T.has_field):
            datatype = r.one(field, _T.datatype)
            if datatype not in DATATYPES:
                raise CheckFailed(f"unknown field datatype `{datatype}`", hint="run `mu validate`")
            required = r.one(field, _T.required)
            path = r.text(field, _T.path)
            kind = DATATYPES[cast(rdflib.URIRef, datatype)]
            fields.append(
                FieldDef(
                    path=path,
                    datatype=kind,
                    required=bool(cast(rdflib.Literal, required).toPython()),
                    pattern=r.opt_text(field, _T.pattern),
                    allowed_values=_allowed_values(path, kind, r.all(field, _T.allowed_value)),
                )
            )
        types.append(
            TransactionType(
                iri=str(node),
                type_id=r.text(node, _T.type_id),
                label=r.text(node, _T.label),
                fields=tuple(sorted(fields, key=lambda f: f.path)),
            )
        )
    return tuple(sorted(types, key=lambda t: t.type_id))


def _allowed_values(
    path: str, datatype: Datatype, nodes: list[Node]
) -> tuple[str, ...]:
    """The `mu:allowedValue`s of a field as canonical lexical forms, sorted and de-duplicated.

    A party id's values are kept in the normal form the runtime compares ids
    in, so `"Alice"` allows the id `alice` (SPEC §3).
    """
    values: set[str] = set()
    for node in nodes:
        value = node.toPython() if isinstance(node, rdflib.Literal) else node
        if isinstance(value, rdflib.Literal) or (
            isinstance(node, rdflib.Literal) and getattr(node, "ill_typed", False)
        ):
            # rdflib hands back the Literal itself when the lexical form does
            # not fit the datatype; SHACL reported it, so this is a stop.
            value = None
        try:
            text = lexical_value(datatype, value)
        except ValueError:
            raise CheckFailed(
                f"`{node}` is not an allowed value of the {datatype} field `{path}`",
                hint="run `mu validate` for the full list of violations",
            ) from None
        values.add(party_id(text) if is_party_id_path(path) and datatype == "string" else text)
    return tuple(sorted(values))


def _authority_levels(r: _Reader) -> tuple[AuthorityLevel, ...]:
    levels = [
        AuthorityLevel(
            iri=str(node),
            code=r.text(node, _T.code),
            rank=int(cast(rdflib.Literal, r.one(node, _T.rank)).toPython()),
            label=r.text(node, _T.label),
        )
        for node in r.instances(_T.AuthorityLevel)
    ]
    return tuple(sorted(levels, key=lambda a: (a.rank, a.code)))


def _roles(r: _Reader) -> tuple[Role, ...]:
    roles = [
        Role(
            iri=str(node),
            label=r.opt_text(node, _T.label) or str(node),
            may_initiate=_ids(r, r.all(node, _T.may_initiate), _T.type_id),
            may_approve=_ids(r, r.all(node, _T.may_approve), _T.type_id),
            may_execute=_ids(r, r.all(node, _T.may_execute), _T.type_id),
        )
        for node in r.instances(_T.Role)
    ]
    return tuple(sorted(roles, key=lambda x: (x.iri, x.label)))


def _decimal(node: Node) -> Decimal:
    try:
        return Decimal(str(node))
    except InvalidOperation as exc:
        raise CheckFailed(f"`{node}` is not a decimal", hint="write e.g. `100000.00`") from exc


def _control(r: _Reader, node: Node, kind: ControlKind) -> Control:
    threshold = r.opt(node, _T.amount_threshold)
    authority = r.opt(node, _T.required_authority)
    effect = r.opt(node, _T.effect)
    return Control(
        iri=str(node),
        control_id=r.text(node, _T.control_id),
        kind=kind,
        label=r.text(node, _T.label),
        owner=r.text(node, _T.owner),
        applies_to=_ids(r, r.all(node, _T.applies_to), _T.type_id),
        when=r.opt_text(node, _T.when),
        depends_on=_ids(r, r.all(node, _T.depends_on), _T.control_id),
        amount_threshold=None if threshold is None else _decimal(threshold),
        currency=r.opt_text(node, _T.currency),
        required_authority=None if authority is None else r.text(authority, _T.code),
        separates=_mapped(PARTIES, r.all(node, _T.separates)),
        effect=None if effect is None else _mapped(EFFECTS, [effect])[0],
        message=r.opt_text(node, _T.message),
        recipients=tuple(sorted(str(v) for v in r.all(node, _T.recipient))),
        on_outcome=_mapped(OUTCOMES, r.all(node, _T.on_outcome)),
        ledger=r.opt_text(node, _T.ledger),
    )


def _controls(r: _Reader) -> tuple[Control, ...]:
    controls = []
    for cls, kind in sorted(KIND_OF_CLASS.items()):
        for node in r.instances(cls):
            controls.append(_control(r, node, kind))
    return tuple(sorted(controls, key=lambda c: c.control_id))


def extract_ontology(graph: rdflib.Graph) -> Ontology:
    """Read the typed model out of a graph that conforms to the core shapes."""
    r = _Reader(graph)
    return Ontology(
        transaction_types=_transaction_types(r),
        authority_levels=_authority_levels(r),
        roles=_roles(r),
        controls=_controls(r),
    )
