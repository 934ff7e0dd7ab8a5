"""One SHACL-SPARQL SELECT, evaluated for every focus node of its shape in a single query.

SHACL §5.3.1 evaluates a constraint's SELECT once per focus node with `$this`
pre-bound (and `$currentShape`, `$shapesGraph`, `$PATH` handled as §5.3.1–6.4
say); pySHACL does exactly that by re-parsing the query text for every focus
node and passing `initBindings` to rdflib, ~10 ms of parsing each. Here the
query is parsed and translated once, `$this` is left free, and its algebra is
joined with the shape's focus nodes:

    Project(PV ∪ {?this}, Join(VALUES ?this { f1 … fn }, where-pattern))

rdflib evaluates that join lazily: the pattern runs with `?this` bound to each
focus node in turn, as a pre-binding would, inside one query. One difference
remains between rdflib's pre-binding (`initBindings`) and a binding made by a
join: where rdflib evaluates an expression on a "forgotten" solution (the
filter of an OPTIONAL, a FILTER or BIND whose own pattern does not mention
`?this`), a join binding is dropped and a pre-binding kept. `joinable` refuses
exactly those queries (and anything else whose meaning changes when several
focus nodes share one evaluation: LIMIT/OFFSET, GROUP BY and aggregates,
ORDER BY, sub-queries, MINUS, VALUES, SERVICE, GRAPH); they are evaluated with
a real pre-binding per focus node instead, still from the one parsed query.
`?this` is always projected, so that DISTINCT stays per focus node, and
dropped again from the rows when the query did not select it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import rdflib
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.sparql import Query
from rdflib.query import ResultRow
from rdflib.term import Identifier

THIS = rdflib.Variable("this")

# Algebra nodes whose meaning depends on evaluating one focus node at a time.
_PER_FOCUS_ONLY = frozenset(
    {
        "Slice",
        "Project",
        "SelectQuery",
        "Distinct",
        "Reduced",
        "Group",
        "AggregateJoin",
        "OrderBy",
        "Minus",
        "ToMultiSet",
        "values",
        "ServiceGraphPattern",
        "Graph",
    }
)


@dataclass(frozen=True)
class Row:
    """One solution of a constraint query for one focus node, as pySHACL reads it."""

    focus: Identifier
    bindings: Mapping[str, Identifier]


def _children(node: CompValue) -> Iterator[object]:
    # OrderedDict.values: CompValue.__getitem__ would resolve variables.
    yield from OrderedDict.values(node)


def _mentions_this(tree: object) -> bool:
    stack = [tree]
    while stack:
        item = stack.pop()
        if item == THIS and isinstance(item, rdflib.Variable):
            return True
        if isinstance(item, CompValue):
            stack.extend(_children(item))
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
    return False


def _expression_keeps_this(node: CompValue) -> bool:
    """False when rdflib would evaluate this node's expression without a join-bound `?this`."""
    if node.name not in ("LeftJoin", "Filter", "Extend"):
        return True  # expressions themselves are checked through the node that evaluates them
    expr = OrderedDict.get(node, "expr")
    if expr is None or not _mentions_this(expr):
        return True
    if node.name == "LeftJoin":
        # evalLeftJoin tests the filter on `b.forget(ctx)`: only pre-bindings survive.
        return False
    # evalFilter / evalExtend keep the variables of the node's own pattern.
    kept = OrderedDict.get(node, "_vars") or set()
    return THIS in kept


def joinable(pattern: object) -> bool:
    """True when joining `pattern` with `VALUES ?this` gives, per focus node, what
    evaluating it with `?this` pre-bound gives (see the module doc)."""
    stack = [pattern]
    while stack:
        item = stack.pop()
        if isinstance(item, CompValue):
            if item.name in _PER_FOCUS_ONLY or not _expression_keeps_this(item):
                return False
            stack.extend(_children(item))
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return True


def prepare(text: str, namespaces: Mapping[str, str]) -> Query:
    """`text` parsed and translated as `rdflib.Graph.query` would, with `namespaces`
    as the initial prefixes (rdflib passes the data graph's)."""
    return translateQuery(parseQuery(text), None, dict(namespaces))


def _top_project(query: Query) -> CompValue | None:
    """The Project of a plain SELECT (under at most DISTINCT/REDUCED), else None."""
    node = query.algebra
    if node.name != "SelectQuery":
        return None
    node = node.p
    if node.name in ("Distinct", "Reduced"):
        node = node.p
    return node if node.name == "Project" else None


def _joined(query: Query, project: CompValue, focus: Sequence[Identifier]) -> Query:
    """`query` with its pattern joined to `VALUES ?this { focus }` and `?this` projected."""
    values = CompValue("ToMultiSet", p=CompValue("values", res=[{THIS: f} for f in focus]))
    join = CompValue("Join", p1=values, p2=project.p)
    join["lazy"] = True  # the VALUES side binds ?this for each evaluation of the pattern
    variables = list(project.PV) + ([THIS] if THIS not in project.PV else [])
    new_project = CompValue("Project", p=join, PV=variables)
    top = query.algebra
    inner = top.p
    if inner.name in ("Distinct", "Reduced"):
        inner = CompValue(inner.name, p=new_project)
    else:
        inner = new_project
    algebra = CompValue("SelectQuery", p=inner, PV=variables, datasetClause=None)
    return Query(query.prologue, algebra)


def _rows(result: rdflib.query.Result) -> Iterator[dict[str, Identifier]]:
    for row in result:
        assert isinstance(row, ResultRow)  # a SELECT's result holds rows
        yield {str(k): v for k, v in row.asdict().items()}


def solutions(
    graph: rdflib.Graph,
    query: Query,
    focus: Sequence[Identifier],
    bindings: Mapping[str, Identifier],
    binds_this: bool,
) -> list[Row]:
    """Every solution of `query` for every node of `focus`, in one evaluation when
    the query allows it. `bindings` are the other pre-bound variables
    (`$currentShape`); `binds_this` is False when pySHACL would not pre-bind
    `$this` (the text never names it): the query then does not depend on the
    focus node, and its solutions are every focus node's."""
    if not focus:
        return []
    if not binds_this:
        rows = list(_rows(graph.query(query, initBindings=dict(bindings))))
        return [Row(f, row) for f in focus for row in rows]
    project = _top_project(query)
    if project is None or not joinable(project.p):
        out: list[Row] = []
        for f in focus:
            result = graph.query(query, initBindings={**bindings, "this": f})
            out.extend(Row(f, row) for row in _rows(result))
        return out
    selected = THIS in project.PV
    out = []
    for row in _rows(graph.query(_joined(query, project, focus), initBindings=dict(bindings))):
        node = row["this"] if selected else row.pop("this")
        out.append(Row(node, row))
    return out
