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


class _Reader:
    """Typed single-value and multi-value reads with a clear error on a gap."""

    def __init__(self, graph: rdflib.Graph) -> None:
        self.g = graph

    def one(self, node: rdflib.term.Node, prop: rdflib.URIRef) -> rdflib.term.Node:
        """The single value of `prop` on `node`; anything else is a clear error."""
        values = sorted(self.g.objects(node, prop), key=str)
        if len(values) != 1:
            raise CheckFailed(
                f"`{node}` needs exactly one `{prop}`, found {len(values)}",
                hint="run `mu validate` for the full list of violations",
            )
        return values[0]

    def opt(self, node: rdflib.term.Node, prop: rdflib.URIRef) -> rdflib.term.Node | None:
        """The value of an optional `prop` (the smallest if several), or None."""
        values = sorted(self.g.objects(node, prop), key=str)
        return values[0] if values else None

    def text(self, node: rdflib.term.Node, prop: rdflib.URIRef) -> str:
        """The single value of `prop` as a string."""
        return str(self.one(node, prop))

    def opt_text(self, node: rdflib.term.Node, prop: rdflib.URIRef) -> str | None:
        """The optional value of `prop` as a string, or None."""
        value = self.opt(node, prop)
        return None if value is None else str(value)

    def all(self, node: rdflib.term.Node, prop: rdflib.URIRef) -> list[rdflib.term.Node]:
        """Every value of `prop`, sorted so graph order never leaks out."""
        return sorted(self.g.objects(node, prop), key=str)


def _ids(r: _Reader, nodes: list[rdflib.term.Node], prop: rdflib.URIRef) -> tuple[str, ...]:
    return tuple(sorted(r.text(n, prop) for n in nodes))


def _mapped(table: dict[rdflib.URIRef, T], nodes: list[rdflib.term.Node]) -> tuple[T, ...]:
    out = []
    for node in nodes:
        if node not in table:
            raise CheckFailed(f"unexpected value `{node}`", hint="run `mu validate`")
        out.append(table[cast(rdflib.URIRef, node)])
    return tuple(sorted(set(out)))


def _transaction_types(r: _Reader) -> tuple[TransactionType, ...]:
    types = []
    for node in set(r.g.subjects(RDF.type, MU.TransactionType)):
        fields = []
        for field in r.all(node, MU.hasField):
            datatype = r.one(field, MU.datatype)
            if datatype not in DATATYPES:
                raise CheckFailed(f"unknown field datatype `{datatype}`", hint="run `mu validate`")
            required = r.one(field, MU.required)
            path = r.text(field, MU.path)
            kind = DATATYPES[cast(rdflib.URIRef, datatype)]
            fields.append(
                FieldDef(
                    path=path,
                    datatype=kind,
                    required=bool(cast(rdflib.Literal, required).toPython()),
                    pattern=r.opt_text(field, MU.pattern),
                    allowed_values=_allowed_values(path, kind, r.all(field, MU.allowedValue)),
                )
            )
        types.append(
            TransactionType(
                iri=str(node),
                type_id=r.text(node, MU.typeId),
                label=r.text(node, RDFS.label),
                fields=tuple(sorted(fields, key=lambda f: f.path)),
            )
        )
    return tuple(sorted(types, key=lambda t: t.type_id))


def _allowed_values(
    path: str, datatype: Datatype, nodes: list[rdflib.term.Node]
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
            code=r.text(node, MU.code),
            rank=int(cast(rdflib.Literal, r.one(node, MU.rank)).toPython()),
            label=r.text(node, RDFS.label),
        )
        for node in set(r.g.subjects(RDF.type, MU.AuthorityLevel))
    ]
    return tuple(sorted(levels, key=lambda a: (a.rank, a.code)))


def _roles(r: _Reader) -> tuple[Role, ...]:
    roles = [
        Role(
            iri=str(node),
            label=r.opt_text(node, RDFS.label) or str(node),
            may_initiate=_ids(r, r.all(node, MU.mayInitiate), MU.typeId),
            may_approve=_ids(r, r.all(node, MU.mayApprove), MU.typeId),
            may_execute=_ids(r, r.all(node, MU.mayExecute), MU.typeId),
        )
        for node in set(r.g.subjects(RDF.type, MU.Role))
    ]
    return tuple(sorted(roles, key=lambda x: (x.iri, x.label)))


def _decimal(node: rdflib.term.Node) -> Decimal:
    try:
        return Decimal(str(node))
    except InvalidOperation as exc:
        raise CheckFailed(f"`{node}` is not a decimal", hint="write e.g. `100000.00`") from exc


def _control(r: _Reader, node: rdflib.term.Node, kind: ControlKind) -> Control:
    threshold = r.opt(node, MU.amountThreshold)
    authority = r.opt(node, MU.requiredAuthority)
    effect = r.opt(node, MU.effect)
    return Control(
        iri=str(node),
        control_id=r.text(node, MU.controlId),
        kind=kind,
        label=r.text(node, RDFS.label),
        owner=r.text(node, MU.owner),
        applies_to=_ids(r, r.all(node, MU.appliesTo), MU.typeId),
        when=r.opt_text(node, MU.when),
        depends_on=_ids(r, r.all(node, MU.dependsOn), MU.controlId),
        amount_threshold=None if threshold is None else _decimal(threshold),
        currency=r.opt_text(node, MU.currency),
        required_authority=None if authority is None else r.text(authority, MU.code),
        separates=_mapped(PARTIES, r.all(node, MU.separates)),
        effect=None if effect is None else _mapped(EFFECTS, [effect])[0],
        message=r.opt_text(node, MU.message),
        recipients=tuple(sorted(str(v) for v in r.all(node, MU.recipient))),
        on_outcome=_mapped(OUTCOMES, r.all(node, MU.onOutcome)),
        ledger=r.opt_text(node, MU.ledger),
    )


def _controls(r: _Reader) -> tuple[Control, ...]:
    controls = []
    for cls, kind in sorted(KIND_OF_CLASS.items()):
        for node in set(r.g.subjects(RDF.type, cls)):
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
