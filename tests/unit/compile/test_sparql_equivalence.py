"""Whole-graph SPARQL constraints report exactly what pySHACL's per-focus evaluation reports.

Each ontology is validated twice: `shacl_validate(loaded, sparql_per_focus=True)`
is pySHACL alone, as mu always ran it (the data graph copied by pySHACL, every
SPARQL constraint evaluated once per focus node); the default path takes the
SPARQL shapes out of pySHACL and runs each constraint once
(`generator.compile.sparqlshapes`). The two `ValidationReport`s must be equal:
the same violations (focus, path, shape, message, severity, value, file), in
the same order, hence the same `conforms`.

The ontologies: the shipped `ontology/`, every case of the shape tests (one
rule broken at a time), the control-character cases, the SARIF fixtures, one
ontology that breaks every SPARQL constraint of the core and organisation
shapes several times over, and organisation shapes written to reach each
corner of the rewrite (a `$this` only inside FILTER, OPTIONAL filters, no
`$this`, LIMIT, `$currentShape`, messages naming variables, warnings,
blank-node shapes, shapes referenced from other shapes).
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import SH

from mu.generator.compile import validate as validate_module
from mu.generator.compile.load import LoadedOntology, load_ontology
from mu.generator.compile.offline import is_offline
from mu.generator.compile.sparqlquery import THIS, joinable, prepare
from mu.generator.compile.sparqlshapes import SparqlPlan, evaluate_plan, plan_sparql
from mu.generator.compile.validate import ValidationReport, core_shapes_graph, shacl_validate
from mu.generator.errors import InputError
from tests.unit.compile.test_control_characters import CASES as CONTROL_CHARACTER_CASES
from tests.unit.compile.test_shapes import CASES as SHAPE_CASES
from tests.unit.compile.test_shapes import MINIMAL

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"
ORG_SHAPES = ROOT / "ontology" / "shapes"


def _repository(
    tmp: Path, controls: dict[str, str], shapes: dict[str, str] | None = None
) -> LoadedOntology:
    """An ontology directory with `controls` and the shipped organisation shapes (plus `shapes`)."""
    directory = tmp / "ontology"
    (directory / "controls").mkdir(parents=True)
    shutil.copytree(ORG_SHAPES, directory / "shapes")
    for name, text in controls.items():
        (directory / "controls" / name).write_text(text, encoding="utf-8")
    for name, text in (shapes or {}).items():
        (directory / "shapes" / name).write_text(text, encoding="utf-8")
    return load_ontology(directory)


def _shipped_copy(tmp: Path) -> Path:
    directory = tmp / "ontology"
    shutil.copytree(ROOT / "ontology", directory)
    return directory


def _both(loaded: LoadedOntology) -> ValidationReport:
    """The report of both paths, after asserting they are identical."""
    reference = shacl_validate(loaded, sparql_per_focus=True)
    whole_graph = shacl_validate(loaded)
    assert whole_graph.results == reference.results
    assert whole_graph.conforms == reference.conforms
    return whole_graph


def _shapes(report: ValidationReport) -> set[str]:
    return {v.shape for v in report.results}


# --------------------------------------------------------------------------
# the fixtures the test suite already has
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_the_shipped_ontology() -> None:
    report = _both(load_ontology(ROOT / "ontology"))
    assert report.conforms


@pytest.mark.slow
@pytest.mark.parametrize(
    ("turtle", "expected"), [c[1:] for c in SHAPE_CASES], ids=[c[0] for c in SHAPE_CASES]
)
def test_each_case_of_the_shape_tests(
    tmp_path: Path, turtle: str, expected: set[tuple[str, str]]
) -> None:
    report = _both(_repository(tmp_path, {"case.ttl": turtle}))
    assert {(v.focus, v.shape) for v in report.results} >= expected


@pytest.mark.slow
@pytest.mark.parametrize(("name", "old", "new", "focus", "shape"), CONTROL_CHARACTER_CASES)
def test_each_control_character_case(
    tmp_path: Path, name: str, old: str, new: str, focus: str, shape: str
) -> None:
    directory = _shipped_copy(tmp_path)
    path = directory / "controls" / name
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    report = _both(load_ontology(directory))
    assert (focus, shape) in {(v.focus, v.shape) for v in report.results}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["violations.ttl", "violations_reformatted.ttl"])
def test_the_sarif_fixtures(tmp_path: Path, name: str) -> None:
    directory = _shipped_copy(tmp_path)
    shutil.copy(DATA / "sarif" / name, directory / "controls" / "zz_violations.ttl")
    assert not _both(load_ontology(directory)).conforms


# --------------------------------------------------------------------------
# every SPARQL constraint of shapes.ttl and ontology/shapes/, broken several times
# --------------------------------------------------------------------------

PREFIXES = """@prefix ex: <https://acme.example/policy#> .
@prefix mu: <urn:mu:v1#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""

# Two or more offenders for each SPARQL shape, so that the one query per
# constraint serves several focus nodes.
EVERY_SPARQL_CONSTRAINT = (
    PREFIXES
    + """
ex:T1 a mu:TransactionType ; mu:typeId "dup_type" ; rdfs:label "t1" ;
    mu:hasField [ a mu:Field ; mu:path "a.b" ; mu:datatype xsd:integer ; mu:required true ;
                  mu:pattern "[0-9]+" ] ,
                [ a mu:Field ; mu:path "a.b" ; mu:datatype xsd:string ; mu:required false ] .
ex:T2 a mu:TransactionType ; mu:typeId "dup_type" ; rdfs:label "t2" ;
    mu:hasField [ a mu:Field ; mu:path "c" ; mu:datatype xsd:boolean ; mu:required true ;
                  mu:pattern "x" ] ,
                [ a mu:Field ; mu:path "c" ; mu:datatype xsd:boolean ; mu:required true ] .
ex:L1 a mu:AuthorityLevel ; mu:code "L1" ; mu:rank 1 ; rdfs:label "l1" .
ex:L1b a mu:AuthorityLevel ; mu:code "L1" ; mu:rank 1 ; rdfs:label "l1b" .
ex:L2 a mu:AuthorityLevel ; mu:code "L2" ; mu:rank 2 ; rdfs:label "l2" .
ex:L2b a mu:AuthorityLevel ; mu:code "L2" ; mu:rank 2 ; rdfs:label "l2b" .
ex:Desk a mu:Role ; rdfs:label "desk" ; mu:mayApprove ex:T1 , ex:T2 ; mu:mayExecute ex:T1 , ex:T2 .
ex:Desk2 a mu:Role ; rdfs:label "desk2" ; mu:mayApprove ex:T1 ; mu:mayExecute ex:T1 .
ex:Sod1 a mu:SegregationOfDutyRule ; mu:controlId "sod" ; rdfs:label "sod" ; mu:owner "o" ;
    mu:appliesTo ex:T1 , ex:T2 ; mu:separates mu:Approver , mu:Executor .
ex:Sod2 a mu:SegregationOfDutyRule ; mu:controlId "sod" ; rdfs:label "sod2" ; mu:owner "o" ;
    mu:appliesTo ex:T1 ; mu:separates mu:Approver , mu:Executor .
ex:Bare a mu:Control ; mu:controlId "bare" ; rdfs:label "bare" ; mu:owner "o" ; mu:appliesTo ex:T1 .
ex:Bare2 a mu:Control ; mu:controlId "bare2" ; rdfs:label "bare2" ; mu:owner "o" ;
    mu:appliesTo ex:T2 .
ex:Both a mu:NotificationRule , mu:AuditLogRule ; mu:controlId "both" ; rdfs:label "both" ;
    mu:owner "o" ; mu:appliesTo ex:T1 ; mu:recipient "x" ; mu:ledger "l" .
ex:Self a mu:AuditLogRule ; mu:controlId "self" ; rdfs:label "self" ; mu:owner "o" ;
    mu:appliesTo ex:T1 ; mu:ledger "l" ; mu:dependsOn ex:Self .
ex:Self2 a mu:AuditLogRule ; mu:controlId "self2" ; rdfs:label "self2" ; mu:owner "o" ;
    mu:appliesTo ex:T1 ; mu:ledger "l" ; mu:dependsOn ex:Self2 , ex:Self .
ex:C1 a mu:AuditLogRule ; mu:controlId "c1" ; rdfs:label "c1" ; mu:owner "o" ;
    mu:appliesTo ex:T1 ; mu:ledger "l" ; mu:dependsOn ex:C2 .
ex:C2 a mu:AuditLogRule ; mu:controlId "c2" ; rdfs:label "c2" ; mu:owner "o" ;
    mu:appliesTo ex:T1 ; mu:ledger "l" ; mu:dependsOn ex:C3 .
ex:C3 a mu:AuditLogRule ; rdfs:label "c3 without an id" ; mu:owner "o" ;
    mu:appliesTo ex:T1 ; mu:ledger "l" ; mu:dependsOn ex:C1 .
"""
)

SPARQL_SHAPES = {
    "mu:UniqueTypeIdShape",
    "mu:UniqueFieldPathShape",
    "mu:FieldPatternDatatypeShape",
    "mu:UniqueAuthorityCodeShape",
    "mu:UniqueAuthorityRankShape",
    "mu:ControlKindShape",
    "mu:UniqueControlIdShape",
    "mu:DependsOnSelfShape",
    "mu:DependsOnCycleShape",
    "ex:RoleApproverExecutorSeparationShape",
    "ex:FraudCheckCoverageShape",
}


def test_the_plan_takes_every_sparql_shape_of_the_core_and_the_organisation() -> None:
    loaded = load_ontology(ROOT / "ontology")
    shapes = core_shapes_graph() + loaded.org_shapes
    plan = plan_sparql(shapes, loaded.data)
    ex = "https://acme.example/policy#"
    names = {str(n).replace("urn:mu:v1#", "mu:").replace(ex, "ex:") for n in plan.whole_graph}
    assert names == SPARQL_SHAPES
    # pySHACL no longer sees them, and still sees everything else.
    assert not any((n, None, None) in plan.for_pyshacl for n in plan.whole_graph)
    assert len(plan.for_pyshacl) + sum(
        len(list(shapes.predicate_objects(n))) for n in plan.whole_graph
    ) == len(shapes)


@pytest.mark.slow
def test_every_sparql_constraint_broken_several_times(tmp_path: Path) -> None:
    report = _both(_repository(tmp_path, {"broken.ttl": EVERY_SPARQL_CONSTRAINT}))
    assert _shapes(report) >= SPARQL_SHAPES
    messages = {v.message for v in report.results}
    # {?value}, {?next} (a control id, or the IRI of a control without one), {?type}, {?control}
    assert "type id `dup_type` is used by more than one transaction type; give each " \
        "transaction type its own mu:typeId" in messages
    assert any("forms a cycle through control `c2`" in m for m in messages)
    assert any("through control `https://acme.example/policy#C3`" in m for m in messages)
    assert any("`sod`" in m and "`dup_type`" in m for m in messages)


@pytest.mark.slow
def test_many_focus_nodes(tmp_path: Path) -> None:
    # Forty controls sharing ten ids, a cycle through all of them, and no kind.
    many = PREFIXES + "".join(
        f'ex:M{i} a mu:Control ; mu:controlId "m{i % 10}" ; rdfs:label "m" ; mu:owner "o" ; '
        f"mu:appliesTo ex:Payment ; mu:dependsOn ex:M{(i + 1) % 40} .\n"
        for i in range(40)
    )
    loaded = _repository(tmp_path, {"a.ttl": MINIMAL, "many.ttl": many})
    report = _both(loaded)
    assert {"mu:UniqueControlIdShape", "mu:DependsOnCycleShape", "mu:ControlKindShape"} <= _shapes(
        report
    )
    assert sum(v.shape == "mu:DependsOnCycleShape" for v in report.results) == 40


# --------------------------------------------------------------------------
# organisation shapes that reach each corner of the rewrite
# --------------------------------------------------------------------------

CORNERS = '''@prefix ex: <https://acme.example/policy#> .
@prefix mu: <urn:mu:v1#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:cornerShapes a owl:Ontology ;
    sh:declare [ sh:prefix "mu" ; sh:namespace "urn:mu:v1#"^^xsd:anyURI ] .
ex:ownPrefixes a owl:Ontology ;
    sh:declare [ sh:prefix "m" ; sh:namespace "urn:mu:v1#"^^xsd:anyURI ] .

# The filter of an OPTIONAL names $this: rdflib drops a joined ?this there.
ex:OptionalFilterShape a sh:NodeShape ;
    sh:targetClass mu:Control ;
    sh:message "{$this} shares {?value}" ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes ex:cornerShapes ; sh:select """
        SELECT $this ?value WHERE {
            $this mu:appliesTo ?t .
            OPTIONAL {
                ?other mu:appliesTo ?t FILTER (?other != $this && STRENDS(STR(?other), "r"))
            }
            BIND (COALESCE(STR(?other), "nothing") AS ?value)
        }""" ] .

# $this only in a FILTER expression, and not selected.
ex:FilterOnlyShape a sh:NodeShape ;
    sh:targetClass mu:ApprovalRule ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes ex:ownPrefixes ;
        sh:message "id {?value} of {$this}" ;
        sh:select """
        SELECT ?value WHERE { ?x m:controlId ?value . FILTER (?x = $this && CONTAINS(?value, "0")) }
        """ ] .

# No $this at all: the same rows for every focus node.
ex:NoThisShape a sh:NodeShape ;
    sh:targetNode ex:VendorPayment , ex:WireTransfer , ex:Nowhere ;
    sh:severity sh:Warning ;
    sh:message "ledger {?value}" ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes ex:cornerShapes ; sh:select """
        SELECT ?value WHERE { ?c mu:ledger ?value }
        """ ] .

# LIMIT: per focus node, one row.
ex:LimitShape a sh:NodeShape ;
    sh:targetClass mu:ApprovalRule ;
    sh:message "first type of {$this}: {?value}" ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes ex:cornerShapes ; sh:select """
        SELECT $this ?value WHERE { $this mu:appliesTo ?value } ORDER BY ?value LIMIT 1
        """ ] .

# $currentShape, a constraint message next to the shape's, an unknown variable.
ex:CurrentShapeShape a sh:NodeShape ;
    sh:targetClass mu:NotificationRule ;
    sh:severity sh:Info ;
    sh:message "{$this} checked by {?shape} ({?missing})" ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes ex:cornerShapes ;
        sh:message "constraint says {?shape}" ;
        sh:select """
        SELECT $this ?shape WHERE { $this mu:recipient ?r . BIND (STR($currentShape) AS ?shape) }
        """ ] .

# ?failure, DISTINCT without $this, UNION, and a blank-node shape.
[] a sh:NodeShape ;
    sh:targetClass mu:AuditLogRule ;
    sh:message "audit {?value}" ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes ex:cornerShapes ; sh:select """
        SELECT DISTINCT ?value WHERE {
            { $this mu:ledger ?value } UNION { $this mu:appliesTo ?value }
        }
        """ ] ,
    [ a sh:SPARQLConstraint ; sh:prefixes ex:cornerShapes ; sh:select """
        SELECT $this ?failure WHERE { $this mu:ledger ?l . BIND (true AS ?failure) }
        """ ] .

# Referenced from another shape: its focus nodes are not only its targets.
ex:OuterShape a sh:NodeShape ;
    sh:targetClass mu:TransactionType ;
    sh:node ex:InnerShape .
ex:InnerShape a sh:NodeShape ;
    sh:message "inner {?value}" ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes ex:cornerShapes ; sh:select """
        SELECT $this ?value WHERE { $this mu:typeId ?value }
        """ ] .
'''


@pytest.mark.slow
def test_organisation_shapes_at_every_corner(tmp_path: Path) -> None:
    directory = _shipped_copy(tmp_path)
    (directory / "shapes" / "corners.ttl").write_text(CORNERS, encoding="utf-8")
    loaded = load_ontology(directory)
    plan = plan_sparql(core_shapes_graph() + loaded.org_shapes, loaded.data)
    ex = rdflib.Namespace("https://acme.example/policy#")
    assert ex.OptionalFilterShape in plan.whole_graph
    assert ex.NoThisShape in plan.whole_graph
    assert ex.InnerShape not in plan.whole_graph
    assert any(isinstance(n, rdflib.BNode) for n in plan.whole_graph)
    report = _both(loaded)
    shapes = _shapes(report)
    assert {
        "ex:OptionalFilterShape",
        "ex:FilterOnlyShape",
        "ex:NoThisShape",
        "ex:LimitShape",
        "ex:CurrentShapeShape",
        "ex:InnerShape",
        "sh:SPARQLConstraintComponent",
    } <= shapes
    severities = {v.shape: v.severity for v in report.results}
    assert severities["ex:NoThisShape"] == "Warning"
    assert severities["ex:CurrentShapeShape"] == "Info"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("$this mu:controlId ?value . ?other mu:controlId ?value . FILTER (?other != $this)", True),
        ("FILTER (NOT EXISTS { $this a ?kind })", True),
        ("$this mu:a ?t . OPTIONAL { ?o mu:a ?t } BIND (COALESCE(?o, STR($this)) AS ?v)", True),
        ("$this mu:a ?t . OPTIONAL { ?o mu:a ?t FILTER (?o != $this) }", False),
        ("?x mu:controlId ?value . FILTER (?x = $this)", False),
        ("?x mu:controlId ?value . BIND (STR($this) AS ?s)", False),
        ("$this mu:a ?t . { SELECT $this WHERE { $this mu:b ?u } }", False),
        ("$this mu:a ?t . MINUS { $this mu:b ?t }", False),
        ("GRAPH ?g { $this mu:a ?t }", False),
    ],
)
def test_which_patterns_join(where: str, expected: bool) -> None:
    query = prepare(f"PREFIX mu: <urn:mu:v1#> SELECT $this WHERE {{ {where} }}", {})
    project = query.algebra.p
    assert project.name == "Project" and THIS in project.PV
    assert joinable(project.p) is expected


def test_shapes_pyshacl_keeps() -> None:
    # Property shapes ($PATH), shapes with core constraints too, deactivated
    # constraints and shapes next to SHACL functions stay on pySHACL's path.
    shapes = rdflib.Graph().parse(
        data=PREFIXES
        + '''
ex:P a sh:PropertyShape ; sh:targetClass mu:Control ; sh:path mu:owner ;
    sh:sparql [ sh:select "SELECT $this WHERE { $this $PATH ?v }" ] .
ex:Mixed a sh:NodeShape ; sh:targetClass mu:Control ; sh:closed true ;
    sh:sparql [ sh:select "SELECT $this WHERE { $this ?p ?v }" ] .
ex:Off a sh:NodeShape ; sh:targetClass mu:Control ;
    sh:sparql [ sh:select "SELECT $this WHERE { $this ?p ?v }" ; sh:deactivated true ] .
ex:Graph a sh:NodeShape ; sh:targetClass mu:Control ;
    sh:sparql [ sh:select "SELECT $this WHERE { $this ?p $shapesGraph }" ] .
ex:Taken a sh:NodeShape ; sh:targetClass mu:Control ;
    sh:sparql [ sh:select "SELECT $this WHERE { $this ?p ?v }" ] .
''',
        format="turtle",
    )
    ex = rdflib.Namespace("https://acme.example/policy#")
    assert plan_sparql(shapes, rdflib.Graph()).whole_graph == (ex.Taken,)
    shapes.add((ex.F, rdflib.RDF.type, SH.SPARQLFunction))
    assert plan_sparql(shapes, rdflib.Graph()).whole_graph == ()


# --------------------------------------------------------------------------
# the safety properties hold on the whole-graph path
# --------------------------------------------------------------------------

WHOLE_GRAPH_SHAPE = '''@prefix ex: <https://acme.example/policy#> .
@prefix mu: <urn:mu:v1#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .

ex:ExpensiveShape a sh:NodeShape ;
    sh:targetClass mu:Control ;
    sh:message "never" ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:select """
        SELECT $this WHERE { $this ?p ?o . %s }
        """ ] .
'''


def _with_shape(tmp: Path, body: str, whole_graph: bool = True) -> LoadedOntology:
    directory = _shipped_copy(tmp)
    (directory / "shapes" / "expensive.ttl").write_text(WHOLE_GRAPH_SHAPE % body, encoding="utf-8")
    loaded = load_ontology(directory)
    plan = plan_sparql(core_shapes_graph() + loaded.org_shapes, loaded.data)
    shape = rdflib.URIRef("https://acme.example/policy#ExpensiveShape")
    assert (shape in plan.whole_graph) is whole_graph
    return loaded


@pytest.mark.slow
def test_a_whole_graph_query_stops_at_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cross join of every triple with every other, for every control.
    loaded = _with_shape(tmp_path, "?a ?b ?c . ?d ?e ?f . FILTER (?c = ?f && ?a != ?d && ?o = ?a)")
    monkeypatch.setenv("MU_VALIDATION_TIMEOUT", "1")
    with pytest.raises(InputError, match="did not finish within 1 s"):
        shacl_validate(loaded)
    # Interrupted or not, what pySHACL added is gone from the loaded graph's store.
    assert [c.identifier for c in loaded.data.store.contexts()] == [loaded.data.identifier]


@pytest.mark.slow
def test_whole_graph_queries_run_offline_and_within_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (pySHACL's own check refuses SERVICE before the plan could take a shape, and
    # shape_guard refuses it before that: so observe the guards from inside.)
    loaded = _with_shape(tmp_path, "?o ?q ?r .")
    seen: list[tuple[bool, float]] = []

    def spy(plan: SparqlPlan, graph: rdflib.Graph) -> rdflib.Graph | None:
        seen.append((is_offline(), signal.getitimer(signal.ITIMER_REAL)[0]))
        return evaluate_plan(plan, graph)

    monkeypatch.setattr(validate_module, "evaluate_plan", spy)
    _both(loaded)
    assert len(seen) == 1
    offline_then, timer_left = seen[0]
    assert offline_then and timer_left > 0


def test_a_whole_graph_query_is_checked_before_it_runs(tmp_path: Path) -> None:
    loaded = _with_shape(tmp_path, "SERVICE <http://127.0.0.1:9/sparql> { ?o ?q ?r }", False)
    with pytest.raises(InputError, match="the shapes were not evaluated") as caught:
        shacl_validate(loaded)
    assert "SERVICE <http://127.0.0.1:9/sparql>" in str(caught.value.problems)


@pytest.mark.slow
def test_validation_leaves_the_loaded_graph_alone(tmp_path: Path) -> None:
    loaded = _repository(tmp_path, {"broken.ttl": EVERY_SPARQL_CONSTRAINT})
    before = (set(loaded.data), sorted(loaded.data.namespaces()))
    contexts = [c.identifier for c in loaded.data.store.contexts()]
    assert contexts == [loaded.data.identifier]  # alone in its store: validated through a view
    assert not shacl_validate(loaded).conforms
    assert (set(loaded.data), sorted(loaded.data.namespaces())) == before
    assert [c.identifier for c in loaded.data.store.contexts()] == contexts
