"""Idempotence: same O and same μ give byte-identical A, across processes,
hash seeds, file layouts and Turtle formatting (SPEC §1 doctrine)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import rdflib

from mu.generator.files import read_tree
from tests.conftest import copy_repo, mu_process

pytestmark = pytest.mark.slow


def generate_in_process(root: Path, seed: str, out: str = "enforcers") -> dict[str, bytes]:
    run = mu_process("generate", "--output", out, cwd=root, seed=seed)
    assert run.code == 0, run.err
    return read_tree(root / out)


def test_two_processes_with_different_hash_seeds_write_identical_trees(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    first = generate_in_process(root, "1", "out-a")
    second = generate_in_process(root, "4242", "out-b")
    assert first and first == second


def reserialise(src: Path, dest: Path, *, seed: int) -> None:
    """Write the same triples as `src` with other prefixes, order, files and blank-node labels."""
    graph = rdflib.Graph()
    for path in sorted(src.rglob("*.ttl")):
        graph.parse(path, format="turtle")
    relabel: dict[str, str] = {}
    lines = []
    for s, p, o in graph:
        terms = []
        for term in (s, p, o):
            if isinstance(term, rdflib.BNode):
                relabel.setdefault(str(term), f"node{len(relabel) * 7 + 3}")
                terms.append(f"_:{relabel[str(term)]}")
            else:
                terms.append(term.n3())
        lines.append(" ".join(terms) + " .")
    random.Random(seed).shuffle(lines)
    dest.mkdir(parents=True)
    # N-Triples is valid Turtle; add unused, differently named prefixes for good measure.
    header = "@prefix zz: <urn:mu:v1#> .\n@prefix org: <https://acme.example/policy#> .\n"
    (dest / "all-in-one.ttl").write_text(header + "\n".join(lines) + "\n", encoding="utf-8")


def reformat_turtle(src: Path, dest: Path) -> None:
    """Turtle re-serialised by rdflib with renamed prefixes, split differently."""
    graph = rdflib.Graph()
    for path in sorted(src.rglob("*.ttl")):
        graph.parse(path, format="turtle")
    out = rdflib.Graph()
    out.bind("m", "urn:mu:v1#", override=True, replace=True)
    out.bind("acme", "https://acme.example/policy#", override=True, replace=True)
    for triple in graph:
        out.add(triple)
    dest.mkdir(parents=True)
    (dest / "z-reformatted.ttl").write_text(out.serialize(format="turtle"), encoding="utf-8")


def test_reserialised_ontology_compiles_to_the_same_bytes(tmp_path: Path) -> None:
    original = copy_repo(tmp_path / "original")
    expected = generate_in_process(original, "7")

    shuffled = tmp_path / "shuffled"
    copy_repo(shuffled)
    for sub in ("controls", "shapes"):
        target = shuffled / "ontology" / sub
        for f in target.glob("*.ttl"):
            f.unlink()
        target.rmdir()
    reserialise(original / "ontology" / "controls", shuffled / "ontology" / "controls", seed=1)
    reformat_turtle(original / "ontology" / "shapes", shuffled / "ontology" / "shapes")
    text = (shuffled / "ontology" / "controls" / "all-in-one.ttl").read_text(encoding="utf-8")
    assert re.search(r"_:node\d+", text)  # the blank nodes really were relabelled

    assert generate_in_process(shuffled, "99") == expected

    validate_a = mu_process("validate", "--format", "json", cwd=original)
    validate_b = mu_process("validate", "--format", "json", cwd=shuffled)
    assert validate_a.code == validate_b.code == 0


def test_semantic_digest_ignores_formatting_but_not_content(tmp_path: Path) -> None:
    from mu.generator.compile.digest import semantic_digest
    from mu.generator.compile.load import load_ontology

    original = copy_repo(tmp_path / "original")
    other = tmp_path / "other"
    copy_repo(other)
    controls = other / "ontology" / "controls"
    for f in controls.glob("*.ttl"):
        f.unlink()
    controls.rmdir()
    reserialise(original / "ontology" / "controls", controls, seed=2)
    a = semantic_digest(load_ontology(original / "ontology").sources)
    b = semantic_digest(load_ontology(other / "ontology").sources)
    assert a == b
    extra = controls / "extra.ttl"
    extra.write_text('<urn:x#a> <urn:x#b> "c" .\n', encoding="utf-8")
    assert semantic_digest(load_ontology(other / "ontology").sources) != a
