"""The organisation's shapes (Σ) as canonical lines, for `mu diff` to compare shape by shape.

Each IRI subject of Σ is described by its Concise Bounded Description (its
triples, the blank nodes they reach, and the reifications of those triples,
as rdflib's `Graph.cbd` defines it), canonicalised with W3C RDFC-1.0 by
pyoxigraph and written one triple per line in N3 with fixed prefixes. An
unchanged shape gives the same lines on both sides whatever the parser named
its blank nodes, so only real changes are reported.

This is the diff's view of Σ, never the digest bound into receipts
(`compile/digest.py` hashes O ∪ Σ on its own and is not touched here).
pyoxigraph canonicalises in Rust; rdflib's canonicaliser took seconds for a
Σ of a few dozen shapes with lists and shared structure. rdflib is kept
only to write each term in N3, so a line reads as it did, but for three
things RDF 1.1 says cannot differ anyway: blank nodes are labelled
`_:b<hash>` (see `_stable_labels`), language tags are lower-case, and
`"x"^^xsd:string` is written `"x"`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyoxigraph as ox
import rdflib
from rdflib.namespace import NamespaceManager

from mu.generator.compile.load import BASE_IRI, SourceFile
from mu.generator.hashing import sha256_hex

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_SUBJECT = ox.NamedNode(RDF_NS + "subject")
RDF_PREDICATE = ox.NamedNode(RDF_NS + "predicate")
RDF_OBJECT = ox.NamedNode(RDF_NS + "object")
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = RDF_NS + "langString"

Node = ox.NamedNode | ox.BlankNode
# RDF 1.2 quoted triples parse in pyoxigraph but never in rdflib, which loaded Σ first.
Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


def _namespaces() -> NamespaceManager:
    # Fixed prefixes, so a prefix renamed in Turtle is not reported as a change.
    manager = NamespaceManager(rdflib.Graph(), bind_namespaces="core")
    manager.bind("sh", "http://www.w3.org/ns/shacl#")
    manager.bind("mu", "urn:mu:v1#")
    return manager


def _triples(sources: Sequence[SourceFile]) -> set[ox.Triple]:
    """The union of `sources` (already parsed once by the compiler, so well-formed)."""
    out: set[ox.Triple] = set()
    for index, source in enumerate(sources):
        # Blank-node labels are scoped to one document: make them unique per file.
        def relabel(node: ox.BlankNode, index: int = index) -> ox.BlankNode:
            return ox.BlankNode(f"f{index}x{node.value}")

        for t in ox.parse(source.data, format=ox.RdfFormat.TURTLE, base_iri=BASE_IRI):
            s, o = t.subject, t.object
            out.add(
                ox.Triple(
                    relabel(s) if isinstance(s, ox.BlankNode) else s,
                    t.predicate,
                    relabel(o) if isinstance(o, ox.BlankNode) else o,
                )
            )
    return out


class _Index:
    """Triples by subject, and reifying statements (`?stmt rdf:subject s`) by subject."""

    def __init__(self, triples: Iterable[ox.Triple]) -> None:
        self.by_subject: dict[Node, list[ox.Triple]] = {}
        for t in triples:
            self.by_subject.setdefault(t.subject, []).append(t)  # type: ignore[arg-type]
        self.reifiers: dict[Term, list[Node]] = {}
        for subject, ts in self.by_subject.items():
            for t in ts:
                if t.predicate == RDF_SUBJECT:
                    self.reifiers.setdefault(t.object, []).append(subject)

    def _values(self, subject: Node, predicate: ox.NamedNode) -> list[Term]:
        return [t.object for t in self.by_subject.get(subject, ()) if t.predicate == predicate]

    def cbd(self, resource: Node) -> set[ox.Triple]:
        """The Concise Bounded Description of `resource`, by the rules of rdflib's `Graph.cbd`."""
        out: set[ox.Triple] = set()
        described: set[Node] = set()

        def add(node: Node) -> None:
            described.add(node)
            # Rule 3 preparation: (predicate, object) of a triple of `node` → the
            # statements that reify it.
            reified: dict[tuple[Term, Term], list[Node]] = {}
            for stmt in self.reifiers.get(node, ()):
                for p in self._values(stmt, RDF_PREDICATE):
                    for o in self._values(stmt, RDF_OBJECT):
                        reified.setdefault((p, o), []).append(stmt)
            for t in self.by_subject.get(node, ()):
                out.add(t)  # Rule 1: every triple of the node
                if isinstance(t.object, ox.BlankNode) and t.object not in described:
                    add(t.object)  # Rule 2: down through blank nodes
                for stmt in reified.get((t.predicate, t.object), ()):
                    if stmt not in described:
                        add(stmt)  # Rule 3: the reifications of the triple

        add(resource)
        return out


def _rdflib(term: Term) -> rdflib.term.Identifier:
    """`term` as the rdflib term the Turtle parser would have made, for `n3()`."""
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Triple):
        raise ValueError("a quoted triple in Σ, which rdflib could not have loaded")
    datatype = term.datatype.value
    if term.language is not None or datatype == RDF_LANG_STRING:
        return rdflib.Literal(term.value, lang=term.language)
    # RDF 1.1: a plain literal is an xsd:string; rdflib writes it without a datatype.
    if datatype == XSD_STRING:
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(datatype))


def _nquad_term(term: Term, me: ox.BlankNode) -> str:
    if isinstance(term, ox.BlankNode):
        return "_:a" if term == me else "_:z"
    return str(term)


def _stable_labels(quads: Sequence[ox.Quad]) -> dict[ox.BlankNode, rdflib.BNode]:
    """A label for each blank node from its own neighbourhood, not from its rank.

    RDFC-1.0 numbers blank nodes c14n0, c14n1, … in the order of their hashes,
    so one changed literal can renumber every blank node of a shape and make
    the whole shape look changed. The label here is the RDFC-1.0 first-degree
    hash of the node (its triples, itself as `_:a`, other blank nodes as `_:z`),
    so a change relabels only the node it touches; nodes whose neighbourhoods
    hash alike are told apart by their canonical order, which is stable.
    """
    seen: dict[ox.BlankNode, list[str]] = {}
    for q in quads:
        for node in {t for t in (q.subject, q.object) if isinstance(t, ox.BlankNode)}:
            s, o = _nquad_term(q.subject, node), _nquad_term(q.object, node)
            seen.setdefault(node, []).append(f"{s} {q.predicate} {o} .\n")
    hashes = {
        node: sha256_hex("".join(sorted(lines)).encode("utf-8")) for node, lines in seen.items()
    }
    by_hash: dict[str, list[ox.BlankNode]] = {}
    # Canonical (RDFC-1.0) order within a hash: the only stable way to tell twins apart.
    for node in sorted(seen, key=lambda n: int(n.value.removeprefix("c14n"))):
        by_hash.setdefault(hashes[node], []).append(node)
    labels = {}
    for digest, nodes in by_hash.items():
        for rank, node in enumerate(nodes):
            suffix = f"n{rank}" if len(nodes) > 1 else ""
            labels[node] = rdflib.BNode(f"b{digest[:12]}{suffix}")
    return labels


def _lines(triples: Iterable[ox.Triple], names: NamespaceManager) -> tuple[str, ...]:
    dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
    # Canonical blank-node labels are derived from structure, so an unchanged
    # shape gives the same lines on both sides whatever the parser named them.
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    quads = list(dataset)
    labels = _stable_labels(quads)

    def n3(term: Term) -> str:
        node = labels[term] if isinstance(term, ox.BlankNode) else _rdflib(term)
        return node.n3(names)

    return tuple(
        sorted(
            " ".join(n3(term) for term in (q.subject, q.predicate, q.object)).replace("\n", "\\n")
            for q in quads
        )
    )


def shape_lines(sources: Sequence[SourceFile]) -> dict[str, tuple[str, ...]]:
    """Each IRI subject of the union of `sources` → its canonical lines, sorted by IRI."""
    index = _Index(_triples(sources))
    names = _namespaces()
    subjects = sorted(
        (s for s in index.by_subject if isinstance(s, ox.NamedNode)), key=lambda s: s.value
    )
    return {s.value: _lines(index.cbd(s), names) for s in subjects}
