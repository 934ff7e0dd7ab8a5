"""The load stage parses with pyoxigraph and builds the graphs rdflib's parser built:
the same triples, prefixes and files per subject (the rdflib load, kept here as the
reference), the same errors, and RDF 1.1 where the two parsers read Turtle differently."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import pytest
import rdflib
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rdflib.compare import isomorphic

from mu.generator.compile.digest import semantic_digest
from mu.generator.compile.load import (
    LoadedOntology,
    load_ontology,
    parse_turtle,
    read_sources,
    turtle_graph,
)
from mu.generator.compile.prefixes import order_free
from mu.generator.compile.validate import Namer
from mu.generator.errors import InputError, Location
from mu.generator.layout import controls_dir, shapes_dir

REPO = Path(__file__).resolve().parents[3]
XSD = "http://www.w3.org/2001/XMLSchema#"


def reference_load(directory: Path) -> LoadedOntology:
    """The load stage as it was: every file parsed by rdflib's Turtle parser."""
    control_files = read_sources(directory, controls_dir(directory))
    shape_files = read_sources(directory, shapes_dir(directory))
    data = rdflib.Graph()
    subject_files: dict[str, set[str]] = {}
    for source in control_files:
        single = rdflib.Graph()
        parse_turtle(source, single, directory)
        for prefix, namespace in sorted(single.namespaces()):
            data.bind(prefix, namespace, override=False)
        for subject in set(single.subjects()):
            subject_files.setdefault(subject.n3(), set()).add(source.path)
        data += single
    org_shapes = rdflib.Graph()
    for source in shape_files:
        parse_turtle(source, org_shapes, directory)
    return LoadedOntology(
        directory=directory,
        control_files=control_files,
        shape_files=shape_files,
        data=data,
        org_shapes=org_shapes,
        subject_files={k: tuple(sorted(v)) for k, v in sorted(subject_files.items())},
    )


def assert_loads_as_rdflib_did(directory: Path) -> LoadedOntology:
    new, old = load_ontology(directory), reference_load(directory)
    assert len(new.data) == len(old.data) and isomorphic(new.data, old.data)
    assert len(new.org_shapes) == len(old.org_shapes)
    assert isomorphic(new.org_shapes, old.org_shapes)
    assert sorted(new.data.namespaces()) == sorted(old.data.namespaces())
    assert sorted(new.org_shapes.namespaces()) == sorted(old.org_shapes.namespaces())

    def named(files: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        return {k: v for k, v in files.items() if not k.startswith("_:")}

    def blank(files: dict[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
        return sorted(v for k, v in files.items() if k.startswith("_:"))

    assert named(new.subject_files) == named(old.subject_files)
    assert blank(new.subject_files) == blank(old.subject_files)
    assert new.sources == old.sources
    return new


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    directory = root / "ontology"
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    (directory / "controls").mkdir(parents=True, exist_ok=True)
    return directory


def test_the_shipped_ontology_loads_as_rdflib_loaded_it() -> None:
    loaded = assert_loads_as_rdflib_did(REPO / "ontology")
    assert loaded.org_shapes and loaded.data
    assert Namer(loaded).term(rdflib.URIRef("https://acme.example/policy#L1")) == "ex:L1"


def test_a_synthetic_repository_loads_as_rdflib_loaded_it(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "mu_bench_synthetic", REPO / "benchmarks" / "synthetic.py"
    )
    assert spec is not None and spec.loader is not None
    synthetic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synthetic)
    root = synthetic.write_repository(tmp_path, 60)
    assert_loads_as_rdflib_did(root / "ontology")


H = "@prefix ex: <https://x.example/#> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"

# Turtle both parsers read alike: each must load to the graph rdflib's parser made.
AGREED = {
    "local names": H + "ex:a.b ex:p ex:1a , ex:c\\-d , ex:e%20f , ex:été .\n_:x.y ex:p ex:c .",
    "directives": "prefix ex: <https://x.example/#>\nPREFIX e: <https://e.example/#>\n"
    "@base <https://b.example/x/> .\nex:a e:p <../c> , <d#e> .\n"
    "BASE <https://c.example/>\n<f> ex:p <> .",
    "fragment and empty IRIs": "<> <urn:p> <#c> .",
    "statements": H + "ex:a ex:p ex:c ; .\nex:a ex:q ex:c ;; ex:r ex:d .\n[] ex:p ex:c .\n"
    "[ ex:p ex:d ] .\nex:a a ex:C .\nex:a ex:p ex:true . # no newline at the end",
    "collections": H + 'ex:a ex:p ( 1 2.0 3e0 "x" ex:b ( ) [ ex:q ( [ ex:r 2 ] ) ] ) .',
    "numbers and booleans": H + "ex:a ex:p 007 , +5 , -0 , .5 , -.5e3 , 1E3 , 1.0 , true , false .",
    "typed literals": H + 'ex:a ex:p "007"^^xsd:integer , "1"^^xsd:boolean , "v"^^<urn:dt> .',
    "lower-case language tags": H + 'ex:a ex:p "x"@en , "y"@de-ch .',
    "escapes": H + 'ex:a ex:p "\\t\\b\\f\\n\\r\\"\\\'\\\\\\u00e9\\U0001F600" , """a\n"b" """ ,'
    " '''c'd''' , \"\\u0000\" .\n<urn:a\\u0062> ex:p ex:c .",
    "a blank node label in two files": H + '_:b ex:p "1" .\nex:a ex:q _:b .',
}


@pytest.mark.parametrize("name", sorted(AGREED))
def test_turtle_both_parsers_read_alike_loads_as_before(name: str, tmp_path: Path) -> None:
    directory = write(
        tmp_path,
        {
            "controls/a.ttl": AGREED[name],
            "controls/b.ttl": AGREED["a blank node label in two files"],
            "shapes/s.ttl": AGREED[name],
        },
    )
    assert_loads_as_rdflib_did(directory)


# Prefixes whose bindings depend on the order they are declared in (rdflib renames a
# prefix taken by another namespace, `dc1`, and moves a namespace to its newest prefix):
# pyoxigraph reports them sorted, so the load takes rdflib's order, and the same
# `Namer` output follows.
PREFIXES = {
    "dce before dc": "@prefix dce: <http://purl.org/dc/elements/1.1/> .\n"
    "@prefix dc: <http://purl.org/dc/terms/> .\n<urn:a> dc:title dce:x .",
    "dc before dce": "@prefix dc: <http://purl.org/dc/terms/> .\n"
    "@prefix dce: <http://purl.org/dc/elements/1.1/> .\n<urn:a> dc:title dce:x .",
    "schema over http": "@prefix schema1: <urn:s1#> .\n@prefix schema: <http://schema.org/> .\n"
    "<urn:a> schema:name schema1:x .",
    "an own org": "@prefix org: <https://acme.example/org#> .\norg:a org:p org:c .",
    "two prefixes, one namespace": "@prefix b: <https://one/#> .\n@prefix a: <https://one/#> .\n"
    "b:x b:p b:c .",
    "a prefix declared twice": "@prefix ex: <https://one/#> .\nex:a ex:p ex:c .\n"
    "@prefix ex: <https://two/#> .\nex:a ex:p ex:c .",
    "the empty prefix": "@prefix : <https://e.example/#> .\n:a :p :c .",
    "owl moved": "@prefix myowl: <http://www.w3.org/2002/07/owl#> .\n@prefix owl: <urn:o#> .\n"
    "<urn:a> myowl:p owl:c .",
}


def test_prefixes_are_bound_as_rdflib_bound_them(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        f"controls/{i:02d}.ttl": text for i, text in enumerate(PREFIXES.values())
    }
    files.update({f"shapes/{i:02d}.ttl": text for i, text in enumerate(PREFIXES.values())})
    files["controls/99.ttl"] = "@prefix ex: <https://three/#> .\nex:a ex:p ex:c ."
    assert_loads_as_rdflib_did(write(tmp_path, files))
    alone = {}
    for name, text in PREFIXES.items():  # and each file alone, as the only source
        loaded = assert_loads_as_rdflib_did(write(tmp_path / name, {"controls/a.ttl": text}))
        alone[name] = {p: str(n) for p, n in loaded.data.namespaces()}
    # The prefix written last wins, not the one sorted last (and the cases can tell).
    assert alone["two prefixes, one namespace"].get("a") == "https://one/#"
    assert "b" not in alone["two prefixes, one namespace"]


def test_order_free_tells_the_order_dependent_cases() -> None:
    defaults = {p: str(n) for p, n in rdflib.Graph().namespaces()}
    dc = {"dc": "http://purl.org/dc/terms/", "dce": "http://purl.org/dc/elements/1.1/"}
    assert not order_free(dc, defaults)
    assert not order_free({"a": "urn:n#", "b": "urn:n#"}, defaults)
    assert order_free({"ex": "urn:ex#", "mu": "urn:mu:v1#", "xsd": XSD}, defaults)
    assert order_free({"org": "urn:org#", "ex": "urn:ex#"}, defaults)


PREFIX_NAMES = ["ex", "ex1", "dc", "dce", "dcterms", "schema", "schema1", "owl", "", "default1"]
NAMESPACES = [
    "urn:ex#",
    "urn:other#",
    "http://purl.org/dc/terms/",
    "http://purl.org/dc/elements/1.1/",
    "http://schema.org/",
    "https://schema.org/",
    "http://www.w3.org/2002/07/owl#",
]


def bound_in_order(order: list[tuple[str, str]]) -> list[tuple[str, str]]:
    graph = rdflib.Graph()
    for prefix, namespace in order:
        graph.bind(prefix, namespace)
    return sorted((p, str(n)) for p, n in graph.namespaces())


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(st.sampled_from(PREFIX_NAMES), st.sampled_from(NAMESPACES), max_size=4))
@example({"schema": "http://schema.org/", "schema1": "urn:ex#"})
@example({"": "urn:ex#", "default1": "urn:other#"})
@example({"dcterms": "urn:ex#", "ex": "http://purl.org/dc/terms/"})
def test_order_free_prefixes_bind_alike_in_every_order(prefixes: dict[str, str]) -> None:
    defaults = {p: str(n) for p, n in rdflib.Graph().namespaces()}
    if order_free(prefixes, defaults):
        results = {
            tuple(bound_in_order(list(order)))
            for order in itertools.permutations(prefixes.items())
        }
        assert len(results) == 1, prefixes


def test_relative_iris_resolve_against_the_base_which_rdflib_refused(tmp_path: Path) -> None:
    text = "<a> <urn:p> <../b> , <x/../y> .\n@prefix r: <rel#> .\nr:c <urn:p> <> ."
    directory = write(tmp_path, {"controls/a.ttl": text})
    with pytest.raises(InputError, match="has no slash after colon"):
        reference_load(directory)
    loaded = load_ontology(directory)
    assert set(loaded.data) == {
        (rdflib.URIRef("urn:mu:base/a"), rdflib.URIRef("urn:p"), rdflib.URIRef("urn:b")),
        (rdflib.URIRef("urn:mu:base/a"), rdflib.URIRef("urn:p"), rdflib.URIRef("urn:mu:base/y")),
        (rdflib.URIRef("urn:mu:base/rel#c"), rdflib.URIRef("urn:p"), rdflib.URIRef("urn:mu:base/")),
    }
    # The digest always read them so: what is validated is what is hashed.
    same = write(
        tmp_path / "absolute",
        {
            "controls/a.ttl": "<urn:mu:base/a> <urn:p> <urn:b> , <urn:mu:base/y> .\n"
            "<urn:mu:base/rel#c> <urn:p> <urn:mu:base/> ."
        },
    )
    assert semantic_digest(loaded.sources) == semantic_digest(load_ontology(same).sources)


def test_a_version_announcement_is_read_which_rdflib_refused(tmp_path: Path) -> None:
    directory = write(tmp_path, {"controls/a.ttl": 'VERSION "1.2"\n<urn:a> <urn:b> <urn:c> .'})
    with pytest.raises(InputError):
        reference_load(directory)
    assert len(load_ontology(directory).data) == 1


def test_literals_follow_rdf_1_1_where_rdflib_kept_the_spelling(tmp_path: Path) -> None:
    # `"x"^^xsd:string` is the literal `"x"`, and language tags are case-insensitive
    # (rdflib compares them so; the digest always wrote them lower-case).
    text = f'<urn:a> <urn:p> "x"^^<{XSD}string> , "y"@EN-gb .'
    loaded = load_ontology(write(tmp_path, {"controls/a.ttl": text}))
    assert set(loaded.data.objects()) == {rdflib.Literal("x"), rdflib.Literal("y", lang="en-gb")}
    assert {o.n3() for o in loaded.data.objects()} == {'"x"', '"y"@en-gb'}


BROKEN: dict[str, str | bytes] = {
    "an unterminated string": '@prefix ex: <https://a#> .\n\nex:a ex:b "open .\n',
    "an undeclared prefix": "ex:a ex:b ex:c .",
    "a triple term": "<urn:a> <urn:b> <<( <urn:c> <urn:d> <urn:e> )>> .",
    "an annotation": "<urn:a> <urn:b> <urn:c> {| <urn:d> <urn:e> |} .",
    "a base direction": '<urn:a> <urn:b> "x"@en--ltr .',
    "a named graph": "GRAPH <urn:g> { <urn:a> <urn:p> <urn:c> }",
    "bytes that are not UTF-8": b'<urn:a> <urn:b> "\xff" .',
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_file_rdflib_refused_is_refused_with_rdflibs_error(name: str, tmp_path: Path) -> None:
    directory = write(tmp_path, {"controls/a.ttl": H, "shapes/z.ttl": BROKEN[name]})
    with pytest.raises(InputError) as old:
        reference_load(directory)
    with pytest.raises(InputError) as new:
        load_ontology(directory)
    assert (new.value.message, new.value.hint) == (old.value.message, old.value.hint)
    assert new.value.location == old.value.location


def test_a_syntax_error_keeps_rdflibs_line_and_column(tmp_path: Path) -> None:
    directory = write(tmp_path, {"controls/b.ttl": BROKEN["an unterminated string"]})
    with pytest.raises(InputError) as info:
        load_ontology(directory)
    assert info.value.location == Location(f"{directory.as_posix()}/controls/b.ttl", 3, 18)


def test_a_file_only_pyoxigraph_refuses_loads_as_before_and_the_digest_refuses_it(
    tmp_path: Path,
) -> None:
    # rdflib reads a lone surrogate escape and an IRI with a space; pyoxigraph, and so the
    # digest stage, never did: `mu validate` reports on such a file as before.
    for name, line, column in (('"\\uD800"', 3, 12), ("<urn:a b>", 3, 11)):
        text = H + f"ex:a ex:p {name} ."
        directory = write(tmp_path / str(column), {"controls/a.ttl": text})
        loaded = load_ontology(directory)
        assert len(loaded.data) == len(reference_load(directory).data) == 1
        assert loaded.control_files[0].nquads is None
        with pytest.raises(InputError) as info:
            semantic_digest(loaded.sources)
        assert info.value.message.startswith("turtle syntax error in `controls/a.ttl:3`: ")
        assert info.value.location == Location("controls/a.ttl", line, column)


def test_blank_node_labels_are_scoped_to_their_file(tmp_path: Path) -> None:
    same = '_:b <urn:p> "1" .'
    loaded = load_ontology(write(tmp_path, {"controls/a.ttl": same, "controls/b.ttl": same}))
    assert len(loaded.data) == 2
    blank = sorted(v for k, v in loaded.subject_files.items() if k.startswith("_:"))
    assert blank == [("controls/a.ttl",), ("controls/b.ttl",)]


def test_one_file_reads_as_its_own_graph_as_rdflib_read_it(tmp_path: Path) -> None:
    # For the checks that read one file at a time (a shapes file's SPARQL, say).
    shipped = read_sources(REPO / "ontology", REPO / "ontology" / "shapes")
    directory = write(tmp_path, {f"controls/{i}.ttl": t for i, t in enumerate(PREFIXES.values())})
    for source in shipped + read_sources(directory, directory / "controls"):
        old = rdflib.Graph()
        parse_turtle(source, old)
        new = turtle_graph(source)
        assert isomorphic(new, old) and len(new) == len(old)
        assert sorted(new.namespaces()) == sorted(old.namespaces())
    other = write(tmp_path / "r", {"controls/r.ttl": "<a> <b> <c> ."})
    relative = read_sources(other, other / "controls")
    assert set(turtle_graph(relative[0]).subjects()) == {rdflib.URIRef("urn:mu:base/a")}
