"""Σ as canonical lines for `mu diff` (pyoxigraph RDFC-1.0): the same lines as rdflib's
canonicaliser gave, up to blank-node labels, and the same whatever the Turtle looks like."""

from __future__ import annotations

import re

import rdflib
from rdflib.compare import to_canonical_graph

from mu.generator.compile.load import BASE_IRI, SourceFile
from mu.generator.hashing import sha256_hex
from mu.generator.review.canonical import shape_lines
from tests.conftest import REPO

HEADER = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix mu: <urn:mu:v1#> .
@prefix ex: <https://x.example/#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
"""
# Lists, nested and cyclic blank nodes, typed and language-tagged literals, and a
# reified triple: every path through the Concise Bounded Description.
AWKWARD = HEADER + """
ex:S a sh:NodeShape ; sh:targetClass mu:ApprovalRule ;
    sh:property [ sh:path mu:owner ; sh:minCount 01 ; sh:message "line\\none" , "deux"@fr ] ,
                [ sh:path mu:amountThreshold ; sh:minInclusive 1.50 , 1e3 , true ] ;
    sh:or ( [ sh:path mu:when ; sh:minCount 1 ] [ sh:path mu:dependsOn ; sh:minCount 1 ] ) ;
    ex:loop _:l1 .
_:l1 ex:next _:l2 . _:l2 ex:next _:l1 .
_:st rdf:subject ex:S ; rdf:predicate sh:targetClass ; rdf:object mu:ApprovalRule ;
    ex:why [ ex:deep 1 ] .
_:other rdf:subject ex:S ; rdf:predicate sh:targetClass ; rdf:object mu:Other .
ex:T a sh:NodeShape ; sh:targetNode ex:nothing .
"""


def source(path: str, text: str) -> SourceFile:
    data = text.encode("utf-8")
    return SourceFile(path, data, sha256_hex(data))


def rdflib_lines(sources: list[SourceFile]) -> dict[str, list[str]]:
    """What `mu diff` showed before pyoxigraph: rdflib's CBD and canonical graph, in N3."""
    graph = rdflib.Graph()
    for s in sources:
        graph.parse(data=s.data.decode("utf-8"), format="turtle", publicID=BASE_IRI)
    names = rdflib.namespace.NamespaceManager(rdflib.Graph(), bind_namespaces="core")
    names.bind("sh", "http://www.w3.org/ns/shacl#")
    names.bind("mu", "urn:mu:v1#")
    out = {}
    for subject in sorted({s for s in graph.subjects() if isinstance(s, rdflib.URIRef)}):
        canonical = to_canonical_graph(graph.cbd(subject))
        out[str(subject)] = sorted(
            " ".join(t.n3(names) for t in triple).replace("\n", "\\n") for triple in canonical
        )
    return out


def unlabelled(lines: tuple[str, ...] | list[str]) -> list[str]:
    return sorted(re.sub(r"_:\w+", "_:b", line) for line in lines)


def test_the_lines_are_rdflibs_up_to_blank_node_labels() -> None:
    shipped = [
        source(p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8"))
        for p in sorted((REPO / "ontology" / "shapes").glob("*.ttl"))
    ]
    core = source("shapes/core.ttl", (REPO / "generator/compile/vocab/shapes.ttl").read_text())
    for sources in (shipped, [core], [source("shapes/a.ttl", AWKWARD)]):
        new, old = shape_lines(sources), rdflib_lines(sources)
        assert list(new) == list(old)
        for subject in old:
            assert unlabelled(new[subject]) == unlabelled(old[subject]), subject


def test_the_cbd_follows_blank_nodes_cycles_and_reifications() -> None:
    lines = shape_lines([source("shapes/a.ttl", AWKWARD)])
    s = lines["https://x.example/#S"]
    assert any('sh:message """line\\none"""' in line for line in s)
    assert sum("<https://x.example/#next>" in line for line in s) == 2  # the cycle, once
    assert any("<https://x.example/#deep>" in line for line in s)  # the reification's own CBD
    assert not any("mu:Other" in line for line in s)  # reifies a triple S does not have
    assert lines["https://x.example/#T"] == (
        "<https://x.example/#T> rdf:type sh:NodeShape",
        "<https://x.example/#T> sh:targetNode <https://x.example/#nothing>",
    )


def test_the_lines_ignore_labels_order_prefixes_and_files() -> None:
    a = shape_lines([source("shapes/a.ttl", AWKWARD)])
    # Other blank-node labels, another prefix for the same namespace, and T moved
    # first into a file of its own.
    body = AWKWARD.replace("_:l1", "_:zz").replace("_:st", "_:r9").replace("ex:", "e2:")
    head, tail = body.split("e2:T a sh:NodeShape")
    b = shape_lines(
        [
            source("shapes/1.ttl", HEADER.replace("ex:", "e2:") + "e2:T a sh:NodeShape" + tail),
            source("shapes/2.ttl", head),
        ]
    )
    assert a == b


def test_a_changed_literal_relabels_only_its_own_blank_node() -> None:
    # RDFC-1.0 alone numbers blank nodes by rank, so one change could renumber a
    # whole shape; the labels shown are per-node hashes, as rdflib's were.
    a = shape_lines([source("shapes/a.ttl", AWKWARD)])
    b = shape_lines([source("shapes/a.ttl", AWKWARD.replace('"deux"@fr', '"trois"@fr'))])
    assert a["https://x.example/#T"] == b["https://x.example/#T"]
    before, after = set(a["https://x.example/#S"]), set(b["https://x.example/#S"])
    # The property shape's four lines and the one line that points at it; nothing else.
    assert len(before - after) == len(after - before) == 5
    assert sum('"deux"@fr' in line for line in before - after) == 1
    assert sum('"trois"@fr' in line for line in after - before) == 1
    assert all("mu:owner" in line or "sh:property" in line or "sh:m" in line
               for line in before - after)


def test_blank_nodes_in_different_files_never_merge() -> None:
    text = HEADER + "ex:S sh:property _:p . _:p sh:path mu:owner .\n"
    other = HEADER + "ex:U sh:property _:p . _:p sh:path mu:code .\n"
    lines = shape_lines([source("shapes/1.ttl", text), source("shapes/2.ttl", other)])
    assert not any("mu:code" in line for line in lines["https://x.example/#S"])


def test_an_empty_sigma_has_no_lines() -> None:
    assert shape_lines([]) == {}
    assert shape_lines([source("shapes/e.ttl", HEADER)]) == {}
