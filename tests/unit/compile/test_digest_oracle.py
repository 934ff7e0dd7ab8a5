"""The semantic digest canonicalises only the quads with blank nodes: byte for byte the
digest of the whole dataset canonicalised at once (the computation receipts were made with,
kept here as the oracle)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pyoxigraph as ox
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.compile.digest import canonical_nquads, semantic_digest
from mu.generator.compile.load import BASE_IRI, SourceFile, load_ontology, read_sources
from mu.generator.hashing import sha256_hex
from mu.generator.layout import controls_dir, shapes_dir

REPO = Path(__file__).resolve().parents[3]


def oracle_nquads(sources: Sequence[SourceFile]) -> bytes:
    """The digest's input as first shipped: every quad of every file (blank-node labels
    made unique per file) in one dataset, canonicalised whole, lines sorted."""
    quads: list[ox.Quad] = []
    for index, source in enumerate(sources):

        def relabel(t: ox.BlankNode, index: int = index) -> ox.BlankNode:
            return ox.BlankNode(f"f{index}x{t.value}")

        for t in ox.parse(source.data, format=ox.RdfFormat.TURTLE, base_iri=BASE_IRI):
            s, o = t.subject, t.object
            quads.append(
                ox.Quad(
                    relabel(s) if isinstance(s, ox.BlankNode) else s,
                    t.predicate,
                    relabel(o) if isinstance(o, ox.BlankNode) else o,
                )
            )
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    text = ox.serialize(dataset, format=ox.RdfFormat.N_QUADS) or b""
    lines = sorted(line for line in text.split(b"\n") if line)
    return b"".join(line + b"\n" for line in lines)


def src(path: str, text: str) -> SourceFile:
    data = text.encode("utf-8")
    return SourceFile(path, data, sha256_hex(data))


def assert_same(sources: Sequence[SourceFile]) -> None:
    expected = oracle_nquads(sources)
    assert canonical_nquads(sources) == expected
    assert semantic_digest(sources) == sha256_hex(expected)


def raw_sources(directory: Path) -> tuple[SourceFile, ...]:
    return read_sources(directory, controls_dir(directory)) + read_sources(
        directory, shapes_dir(directory)
    )


def synthetic() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "mu_bench_synthetic", REPO / "benchmarks" / "synthetic.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_ontology_has_the_oracles_digest_loaded_or_not() -> None:
    directory = REPO / "ontology"
    loaded = load_ontology(directory)
    assert all(s.nquads for s in loaded.sources)  # the load stage's parse is handed on
    raw = raw_sources(directory)
    assert [s.nquads for s in raw] == [None] * len(raw)
    assert loaded.sources == raw  # the parse is derived, never compared
    assert b"_:c14n" in oracle_nquads(raw)  # there are blank nodes to canonicalise
    assert canonical_nquads(loaded.sources) == canonical_nquads(raw) == oracle_nquads(raw)


def test_a_synthetic_repository_has_the_oracles_digest(tmp_path: Path) -> None:
    root = synthetic().write_repository(tmp_path, 120)
    loaded = load_ontology(root / "ontology")
    expected = oracle_nquads(raw_sources(root / "ontology"))
    assert canonical_nquads(loaded.sources) == expected


P = "@prefix ex: <https://x.example/#> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"

CASES = {
    "duplicates across files": [
        P + 'ex:a ex:p "1" , ex:b .\nex:a ex:p "1" .',
        P + 'ex:a ex:p "1" .\nex:a ex:q [ ex:r 2 ] .',
        P + "ex:a ex:q [ ex:r 2 ] .",
    ],
    "one label in two files": [P + '_:b ex:p "1" .\nex:a ex:q _:b .', P + '_:b ex:p "1" .'],
    "literals": [
        P + 'ex:a ex:p "tab\\t quote\\" back\\\\ nl\\n é \\u00e9 \\U0001F600" , """long\n"x" """ ,'
        ' "x"@EN , "y"@en-GB , "1"^^xsd:integer , 007 , 1.50 , 2e3 , true ,'
        ' "x"^^xsd:string , "x" , "v"^^<urn:dt> , "_:b0 looks like a blank node" , "" .\n'
        'ex:a ex:q [ ex:r "_:b1" , "nested \\"quote\\"" ; ex:s "x"@en ] .'
    ],
    "blank nodes only": ['_:a <urn:p> _:b . _:b <urn:p> _:a . _:c <urn:p> "x" .'],
    "symmetric blank nodes": [
        P + "_:a ex:p _:b . _:b ex:p _:c . _:c ex:p _:a .\n"
        "_:d ex:p _:e . _:e ex:p _:f . _:f ex:p _:d .\n"
        "ex:root ex:has _:a , _:d .",
        P + "_:a ex:p _:b . _:b ex:p _:a . ex:root ex:has _:a .",
    ],
    "collections and nesting": [P + "ex:a ex:list ( 1 [ ex:p ( ) ] ( ex:b \"c\" ) ) ."],
    "no blank node at all": [P + "ex:a ex:p ex:b .", P + "ex:a ex:p ex:b . ex:c ex:p 1 ."],
    "empty and prefix-only files": ["", P, P + "ex:a ex:p [] ."],
    "relative IRIs": [
        "<a> <p> <../b> , <#c> , <> .",
        "@base <https://b.example/x/> .\n<a> <p> [] .",
    ],
}


def test_hand_written_cases_have_the_oracles_digest() -> None:
    for name, texts in CASES.items():
        sources = [src(f"controls/{i}.ttl", t) for i, t in enumerate(texts)]
        expected = oracle_nquads(sources)
        assert canonical_nquads(sources) == expected, name


def test_the_cases_can_tell_blank_nodes_apart() -> None:
    # The same label in two files is two nodes; in one file it is one (the oracle agrees).
    one = [src("a.ttl", '_:b <urn:p> "1" . _:b <urn:q> "2" .')]
    two = [src("a.ttl", '_:b <urn:p> "1" .'), src("b.ttl", '_:b <urn:q> "2" .')]
    assert semantic_digest(one) != semantic_digest(two)
    assert_same(one)
    assert_same(two)


IRIS = ["<urn:x:a>", "<urn:x:b>", "<https://x.example/#c>"]
LITERALS = [
    '"plain"',
    '"with \\"quote\\" and \\\\"',
    '"line\\nbreak\\ttab"',
    '"é ☃ \\U0001F600"',
    '"x"@en',
    '"x"@EN-gb',
    '"1"^^<http://www.w3.org/2001/XMLSchema#integer>',
    '"01"^^<http://www.w3.org/2001/XMLSchema#integer>',
    '"x"^^<http://www.w3.org/2001/XMLSchema#string>',
    '"_:b0"',
    '""',
]
BLANKS = ["_:b0", "_:b1", "_:b2", "_:b3", "[]"]
nodes = st.sampled_from(IRIS + BLANKS[:4])
objects = st.sampled_from(IRIS + BLANKS + LITERALS)
triples = st.tuples(nodes, st.sampled_from(IRIS), objects)
files = st.lists(st.lists(triples, max_size=8), min_size=1, max_size=3)


@settings(max_examples=120, deadline=None)
@given(files)
def test_random_graphs_with_blank_nodes_have_the_oracles_digest(
    texts: list[list[tuple[str, str, str]]],
) -> None:
    sources = [
        src(f"controls/{i}.ttl", "".join(f"{s} {p} {o} .\n" for s, p, o in triples))
        for i, triples in enumerate(texts)
    ]
    assert canonical_nquads(sources) == oracle_nquads(sources)
