"""SHACL-SPARQL constraints run once per constraint over the whole graph, pySHACL doing the rest.

pySHACL evaluates a shape's `sh:sparql` constraint once per focus node and
parses the query text again each time (~10 ms); an organisation shape that
targets every control costs 100 s on 10,000 controls. `plan_sparql` takes the
shapes whose only constraints are SPARQL-based out of the graph pySHACL
evaluates; `evaluate_plan` then finds their focus nodes and runs each
constraint's SELECT once for all of them (`generator.compile.sparqlquery`).

Everything else is pySHACL's own code, so the report cannot drift from what
pySHACL would have said: its `Shape` finds the focus nodes (targets, SPARQL
targets, `rdfs:subClassOf`), its query helper applies `sh:prefixes`, refuses
what SHACL forbids and pre-binds `$currentShape`, and its constraint component
builds each result (messages with `{?var}`/`{$this}` substituted, value,
severity). The rows of each focus node are read exactly as pySHACL reads them.

A shape is only taken when that is plainly the same thing: a node shape
(no `sh:path`, so no `$PATH`) named by no other shape (so its only focus nodes
are its targets), with nothing on it but targets, SPARQL constraints and
their messages, whose queries pySHACL's helper accepts (no `$shapesGraph`,
MINUS, VALUES, nested SELECT…), and in a shapes graph that declares no SHACL
functions (pySHACL registers those only while it validates). Any other shape,
an organisation's included, stays on pySHACL's per-focus path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import rdflib
from pyshacl.constraints.sparql.sparql_based_constraints import SPARQLBasedConstraint
from pyshacl.shapes_graph import ShapesGraph
from pyshacl.validator import Validator
from rdflib.namespace import RDF, RDFS, SH
from rdflib.term import Identifier

from mu.generator.compile.sparqlquery import Row, prepare, solutions

# What a shape taken out of pySHACL may say; anything else keeps it there.
_SHAPE_PREDICATES = frozenset(
    {
        RDF.type,
        SH.target,
        SH.targetClass,
        SH.targetNode,
        SH.targetSubjectsOf,
        SH.targetObjectsOf,
        SH.sparql,
        SH.message,
        SH.severity,
        SH.name,
        SH.description,
        RDFS.label,
        RDFS.comment,
    }
)
_TARGET_PREDICATES = frozenset({RDF.type, SH.select, SH.prefixes})
_CONSTRAINT_PREDICATES = frozenset({RDF.type, SH.select, SH.prefixes, SH.message})
_FUNCTIONS = (SH.Function, SH.SPARQLFunction, SH.JSFunction)
# A placeholder focus node: only used to ask pySHACL's helper what it would pre-bind.
_PROBE = rdflib.URIRef("urn:mu:validate:probe")


@dataclass(frozen=True)
class SparqlPlan:
    """The shapes pySHACL evaluates, and the shapes evaluated whole-graph here."""

    for_pyshacl: rdflib.Graph
    whole_graph: tuple[rdflib.term.Node, ...]
    shapes: rdflib.Graph  # every shape (both parts), as pySHACL would have seen them
    namespaces: Mapping[str, str]  # the data graph's prefixes before validation


def _only(graph: rdflib.Graph, node: rdflib.term.Node, allowed: frozenset[rdflib.URIRef]) -> bool:
    return all(p in allowed for p in graph.predicates(node, None))


def _structurally_whole_graph(shapes: rdflib.Graph, node: rdflib.term.Node) -> bool:
    """Node shape, referenced by nothing, carrying only targets and SPARQL constraints."""
    if not _only(shapes, node, _SHAPE_PREDICATES):
        return False
    if set(shapes.objects(node, RDF.type)) - {SH.NodeShape}:
        return False
    if (None, None, node) in shapes:
        return False  # sh:node, sh:property, sh:not, a list member…: other focus nodes
    for target in shapes.objects(node, SH.target):
        if not _only(shapes, target, _TARGET_PREDICATES):
            return False
        if set(shapes.objects(target, RDF.type)) - {SH.SPARQLTarget}:
            return False
        if len(list(shapes.objects(target, SH.select))) != 1:
            return False
    for constraint in shapes.objects(node, SH.sparql):
        if not _only(shapes, constraint, _CONSTRAINT_PREDICATES):
            return False
        if set(shapes.objects(constraint, RDF.type)) - {SH.SPARQLConstraint}:
            return False
    return True


def _accepted_by_pyshacl(sg: ShapesGraph, node: rdflib.term.Node) -> bool:
    """pySHACL builds the constraint and pre-binds its queries without complaint."""
    try:
        constraint = SPARQLBasedConstraint(sg.lookup_shape_from_node(node))
        for helper in constraint.sparql_constraints:
            if helper.deactivated:
                return False
            helper.pre_bind_variables(_PROBE)
    except Exception:
        return False
    return True


def plan_sparql(shapes: rdflib.Graph, data: rdflib.Graph) -> SparqlPlan:
    """Split `shapes` into what pySHACL evaluates and what runs whole-graph here.

    `data` is the graph that will be validated (its prefixes, as rdflib passes
    them to every query, are recorded now, before pySHACL adds any).
    """
    namespaces = {prefix: str(ns) for prefix, ns in data.namespaces()}
    candidates: list[rdflib.term.Node] = []
    if not any((None, RDF.type, f) in shapes for f in _FUNCTIONS):
        candidates = [
            node
            for node in sorted(set(shapes.subjects(SH.sparql, None)), key=lambda n: n.n3())
            if _structurally_whole_graph(shapes, node)
        ]
    taken: tuple[rdflib.term.Node, ...] = ()
    if candidates:
        sg = ShapesGraph(shapes)
        _ = sg.shapes  # builds pySHACL's shape cache
        taken = tuple(n for n in candidates if _accepted_by_pyshacl(sg, n))
    remaining = rdflib.Graph()
    for prefix, ns in shapes.namespaces():
        remaining.bind(prefix, ns, override=True, replace=True)
    dropped = set(taken)
    remaining.addN((s, p, o, remaining) for s, p, o in shapes if s not in dropped)
    return SparqlPlan(remaining, taken, shapes, namespaces)


def _violations(rows: Iterable[Row]) -> dict[Identifier, list[tuple[Any, ...]]]:
    """Per focus node, the violations pySHACL's `_validate_sparql_query` makes of its rows."""
    out: dict[Identifier, list[tuple[Any, ...]]] = defaultdict(list)
    failed: set[Identifier] = set()
    for row in rows:
        var_dict = dict(row.bindings)
        found = out[row.focus]
        if var_dict.pop("failure", None) is not None:
            if row.focus not in failed:
                failed.add(row.focus)
                found.append((True, var_dict))
            continue
        p = var_dict.pop("path", None)
        v = var_dict.pop("value", None)
        t = var_dict.pop("this", None)
        if (p is not None or v is not None or t is not None) and (t, p, v, var_dict) not in found:
            found.append((t, p, v, var_dict))
    return out


def _results(
    constraint: Any,
    helper: Any,
    graph: rdflib.Graph,
    violations: Mapping[Identifier, list[tuple[Any, ...]]],
) -> list[tuple[Any, ...]]:
    """pySHACL's `_evaluate_sparql_constraint`, from rows already grouped by focus node."""
    kwargs = {"source_constraint": helper.node, "extra_messages": helper.messages or None}
    out = []
    for f, found in violations.items():
        for v in found:
            if v[0] is True:
                out.append(
                    constraint.make_v_result(graph, f, value_node=f, bound_vars=v[1], **kwargs)
                )
                continue
            t, p, value, _vars = v
            value = f if value is None else value
            out.append(
                constraint.make_v_result(
                    graph,
                    t or f,
                    value_node=value,
                    result_path=p,
                    bound_vars=(t, p, value, _vars),
                    **kwargs,
                )
            )
    return out


def evaluate_plan(plan: SparqlPlan, graph: rdflib.Graph) -> rdflib.Graph | None:
    """Run the plan's whole-graph shapes on `graph` (after pySHACL ran on it, so that
    SHACL rules have had their effect); a pySHACL report graph, or None without results."""
    if not plan.whole_graph:
        return None
    sg = ShapesGraph(plan.shapes)
    _ = sg.shapes
    results: list[tuple[Any, ...]] = []
    for node in plan.whole_graph:
        shape: Any = sg.lookup_shape_from_node(node)  # pySHACL's API is untyped
        shape.set_advanced(True)  # SPARQL-based targets are SHACL-AF
        focus = sorted(shape.focus_nodes(graph), key=lambda n: n.n3())
        if not focus:
            continue
        constraint: Any = SPARQLBasedConstraint(shape)
        helpers = sorted(constraint.sparql_constraints, key=lambda h: h.node.n3())
        for helper in helpers:
            bindings, text = helper.pre_bind_variables(_PROBE)
            binds_this = bindings.pop("this", None) is not None
            query = prepare(helper.apply_prefixes(text), plan.namespaces)
            rows = solutions(graph, query, focus, bindings, binds_this)
            results.extend(_results(constraint, helper, graph, _violations(rows)))
    if not results:
        return None
    report, _text = Validator.create_validation_report(sg, False, results)
    assert isinstance(report, rdflib.Graph)
    return report
