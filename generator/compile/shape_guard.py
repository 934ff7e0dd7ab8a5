"""Refuse shapes whose SPARQL could reach outside the ontology, before SHACL runs.

Σ is foreign input: the organisation's shapes, or those inside a receipt's
snapshot. pySHACL runs the SPARQL of SPARQL-based constraints, targets,
constraint components, functions and rules with rdflib, which fetches what a
query names: `SERVICE` sends a query to any endpoint, `FROM`/`FROM NAMED`
load a graph from a URL or a local file, `LOAD` and the rest of SPARQL Update
change or fetch graphs. None of that is needed to check an ontology, so every
SPARQL text is parsed with rdflib's own SPARQL parser (the one that will run
it) and its parse tree is searched. A comment or a string literal cannot hide
a `SERVICE` from a parse tree, nor can a `\\u0053ERVICE` escape (the parser
expands escapes first); a query that does not parse is refused too, so
nothing is ever run that was not checked.

pySHACL pastes some text from the shapes graph into queries: the prefixes of
`sh:declare`, and IRIs (a shape's path replaces `$PATH`, target classes fill a
VALUES clause). IRIs and prefixes that could close the pasted term and open
new syntax (spaces, `<`, `>`, quotes, braces, control characters) are refused
as well, so the text that runs is the text that was checked.

`generator.compile.offline` blocks the network while pySHACL runs, as a second line
of defence; this module is the first, and the one that names the shape.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import rdflib
from pyparsing import ParseResults
from rdflib.namespace import SH
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

# Every predicate whose value SHACL, SHACL-AF or pySHACL run as SPARQL.
SPARQL_PREDICATES = (SH.select, SH.ask, SH.construct, SH.update)

# Characters RFC 3987 / SPARQL's IRIREF exclude; in an IRI pasted as `<…>` into
# a query they would end the IRI early and inject syntax.
_NOT_IN_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f-\x9f]')
# SPARQL's PN_PREFIX, approximately: a letter, then letters, digits, `_`, `-`,
# `.` (not last). Anything else could break out of `PREFIX p: <ns>`.
_PREFIX = re.compile(r"(?:[^\W\d_](?:[\w.-]*[\w-])?)?")

_UPDATE_OPERATIONS = {
    "Load": "LOAD",
    "Clear": "CLEAR",
    "Drop": "DROP",
    "Create": "CREATE",
    "Add": "ADD",
    "Move": "MOVE",
    "Copy": "COPY",
    "InsertData": "INSERT DATA",
    "DeleteData": "DELETE DATA",
    "DeleteWhere": "DELETE WHERE",
    "Modify": "DELETE/INSERT",
}


@dataclass(frozen=True)
class Refusal:
    """Why a node of a graph may not be evaluated; `node` is the one to name."""

    node: rdflib.term.Node
    reason: str


def _walk(tree: object) -> Iterator[CompValue]:
    """Every `CompValue` of a parse tree, iteratively (trees can be deep)."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, CompValue):
            yield item
            # OrderedDict.values: CompValue.__getitem__ would resolve variables.
            stack.extend(OrderedDict.values(item))
        elif isinstance(item, ParseResults | list | tuple):
            stack.extend(item)


def _show(term: object) -> str:
    if isinstance(term, rdflib.URIRef):
        return f"<{term}>"
    if isinstance(term, rdflib.Variable):
        return f"?{term}"
    if isinstance(term, CompValue) and term.name == "pname":
        return f"{term.get('prefix') or ''}:{term.get('localname') or ''}"
    return str(term)


def _remote_access(tree: object) -> list[str]:
    found = []
    for node in _walk(tree):
        if node.name == "ServiceGraphPattern":
            found.append(f"`SERVICE {_show(OrderedDict.get(node, 'term'))}`")
        elif node.name == "DatasetClause":
            if "named" in node:
                found.append(f"`FROM NAMED {_show(OrderedDict.get(node, 'named'))}`")
            else:
                found.append(f"`FROM {_show(OrderedDict.get(node, 'default'))}`")
    return sorted(set(found))


def _update_operations(text: str) -> list[str] | None:
    """The operations of `text` read as SPARQL Update, or None if it is not one."""
    try:
        tree = parseUpdate(text)
    except Exception:  # pyparsing and the escape expander raise assorted types
        return None
    ops = []
    for node in _walk(tree):
        if node.name in _UPDATE_OPERATIONS:
            op = _UPDATE_OPERATIONS[node.name]
            iri = OrderedDict.get(node, "iri")
            ops.append(f"`{op} {_show(iri)}`" if iri is not None else f"`{op}`")
    return sorted(set(ops)) or None


def _first_line(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def query_problems(text: str) -> tuple[str, ...]:
    """Why the SPARQL query `text` may not run; empty when it may.

    Refused: `SERVICE`, `FROM`, `FROM NAMED` anywhere in the query, any SPARQL
    Update, and text that does not parse as a SPARQL query.
    """
    try:
        tree = parseQuery(text)
    except Exception as exc:  # pyparsing, RecursionError, bad escapes: all "does not parse"
        ops = _update_operations(text)
        if ops:
            return (f"is SPARQL Update ({', '.join(ops)}), which changes or loads graphs",)
        return (f"does not parse as a SPARQL query: {_first_line(exc)}",)
    found = _remote_access(tree)
    return tuple(f"uses {what}, which reaches outside the ontology" for what in found)


def _local(predicate: rdflib.URIRef) -> str:
    return f"sh:{str(predicate).rsplit('#', 1)[-1]}"


def sparql_refusals(graph: rdflib.Graph) -> list[Refusal]:
    """Every SPARQL text in `graph` (see `SPARQL_PREDICATES`) that may not run."""
    out: list[Refusal] = []
    for predicate in SPARQL_PREDICATES:
        for node, value in graph.subject_objects(predicate):
            name = _local(predicate)
            if predicate == SH.update:
                reasons: tuple[str, ...] = (f"{name} is SPARQL Update, which mu never runs",)
            elif not isinstance(value, rdflib.Literal):
                reasons = (f"{name} must be a string holding a SPARQL query",)
            else:
                reasons = tuple(f"{name} {why}" for why in query_problems(str(value)))
            out.extend(Refusal(node, reason) for reason in reasons)
    return out


def _escaped(iri: str) -> str:
    shown = iri.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= 120 else shown[:117] + "..."


def _terms(graph: rdflib.Graph) -> Iterator[tuple[rdflib.term.Node, rdflib.URIRef]]:
    """(subject, IRI) for every IRI of `graph`, literal datatypes included."""
    for s, p, o in graph:
        for term in (s, p, o):
            if isinstance(term, rdflib.URIRef):
                yield s, term
            elif isinstance(term, rdflib.Literal) and term.datatype is not None:
                yield s, term.datatype


def pasted_text_refusals(graph: rdflib.Graph) -> list[Refusal]:
    """IRIs and `sh:declare` prefixes of a shapes graph that are unsafe to paste into SPARQL."""
    out: list[Refusal] = []
    seen: set[rdflib.URIRef] = set()
    for subject, iri in _terms(graph):
        if iri not in seen and _NOT_IN_IRI.search(str(iri)):
            seen.add(iri)
            out.append(
                Refusal(
                    subject,
                    f"IRI `{_escaped(str(iri))}` holds a character no IRI may hold "
                    '(a space, a control character or one of <>"{}|^`\\)',
                )
            )
    for declaration, prefix in graph.subject_objects(SH.prefix):
        if not _PREFIX.fullmatch(str(prefix)):
            out.append(
                Refusal(declaration, f"sh:prefix `{_escaped(str(prefix))}` is not a SPARQL prefix")
            )
    for declaration, namespace in graph.subject_objects(SH.namespace):
        if _NOT_IN_IRI.search(str(namespace)):
            out.append(
                Refusal(
                    declaration,
                    f"sh:namespace `{_escaped(str(namespace))}` holds a character no IRI may hold",
                )
            )
    return out


def shape_refusals(graph: rdflib.Graph) -> list[Refusal]:
    """Everything in the shapes graph `graph` that may not be evaluated."""
    return sparql_refusals(graph) + pasted_text_refusals(graph)
