"""The vocabulary page: values read from mu.ttl, one self-contained page, never stale.

The committed `docs/vocabulary.html` must equal a fresh render, so a change to
mu.ttl or the template without `mu vocabulary --out docs/vocabulary.html`
fails here; every class and property of mu.ttl (read independently with
rdflib) must be on the page with its own anchor.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import rdflib
from rdflib.namespace import OWL, RDF, RDFS

from mu.generator.reports.vocabulary import (
    Term,
    Vocabulary,
    anchor,
    load_vocabulary,
    vocabulary_from_graph,
    vocabulary_html,
)

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "vocabulary.html"
VOCAB = ROOT / "generator" / "compile" / "vocab" / "mu.ttl"
MU = "urn:mu:v1#"


def _mu_terms(rdf_type: rdflib.URIRef) -> set[str]:
    graph = rdflib.Graph().parse(VOCAB, format="turtle")
    return {
        "mu:" + str(s)[len(MU) :]
        for s in graph.subjects(RDF.type, rdf_type)
        if str(s).startswith(MU)
    }


def test_the_committed_page_is_a_fresh_render() -> None:
    fresh = vocabulary_html(load_vocabulary())
    assert PAGE.read_text(encoding="utf-8") == fresh, (
        "docs/vocabulary.html is stale: run `mu vocabulary --out docs/vocabulary.html`"
    )


def test_the_page_lists_every_class_and_property_of_mu_ttl() -> None:
    page = PAGE.read_text(encoding="utf-8")
    terms = _mu_terms(RDFS.Class) | _mu_terms(RDF.Property)
    assert len(terms) == 39
    for curie in sorted(terms):
        assert f'<section class="term" id="{anchor(curie)}">' in page, curie
        assert f'href="#{anchor(curie)}"' in page, curie


def test_the_values_are_sorted_and_typed() -> None:
    v = load_vocabulary()
    assert (v.iri, v.title, v.version) == ("urn:mu:v1", "mu vocabulary", "1")
    assert v.description
    assert {t.curie for t in v.classes} == _mu_terms(RDFS.Class)
    assert {t.curie for t in v.properties} == _mu_terms(RDF.Property)
    for terms in (v.classes, v.properties):
        assert [t.curie for t in terms] == sorted(t.curie for t in terms)
    assert {t.kind for t in v.classes} == {"class"}
    assert {t.kind for t in v.properties} == {"object property", "datatype property"}
    by_curie = {t.curie: t for t in v.properties}
    assert by_curie["mu:rank"] == Term(
        iri="urn:mu:v1#rank",
        curie="mu:rank",
        kind="datatype property",
        label="rank",
        comment=by_curie["mu:rank"].comment,
        domain=("mu:AuthorityLevel",),
        range=("xsd:integer",),
    )
    assert by_curie["mu:requiredAuthority"].kind == "object property"
    assert by_curie["mu:datatype"].range == ("rdfs:Class",)


def test_domains_and_ranges_are_sorted_curies() -> None:
    graph = rdflib.Graph()
    p = rdflib.URIRef(MU + "p")
    graph.add((p, RDF.type, OWL.ObjectProperty))
    for cls in ("Zeta", "Alpha"):
        graph.add((p, RDFS.domain, rdflib.URIRef(MU + cls)))
    graph.add((p, RDFS.range, rdflib.URIRef("https://other.example/x")))
    (term,) = vocabulary_from_graph(graph).properties
    assert term.domain == ("mu:Alpha", "mu:Zeta")
    assert term.range == ("https://other.example/x",)


def test_the_page_is_self_contained() -> None:
    page = vocabulary_html(load_vocabulary())
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert re.search(r"""(?:src|href)=["'](?!#)""", page) is None
    assert "url(" not in page and "@import" not in page


def test_user_text_is_escaped() -> None:
    v = load_vocabulary()
    hostile = replace(v.classes[0], label="<script>alert(1)</script>", comment='a "b" & c')
    page = vocabulary_html(
        Vocabulary(v.iri, "<b>t</b>", v.version, v.description, (hostile,), v.properties)
    )
    assert "<script>" not in page and "<b>t</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &#34;b&#34; &amp; c" in page


def test_the_render_is_deterministic() -> None:
    v = load_vocabulary()
    assert vocabulary_html(v) == vocabulary_html(v)
    assert vocabulary_from_graph(rdflib.Graph().parse(VOCAB)) == v
