"""The published mu: vocabulary (SPEC §3) as values, and its page: `mu vocabulary --out FILE`.

`load_vocabulary` reads the packaged `mu.ttl` (the same text the validator
uses) into sorted, frozen values; `vocabulary_html` renders them into one
self-contained page with an anchor per term. Both are pure and deterministic:
everything taken from the graph is sorted, and the page has no clock, host or
external fetch, so the committed `docs/vocabulary.html` is a fresh render.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import rdflib
from rdflib.namespace import OWL, RDF, RDFS

from mu.generator.compile.validate import vocabulary_graph
from mu.generator.reports.templating import environment

MU = "urn:mu:v1#"
ONTOLOGY_IRI = "urn:mu:v1"
# Prefixes a term's domain or range may use, for showing them as CURIEs.
PREFIXES = (
    ("mu", MU),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("rdfs", str(RDFS)),
    ("owl", str(OWL)),
)
PROPERTY_KINDS = (
    (OWL.ObjectProperty, "object property"),
    (OWL.DatatypeProperty, "datatype property"),
)


@dataclass(frozen=True)
class Term:
    """One class or property of the vocabulary, with its domain and range as sorted CURIEs."""

    iri: str
    curie: str
    kind: str  # "class" | "object property" | "datatype property"
    label: str
    comment: str
    domain: tuple[str, ...]
    range: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """The ontology header and its terms, classes and properties each sorted by CURIE."""

    iri: str
    title: str
    version: str
    description: str
    classes: tuple[Term, ...]
    properties: tuple[Term, ...]


def curie(iri: str) -> str:
    """`iri` as `prefix:local` when a known prefix fits, else the IRI itself."""
    for prefix, namespace in PREFIXES:
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


def _text(graph: rdflib.Graph, subject: rdflib.URIRef, predicate: rdflib.URIRef) -> str:
    # Sorted so that a term with two values (a mistake the tests catch) still
    # renders the same way on every run.
    return " ".join(sorted(str(o) for o in graph.objects(subject, predicate)))


def _curies(
    graph: rdflib.Graph, subject: rdflib.URIRef, predicate: rdflib.URIRef
) -> tuple[str, ...]:
    return tuple(sorted(curie(str(o)) for o in graph.objects(subject, predicate)))


def _term(graph: rdflib.Graph, subject: rdflib.URIRef, kind: str) -> Term:
    return Term(
        iri=str(subject),
        curie=curie(str(subject)),
        kind=kind,
        label=_text(graph, subject, RDFS.label),
        comment=_text(graph, subject, RDFS.comment),
        domain=_curies(graph, subject, RDFS.domain),
        range=_curies(graph, subject, RDFS.range),
    )


def _mu_subjects(graph: rdflib.Graph, rdf_type: rdflib.URIRef) -> list[rdflib.URIRef]:
    return [
        s
        for s in set(graph.subjects(RDF.type, rdf_type))
        if isinstance(s, rdflib.URIRef) and str(s).startswith(MU)
    ]


def vocabulary_from_graph(graph: rdflib.Graph) -> Vocabulary:
    """The vocabulary described by `graph`: its `owl:Ontology` header, classes and properties."""
    ontology = rdflib.URIRef(ONTOLOGY_IRI)
    classes = [_term(graph, s, "class") for s in _mu_subjects(graph, OWL.Class)]
    properties = [
        _term(graph, s, kind)
        for rdf_type, kind in PROPERTY_KINDS
        for s in _mu_subjects(graph, rdf_type)
    ]
    return Vocabulary(
        iri=ONTOLOGY_IRI,
        title=_text(graph, ontology, rdflib.URIRef("http://purl.org/dc/terms/title")),
        version=_text(graph, ontology, OWL.versionInfo),
        description=_text(graph, ontology, rdflib.URIRef("http://purl.org/dc/terms/description")),
        classes=tuple(sorted(classes, key=lambda t: t.curie)),
        properties=tuple(sorted(properties, key=lambda t: t.curie)),
    )


@functools.lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """The vocabulary of the packaged `mu.ttl` (read once per process)."""
    return vocabulary_from_graph(vocabulary_graph())


def anchor(term_curie: str) -> str:
    """The page anchor of a term: its CURIE with `:` as `-` (valid in an HTML id and a URL)."""
    return term_curie.replace(":", "-")


def vocabulary_html(v: Vocabulary) -> str:
    """One self-contained HTML page for `v`: an anchor per term, no script, no external fetch."""
    known = {t.curie for t in v.classes + v.properties}
    return environment().get_template("vocabulary.html.j2").render(
        v=v, known=known, anchor=anchor
    )
