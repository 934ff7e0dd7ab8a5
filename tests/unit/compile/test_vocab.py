"""The published mu: vocabulary (SPEC §3) is complete enough for OWL tools.

pyLODE, WIDOCO and Protégé list only `owl:Class`es and `owl:*Property`s, and a
term without a domain, range, label or comment shows up as a hole in their
pages; these tests read the packaged `mu.ttl` with rdflib and check each rule
term by term, so a term added later without them fails here by name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS

from mu.generator.compile.pipeline import validate_directory
from mu.generator.compile.validate import vocabulary_graph

ROOT = Path(__file__).resolve().parents[3]
MU = "urn:mu:v1#"
# A string, not rdflib's closed XSD namespace, which pytest's collection trips over.
XSD = "http://www.w3.org/2001/XMLSchema#"
GRAPH = vocabulary_graph()


def _mu(rdf_type: rdflib.URIRef) -> list[rdflib.URIRef]:
    return sorted(
        s
        for s in set(GRAPH.subjects(RDF.type, rdf_type))
        if isinstance(s, rdflib.URIRef) and str(s).startswith(MU)
    )


CLASSES = _mu(RDFS.Class)
PROPERTIES = _mu(RDF.Property)
OWL_PROPERTY_TYPES = (OWL.ObjectProperty, OWL.DatatypeProperty)


def test_the_vocabulary_has_the_terms_of_the_spec() -> None:
    # A guard that the lists the parametrised tests walk are not empty.
    assert len(CLASSES) == 13
    assert len(PROPERTIES) == 26


@pytest.mark.parametrize("term", CLASSES, ids=str)
def test_every_class_is_an_owl_class(term: rdflib.URIRef) -> None:
    assert (term, RDF.type, OWL.Class) in GRAPH


def test_every_owl_class_is_an_rdfs_class() -> None:
    # SHACL (sh:targetClass, sh:class) keeps reading rdfs:Class; OWL is in addition.
    assert _mu(OWL.Class) == CLASSES


@pytest.mark.parametrize("term", PROPERTIES, ids=str)
def test_every_property_has_one_owl_kind_a_domain_and_a_range(term: rdflib.URIRef) -> None:
    kinds = [k for k in OWL_PROPERTY_TYPES if (term, RDF.type, k) in GRAPH]
    assert len(kinds) == 1, kinds
    domains = list(GRAPH.objects(term, RDFS.domain))
    ranges = list(GRAPH.objects(term, RDFS.range))
    assert len(domains) == 1 and domains[0] in CLASSES
    assert len(ranges) == 1
    (range_,) = ranges
    if kinds[0] == OWL.DatatypeProperty:
        # A datatype property points at literals: an XSD datatype or rdfs:Literal.
        assert str(range_).startswith(XSD) or range_ == RDFS.Literal
    else:
        assert range_ in CLASSES or range_ == RDFS.Class


def test_datatype_ranges_over_classes() -> None:
    # mu:datatype names xsd:decimal … or mu:AuthorityLevel: both are classes
    # (rdfs:Datatype is a subclass of rdfs:Class), never literals.
    assert (rdflib.URIRef(MU + "datatype"), RDFS.range, RDFS.Class) in GRAPH
    assert (rdflib.URIRef(MU + "datatype"), RDF.type, OWL.ObjectProperty) in GRAPH


@pytest.mark.parametrize("term", CLASSES + PROPERTIES, ids=str)
def test_every_term_has_one_label_and_one_comment(term: rdflib.URIRef) -> None:
    for predicate in (RDFS.label, RDFS.comment):
        values = list(GRAPH.objects(term, predicate))
        assert len(values) == 1, (predicate, values)
        assert isinstance(values[0], rdflib.Literal) and str(values[0]).strip()


def test_the_header_is_an_owl_ontology_with_title_version_and_description() -> None:
    ontology = rdflib.URIRef("urn:mu:v1")
    assert (ontology, RDF.type, OWL.Ontology) in GRAPH
    for predicate in (DCTERMS.title, DCTERMS.description, OWL.versionInfo):
        assert str(GRAPH.value(ontology, predicate) or "").strip(), predicate


def test_the_shapes_still_validate_the_shipped_example() -> None:
    # Validation merges mu.ttl into the data graph (inference none): the OWL
    # types must not make any shape fire on the repository's own ontology.
    checked = validate_directory(ROOT / "ontology")
    assert checked.report.conforms, checked.report.violations
    assert checked.ontology is not None
    assert not checked.report.results
