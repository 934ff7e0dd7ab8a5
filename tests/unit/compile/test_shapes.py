"""The mu: vocabulary, its core shapes and the organisation's invariants.

Validation runs exactly as the generator runs it: the ontology under test is the
data graph, generator/vocab/shapes.ttl plus ontology/shapes/*.ttl the shapes
graph, and generator/vocab/mu.ttl the ontology graph.

Each rule is broken on its own in a copy of tests/shape_fixtures/minimal.ttl
(a small conforming ontology); the test asserts the exact set of
(focus node, sh:sourceShape) pairs reported, so a defect is reported by the
shape that names it and by no other.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyshacl
import pytest
import rdflib
from rdflib import RDF, Namespace
from rdflib.namespace import SH

ROOT = Path(__file__).resolve().parents[3]
VOCAB = ROOT / "generator" / "compile" / "vocab" / "mu.ttl"
CORE_SHAPES = ROOT / "generator" / "compile" / "vocab" / "shapes.ttl"
ORG_SHAPES_DIR = ROOT / "ontology" / "shapes"
CONTROLS_DIR = ROOT / "ontology" / "controls"
FIXTURES = ROOT / "tests" / "shape_fixtures"

MU = Namespace("urn:mu:v1#")
EX = Namespace("https://acme.example/policy#")
PREFIXES = {"mu": str(MU), "ex": str(EX)}

MINIMAL = (FIXTURES / "minimal.ttl").read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _shapes_graph() -> rdflib.Graph:
    shapes = rdflib.Graph()
    shapes.parse(CORE_SHAPES)
    for p in sorted(ORG_SHAPES_DIR.glob("**/*.ttl")):
        shapes.parse(p)
    return shapes


SHAPES = _shapes_graph()
VOCAB_GRAPH = rdflib.Graph().parse(VOCAB)


def validate(data: rdflib.Graph) -> tuple[bool, rdflib.Graph, str]:
    """pyshacl exactly as the generator calls it."""
    return pyshacl.validate(
        data,
        shacl_graph=SHAPES,
        ont_graph=VOCAB_GRAPH,
        inference="none",
        advanced=True,
        allow_warnings=True,
    )


def short(term: rdflib.term.Node) -> str:
    """`ex:Foo` / `mu:Bar` for IRIs in the two namespaces, else the term as is."""
    text = str(term)
    for prefix, ns in PREFIXES.items():
        if isinstance(term, rdflib.URIRef) and text.startswith(ns):
            return f"{prefix}:{text[len(ns) :]}"
    return text


def results(report: rdflib.Graph) -> list[dict[str, str]]:
    """Every validation result as plain strings (focus, shape, value, message)."""
    out = []
    for r in report.subjects(RDF.type, SH.ValidationResult):
        out.append(
            {
                "focus": short(report.value(r, SH.focusNode)),
                "shape": short(report.value(r, SH.sourceShape)),
                "value": str(report.value(r, SH.value) or ""),
                "message": str(report.value(r, SH.resultMessage) or ""),
                "severity": short(report.value(r, SH.resultSeverity)),
            }
        )
    return out


def violations(turtle: str) -> set[tuple[str, str]]:
    """Validate a Turtle string; the set of (focus node, source shape) pairs."""
    data = rdflib.Graph().parse(data=turtle, format="turtle")
    conforms, report, text = validate(data)
    found = {(r["focus"], r["shape"]) for r in results(report)}
    assert conforms == (not found), text
    return found


def edit(*replacements: tuple[str, str], extra: str = "") -> str:
    """MINIMAL with each `old` (which must occur exactly once) replaced by `new`."""
    text = MINIMAL
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur once in minimal.ttl"
        text = text.replace(old, new)
    return text + extra


def audit_also(statements: str) -> tuple[str, str]:
    """An `edit` replacement that adds statements to ex:Audit (the last control)."""
    return ('mu:ledger "sox-ledger" .', f'mu:ledger "sox-ledger" ; {statements} .')


# --------------------------------------------------------------------------
# the example organisation and the fixture conform
# --------------------------------------------------------------------------


def test_example_organisation_conforms() -> None:
    data = rdflib.Graph()
    files = sorted(CONTROLS_DIR.glob("**/*.ttl"))
    assert files, "ontology/controls/ holds the example organisation"
    for p in files:
        data.parse(p, format="turtle")
    conforms, _report, text = validate(data)
    assert conforms, text


def test_minimal_fixture_conforms() -> None:
    assert violations(MINIMAL) == set()


def test_example_organisation_covers_the_brief() -> None:
    data = rdflib.Graph()
    for p in sorted(CONTROLS_DIR.glob("**/*.ttl")):
        data.parse(p, format="turtle")
    kinds = {
        MU.ApprovalRule,
        MU.SegregationOfDutyRule,
        MU.ConditionRule,
        MU.NotificationRule,
        MU.AuditLogRule,
    }
    controls = {s for k in kinds for s in data.subjects(RDF.type, k)}
    assert len(controls) >= 15
    assert {k for k in kinds if any(data.subjects(RDF.type, k))} == kinds
    ids = {str(data.value(c, MU.controlId)) for c in controls}
    assert "approval_over_100k" in ids
    type_ids = {str(o) for o in data.objects(None, MU.typeId)}
    assert {"vendor_payment", "wire_transfer", "expense_refund"} <= type_ids
    # wires have approval tiers in both USD and EUR
    wire = next(data.subjects(MU.typeId, rdflib.Literal("wire_transfer")))
    wire_currencies = {
        str(data.value(c, MU.currency))
        for c in data.subjects(MU.appliesTo, wire)
        if (c, RDF.type, MU.ApprovalRule) in data
    }
    assert {"USD", "EUR"} <= wire_currencies
    # every threshold is a decimal
    for t in data.objects(None, MU.amountThreshold):
        assert t.datatype == rdflib.XSD.decimal
    # every field a condition reads is required
    field_re = re.compile(r"\b([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+)\b")
    required = {
        (t, str(data.value(f, MU.path)))
        for t, f in data.subject_objects(MU.hasField)
        if data.value(f, MU.required).toPython() is True
    }
    for c, when in data.subject_objects(MU.when):
        for path in field_re.findall(str(when)):
            if path in {"approver.authority", "approver.id", "initiator.id", "executor.id"}:
                continue
            for t in data.objects(c, MU.appliesTo):
                assert (t, path) in required, f"{short(c)} reads optional/undeclared {path}"


# --------------------------------------------------------------------------
# every shape has an IRI and a lowercase message
# --------------------------------------------------------------------------


def test_every_shape_is_named_and_has_a_message() -> None:
    shapes = set(SHAPES.subjects(RDF.type, SH.NodeShape))
    shapes |= set(SHAPES.subjects(RDF.type, SH.PropertyShape))
    shapes |= set(SHAPES.objects(None, SH.property))
    shapes |= set(SHAPES.objects(None, SH.node))
    shapes |= set(SHAPES.objects(None, SH["not"]))
    shapes |= set(SHAPES.objects(None, SH.qualifiedValueShape))
    assert len(shapes) > 40
    for s in shapes:
        assert isinstance(s, rdflib.URIRef), f"blank-node shape {s}"
        messages = list(SHAPES.objects(s, SH.message))
        assert len(messages) == 1, f"{short(s)} needs exactly one sh:message"
        assert messages[0][:1].islower(), f"{short(s)}: message starts lowercase"


def test_vocabulary_terms_are_labelled_and_commented() -> None:
    terms = [
        "TransactionType", "Field", "AuthorityLevel", "Role", "Control",
        "ApprovalRule", "SegregationOfDutyRule", "ConditionRule",
        "NotificationRule", "AuditLogRule", "typeId", "hasField", "path",
        "datatype", "required", "code", "rank", "mayInitiate", "mayApprove",
        "mayExecute", "controlId", "appliesTo", "owner", "when", "dependsOn",
        "amountThreshold", "currency", "requiredAuthority", "separates", "effect",
        "message", "recipient", "onOutcome", "ledger", "Initiator", "Approver",
        "Executor", "Approve", "Reject", "Review", "Party", "Effect", "Outcome",
    ]  # fmt: skip
    for name in terms:
        term = MU[name]
        assert VOCAB_GRAPH.value(term, rdflib.RDFS.label), name
        assert VOCAB_GRAPH.value(term, rdflib.RDFS.comment), name
    for kind in ["ApprovalRule", "SegregationOfDutyRule", "ConditionRule",
                 "NotificationRule", "AuditLogRule"]:  # fmt: skip
        assert (MU[kind], rdflib.RDFS.subClassOf, MU.Control) in VOCAB_GRAPH
    for party in ["Initiator", "Approver", "Executor"]:
        assert (MU[party], RDF.type, MU.Party) in VOCAB_GRAPH
    for effect in ["Reject", "Review"]:
        assert (MU[effect], RDF.type, MU.Effect) in VOCAB_GRAPH
    for outcome in ["Approve", "Reject", "Review"]:
        assert (MU[outcome], RDF.type, MU.Outcome) in VOCAB_GRAPH


# --------------------------------------------------------------------------
# one broken rule at a time
# --------------------------------------------------------------------------

SECOND_APPROVAL = """
ex:Approval2 a mu:ApprovalRule ;
    mu:controlId "approval_over_1k" ;
    rdfs:label "a copy with the same id" ;
    mu:owner "finance" ;
    mu:appliesTo ex:Payment ;
    mu:amountThreshold 5000.00 ;
    mu:currency "USD" ;
    mu:requiredAuthority ex:L2 .
"""

# A second transaction type with a fraud check but no segregation of duties.
REFUND = """
ex:Refund a mu:TransactionType ; mu:typeId "refund" ; rdfs:label "refund" .
ex:RefundFraud a mu:ConditionRule ;
    mu:controlId "fraud_refund" ;
    rdfs:label "large refunds are reviewed" ;
    mu:owner "sanctions" ;
    mu:appliesTo ex:Refund ;
    mu:when "amount > 500.00" ;
    mu:effect mu:Review ;
    mu:message "large refund" .
"""

# A transaction type that no condition rule covers.
UNCHECKED_TYPE = REFUND.split("ex:RefundFraud")[0]

# A role that may approve and execute ex:Payment, whose approver and executor
# are separated by ex:Sod.
POWER_USER = """
ex:PowerUser a mu:Role ;
    rdfs:label "power user" ;
    mu:mayApprove ex:Payment ;
    mu:mayExecute ex:Payment .
"""

CASES: list[tuple[str, str, set[tuple[str, str]]]] = [
    # ---- transaction types
    (
        "type id with capitals",
        edit(('mu:typeId "payment"', 'mu:typeId "Payment"')),
        {("ex:Payment", "mu:TransactionType-typeId")},
    ),
    (
        "type without type id",
        edit(('mu:typeId "payment" ;', "")),
        {("ex:Payment", "mu:TransactionType-typeId")},
    ),
    (
        "duplicate type id",
        MINIMAL + REFUND.replace('mu:typeId "refund"', 'mu:typeId "payment"'),
        {("ex:Payment", "mu:UniqueTypeIdShape"), ("ex:Refund", "mu:UniqueTypeIdShape")},
    ),
    (
        "type without label",
        edit(('rdfs:label "payment" ;', "")),
        {("ex:Payment", "mu:TransactionType-label")},
    ),
    (
        "hasField value that is not a field",
        edit(("ex:Payment_country a mu:Field ;", "ex:Payment_country")),
        {("ex:Payment", "mu:TransactionType-hasField")},
    ),
    # ---- fields
    (
        "field with a bad datatype",
        edit(("mu:datatype xsd:string", "mu:datatype xsd:float")),
        {("ex:Payment_country", "mu:Field-datatype")},
    ),
    (
        "field without datatype",
        edit(("mu:datatype xsd:string ;", "")),
        {("ex:Payment_country", "mu:Field-datatype")},
    ),
    (
        "field path that is not a dotted identifier",
        edit(('mu:path "counterparty.country"', 'mu:path "counterparty..country"')),
        {("ex:Payment_country", "mu:Field-path")},
    ),
    (
        "field path starting with a digit",
        edit(('mu:path "counterparty.country"', 'mu:path "counterparty.1country"')),
        {("ex:Payment_country", "mu:Field-path")},
    ),
    (
        "declared core field",
        edit(('mu:path "counterparty.country"', 'mu:path "approver.authority"')),
        {("ex:Payment_country", "mu:Field-path-notCore")},
    ),
    (
        "field required is not a boolean",
        edit(("mu:required true", 'mu:required "yes"')),
        {("ex:Payment_country", "mu:Field-required")},
    ),
    (
        "same path twice in one type",
        edit(
            ("ex:Payment_country .", "ex:Payment_country , ex:Payment_c2 ."),
            extra='ex:Payment_c2 a mu:Field ; mu:path "counterparty.country" ;'
            " mu:datatype xsd:string ; mu:required false .\n",
        ),
        {("ex:Payment", "mu:UniqueFieldPathShape")},
    ),
    # ---- authority levels
    (
        "duplicate authority rank",
        edit(("mu:rank 2", "mu:rank 1")),
        {("ex:L1", "mu:UniqueAuthorityRankShape"), ("ex:L2", "mu:UniqueAuthorityRankShape")},
    ),
    (
        "duplicate authority code",
        edit(('mu:code "L2"', 'mu:code "L1"')),
        {("ex:L1", "mu:UniqueAuthorityCodeShape"), ("ex:L2", "mu:UniqueAuthorityCodeShape")},
    ),
    (
        "rank that is not an integer",
        edit(("mu:rank 2", 'mu:rank "2"')),
        {("ex:L2", "mu:AuthorityLevel-rank")},
    ),
    (
        "authority code with a space",
        edit(('mu:code "L2"', 'mu:code "L 2"')),
        {("ex:L2", "mu:AuthorityLevel-code")},
    ),
    (
        "authority level without label",
        edit(('mu:rank 2 ; rdfs:label "L2" .', "mu:rank 2 .")),
        {("ex:L2", "mu:AuthorityLevel-label")},
    ),
    # ---- roles
    (
        "role may approve something that is not a type",
        edit(("mu:mayApprove ex:Payment", "mu:mayApprove ex:L2")),
        {("ex:Manager", "mu:Role-mayApprove")},
    ),
    (
        "role without label",
        edit(('ex:Clerk a mu:Role ; rdfs:label "clerk" ;', "ex:Clerk a mu:Role ;")),
        {("ex:Clerk", "mu:Role-label")},
    ),
    # ---- every control
    (
        "duplicate control id",
        MINIMAL + SECOND_APPROVAL,
        {("ex:Approval", "mu:UniqueControlIdShape"), ("ex:Approval2", "mu:UniqueControlIdShape")},
    ),
    (
        "control id with a hyphen",
        edit(('mu:controlId "approval_over_1k"', 'mu:controlId "approval-over-1k"')),
        {("ex:Approval", "mu:Control-controlId")},
    ),
    (
        "control id starting with a digit",
        edit(('mu:controlId "audit_all"', 'mu:controlId "1audit"')),
        {("ex:Audit", "mu:Control-controlId")},
    ),
    (
        "control without control id",
        edit(('mu:controlId "audit_all" ;', "")),
        {("ex:Audit", "mu:Control-controlId")},
    ),
    (
        "control without label",
        edit(('rdfs:label "record every decision" ;', "")),
        {("ex:Audit", "mu:Control-label")},
    ),
    (
        "control with two labels",
        edit(('rdfs:label "record every decision" ;', 'rdfs:label "a", "b" ;')),
        {("ex:Audit", "mu:Control-label")},
    ),
    (
        "control without owner",
        edit(('mu:owner "internal-audit" ;', "")),
        {("ex:Audit", "mu:Control-owner")},
    ),
    (
        "control that applies to nothing",
        edit(("mu:appliesTo ex:Payment ;\n    mu:ledger", "mu:ledger")),
        {("ex:Audit", "mu:Control-appliesTo")},
    ),
    (
        "control that applies to a non-type",
        edit(("mu:appliesTo ex:Payment ;\n    mu:ledger", "mu:appliesTo ex:L1 ;\n    mu:ledger")),
        {("ex:Audit", "mu:Control-appliesTo")},
    ),
    (
        "control with two conditions",
        edit(audit_also('mu:when "amount > 1", "amount > 2"')),
        {("ex:Audit", "mu:Control-when")},
    ),
    (
        "control typed only mu:Control",
        edit(("ex:Audit a mu:AuditLogRule ;", "ex:Audit a mu:Control ;")),
        {("ex:Audit", "mu:ControlKindShape")},
    ),
    (
        "control with two kinds",
        edit(
            ("ex:Audit a mu:AuditLogRule ;", "ex:Audit a mu:AuditLogRule , mu:NotificationRule ;"),
            audit_also('mu:recipient "a@acme.example"'),
        ),
        {("ex:Audit", "mu:ControlKindShape")},
    ),
    (
        "control typed with a kind and mu:Control is fine",
        edit(("ex:Audit a mu:AuditLogRule ;", "ex:Audit a mu:AuditLogRule , mu:Control ;")),
        set(),
    ),
    # ---- dependsOn
    (
        "self-dependency",
        edit(audit_also("mu:dependsOn ex:Audit")),
        {("ex:Audit", "mu:DependsOnSelfShape")},
    ),
    (
        "dependsOn cycle of length 2",
        edit(audit_also("mu:dependsOn ex:Notify")),
        {("ex:Audit", "mu:DependsOnCycleShape"), ("ex:Notify", "mu:DependsOnCycleShape")},
    ),
    (
        "dependsOn cycle of length 3",
        edit(
            audit_also("mu:dependsOn ex:Fraud"),
            (
                'mu:message "sanctioned country" .',
                'mu:message "sanctioned country" ; mu:dependsOn ex:Notify .',
            ),
        ),
        {
            ("ex:Audit", "mu:DependsOnCycleShape"),
            ("ex:Notify", "mu:DependsOnCycleShape"),
            ("ex:Fraud", "mu:DependsOnCycleShape"),
        },
    ),
    (
        "a diamond of dependencies is not a cycle",
        edit(
            audit_also("mu:dependsOn ex:Fraud"),
            ("mu:dependsOn ex:Audit .", "mu:dependsOn ex:Audit , ex:Fraud ."),
        ),
        set(),
    ),
    (
        "dependsOn something that is not a control",
        edit(("mu:dependsOn ex:Audit .", "mu:dependsOn ex:Payment .")),
        {("ex:Notify", "mu:Control-dependsOn")},
    ),
    # ---- approval rules
    (
        "negative threshold",
        edit(("mu:amountThreshold 1000.00", "mu:amountThreshold -1.00")),
        {("ex:Approval", "mu:ApprovalRule-amountThreshold-nonNegative")},
    ),
    (
        "integer-typed threshold",
        edit(("mu:amountThreshold 1000.00", "mu:amountThreshold 1000")),
        {("ex:Approval", "mu:ApprovalRule-amountThreshold")},
    ),
    (
        "string threshold",
        edit(("mu:amountThreshold 1000.00", 'mu:amountThreshold "1000.00"')),
        {
            ("ex:Approval", "mu:ApprovalRule-amountThreshold"),
            ("ex:Approval", "mu:ApprovalRule-amountThreshold-nonNegative"),
        },
    ),
    (
        "missing threshold",
        edit(("mu:amountThreshold 1000.00 ;", "")),
        {("ex:Approval", "mu:ApprovalRule-amountThreshold")},
    ),
    (
        "zero threshold is fine",
        edit(("mu:amountThreshold 1000.00", 'mu:amountThreshold "0.00"^^xsd:decimal')),
        set(),
    ),
    (
        "lowercase currency",
        edit(('mu:currency "USD"', 'mu:currency "usd"')),
        {("ex:Approval", "mu:ApprovalRule-currency")},
    ),
    (
        "currency of four letters",
        edit(('mu:currency "USD"', 'mu:currency "USDT"')),
        {("ex:Approval", "mu:ApprovalRule-currency")},
    ),
    (
        "missing requiredAuthority",
        edit(('mu:currency "USD" ;\n    mu:requiredAuthority ex:L2 .', 'mu:currency "USD" .')),
        {("ex:Approval", "mu:ApprovalRule-requiredAuthority")},
    ),
    (
        "requiredAuthority that is not an authority level",
        edit(("mu:requiredAuthority ex:L2", "mu:requiredAuthority ex:Manager")),
        {("ex:Approval", "mu:ApprovalRule-requiredAuthority")},
    ),
    # ---- segregation of duties
    (
        "segregation of duties with one party",
        edit(("mu:separates mu:Approver , mu:Executor .", "mu:separates mu:Approver .")),
        {("ex:Sod", "mu:SegregationOfDutyRule-separates")},
    ),
    (
        "segregation of duties separating a non-party",
        edit(("mu:Approver , mu:Executor .", "mu:Approver , mu:Reject .")),
        {("ex:Sod", "mu:SegregationOfDutyRule-separates")},
    ),
    # ---- condition rules
    (
        "condition rule without condition",
        edit(('mu:when """counterparty.country in {"KP"}""" ;', "")),
        {("ex:Fraud", "mu:ConditionRule-when")},
    ),
    (
        "condition rule whose effect is approve",
        edit(("mu:effect mu:Reject", "mu:effect mu:Approve")),
        {("ex:Fraud", "mu:ConditionRule-effect")},
    ),
    (
        "condition rule without message",
        edit((' ;\n    mu:message "sanctioned country" .', " .")),
        {("ex:Fraud", "mu:ConditionRule-message")},
    ),
    # ---- notification and audit-log rules
    (
        "notification without recipient",
        edit(('mu:recipient "compliance@acme.example" ;', "")),
        {("ex:Notify", "mu:NotificationRule-recipient")},
    ),
    (
        "notification on a party instead of an outcome",
        edit(("mu:onOutcome mu:Reject", "mu:onOutcome mu:Executor")),
        {("ex:Notify", "mu:NotificationRule-onOutcome")},
    ),
    (
        "audit log without ledger",
        edit((' ;\n    mu:ledger "sox-ledger" .', " .")),
        {("ex:Audit", "mu:AuditLogRule-ledger")},
    ),
    (
        "audit log on an unknown outcome",
        edit(audit_also("mu:onOutcome mu:Approver")),
        {("ex:Audit", "mu:AuditLogRule-onOutcome")},
    ),
    # ---- the organisation's invariants (ontology/shapes/)
    (
        "role that approves and executes a separated type",
        MINIMAL + POWER_USER,
        {("ex:PowerUser", "ex:RoleApproverExecutorSeparationShape")},
    ),
    (
        "role that approves and executes a type without that separation is fine",
        MINIMAL + REFUND + 'ex:RefundDesk a mu:Role ; rdfs:label "refund desk" ;'
        " mu:mayApprove ex:Refund ; mu:mayExecute ex:Refund .\n",
        set(),
    ),
    (
        "transaction type without a fraud check",
        MINIMAL + UNCHECKED_TYPE,
        {("ex:Refund", "ex:FraudCheckCoverageShape")},
    ),
]


@pytest.mark.parametrize(("turtle", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_broken_rule(turtle: str, expected: set[tuple[str, str]]) -> None:
    assert violations(turtle) == expected


# --------------------------------------------------------------------------
# reports are complete and readable
# --------------------------------------------------------------------------


def test_several_violations_are_all_reported() -> None:
    broken = edit(
        ('mu:currency "USD"', 'mu:currency "usd"'),
        ("mu:rank 2", "mu:rank 1"),
        audit_also("mu:dependsOn ex:Notify"),
        ("mu:datatype xsd:string", "mu:datatype xsd:float"),
        extra=SECOND_APPROVAL
        + UNCHECKED_TYPE
        + POWER_USER
        + """
ex:Sod2 a mu:SegregationOfDutyRule ;
    mu:controlId "sod_one_party" ;
    rdfs:label "only one party" ;
    mu:owner "internal-controls" ;
    mu:appliesTo ex:Payment ;
    mu:separates mu:Initiator .
""",
    )
    assert violations(broken) == {
        ("ex:Approval", "mu:ApprovalRule-currency"),
        ("ex:L1", "mu:UniqueAuthorityRankShape"),
        ("ex:L2", "mu:UniqueAuthorityRankShape"),
        ("ex:Sod2", "mu:SegregationOfDutyRule-separates"),
        ("ex:Audit", "mu:DependsOnCycleShape"),
        ("ex:Notify", "mu:DependsOnCycleShape"),
        ("ex:Payment_country", "mu:Field-datatype"),
        ("ex:Approval", "mu:UniqueControlIdShape"),
        ("ex:Approval2", "mu:UniqueControlIdShape"),
        ("ex:Refund", "ex:FraudCheckCoverageShape"),
        ("ex:PowerUser", "ex:RoleApproverExecutorSeparationShape"),
    }


def _report(turtle: str) -> list[dict[str, str]]:
    _conforms, report, _text = validate(rdflib.Graph().parse(data=turtle, format="turtle"))
    return sorted(results(report), key=lambda r: (r["shape"], r["focus"]))


def test_messages_name_the_offending_value() -> None:
    first, second = _report(MINIMAL + SECOND_APPROVAL)
    for r in (first, second):
        assert r["severity"] == "http://www.w3.org/ns/shacl#Violation"
        assert r["value"] == "approval_over_1k"
        assert "`approval_over_1k`" in r["message"]

    (only,) = _report(MINIMAL + POWER_USER)
    assert "`payment`" in only["message"]
    assert "`sod_approver_executor`" in only["message"]

    (only,) = _report(MINIMAL + UNCHECKED_TYPE)
    assert "`refund`" in only["message"]

    audit, notify = _report(edit(audit_also("mu:dependsOn ex:Notify")))
    assert "`notify_on_reject`" in audit["message"]
    assert "`audit_all`" in notify["message"]


def test_every_result_has_one_lowercase_message() -> None:
    broken = edit(
        ('mu:currency "USD"', 'mu:currency "usd"'),
        ("mu:amountThreshold 1000.00", "mu:amountThreshold -1"),
        ('mu:controlId "audit_all"', 'mu:controlId "Audit"'),
    )
    data = rdflib.Graph().parse(data=broken, format="turtle")
    _conforms, report, _text = validate(data)
    nodes = list(report.subjects(RDF.type, SH.ValidationResult))
    assert len(nodes) == 4  # the integer -1 breaks both threshold shapes
    for node in nodes:
        (message,) = report.objects(node, SH.resultMessage)
        assert str(message)[:1].islower(), message


@pytest.mark.slow
def test_validation_scales_to_thousands_of_controls() -> None:
    """SPARQL shapes run one query each, not one per control (see shapes.ttl)."""
    controls = []
    for i in range(2000):
        common = (
            f'ex:Bulk{i} mu:controlId "bulk_{i}" ; rdfs:label "bulk {i}" ;'
            ' mu:owner "o" ; mu:appliesTo ex:Payment'
        )
        controls.append(
            [
                f'{common} ; a mu:ApprovalRule ; mu:amountThreshold {i}.00 ; mu:currency "EUR" ;'
                " mu:requiredAuthority ex:L1 .",
                f"{common} ; a mu:SegregationOfDutyRule ; mu:separates mu:Initiator, mu:Executor .",
                f'{common} ; a mu:ConditionRule ; mu:when "amount > {i}" ; mu:effect mu:Review ;'
                ' mu:message "m" .',
                f'{common} ; a mu:NotificationRule ; mu:recipient "r@acme.example" ;'
                f" mu:dependsOn ex:Bulk{max(i - 3, 0)} .",
                f'{common} ; a mu:AuditLogRule ; mu:ledger "l" ; mu:dependsOn ex:Audit .',
            ][i % 5]
        )
    data = rdflib.Graph().parse(data=MINIMAL + "\n".join(controls), format="turtle")
    started = time.perf_counter()
    conforms, _report, text = validate(data)
    elapsed = time.perf_counter() - started
    assert conforms, text
    assert elapsed < 30, f"validating 2,000 controls took {elapsed:.1f}s"
