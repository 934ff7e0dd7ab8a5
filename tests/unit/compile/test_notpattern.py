"""`sh:not` of a pattern-only shape becomes one pattern for pySHACL, with the same report."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import SH

from mu.generator.compile.load import load_ontology
from mu.generator.compile.notpattern import inline_negated_patterns, negated
from mu.generator.compile.validate import core_shapes_graph, shacl_validate

ROOT = Path(__file__).resolve().parents[3]
CONTROL_CHARACTER = "[\\x00-\\x1F\\x7F-\\x9F]"  # mu:ControlCharacter's pattern, as pySHACL reads it

STRINGS = [
    "", "a", "abc", "x\n", "\nx", "\t", "a\tb", "x\x7fy", "\x85", "\x9f", "\xa0", "é", "a\u2028b",
    "USD\n", "\x00", "line\r\n",
]  # fmt: skip


@pytest.mark.parametrize("text", STRINGS)
def test_the_negated_pattern_matches_where_the_pattern_finds_nothing(text: str) -> None:
    pattern = re.compile(negated(CONTROL_CHARACTER))
    # pySHACL tries `match`, then `search`.
    accepted = bool(pattern.match(text) or pattern.search(text))
    assert accepted == (re.search(CONTROL_CHARACTER, text) is None)


def test_every_control_character_rule_of_the_core_shapes_is_inlined() -> None:
    shapes = core_shapes_graph()
    with_not = {s for s, _ in shapes.subject_objects(SH["not"])}
    assert inline_negated_patterns(shapes) == 6
    left = {s for s, _ in shapes.subject_objects(SH["not"])}
    # mu:Field-path-notCore negates an sh:in shape: not a pattern, so kept.
    assert left == {rdflib.URIRef("urn:mu:v1#Field-path-notCore")}
    for shape in with_not - left:
        patterns = {str(p) for p in shapes.objects(shape, SH.pattern)}
        assert negated(CONTROL_CHARACTER) in patterns


def test_a_shape_without_datatype_message_or_iri_keeps_its_not() -> None:
    shapes = rdflib.Graph().parse(
        format="turtle",
        data="""
@prefix ex: <https://x.example/> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:Bad a sh:NodeShape ; sh:pattern "x" .
ex:NoDatatype a sh:PropertyShape ; sh:path ex:p ; sh:message "m" ; sh:not ex:Bad .
ex:NoMessage a sh:PropertyShape ; sh:path ex:p ; sh:datatype xsd:string ; sh:not ex:Bad .
ex:Flags a sh:PropertyShape ; sh:path ex:p ; sh:datatype xsd:string ; sh:message "m" ;
    sh:flags "i" ; sh:not ex:Bad .
[] a sh:PropertyShape ; sh:path ex:p ; sh:datatype xsd:string ; sh:message "m" ; sh:not ex:Bad .
ex:Fine a sh:PropertyShape ; sh:path ex:p ; sh:datatype xsd:string ; sh:message "m" ;
    sh:not ex:Bad , ex:Flagged .
ex:Flagged a sh:NodeShape ; sh:pattern "x" ; sh:flags "i" .
""",
    )
    assert inline_negated_patterns(shapes) == 1
    assert (rdflib.URIRef("https://x.example/Fine"), SH.pattern, rdflib.Literal(negated("x"))) in (
        shapes
    )


# Every identifier the core shapes guard, with control characters where a
# pattern lets them through, and values that are not plain strings at all.
ODD_VALUES = """
@prefix ex: <https://acme.example/policy#> .
@prefix mu: <urn:mu:v1#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:OddType a mu:TransactionType ; mu:typeId "odd\\n" ; rdfs:label "odd" ;
    mu:hasField [ a mu:Field ; mu:path "a\\u0085" ; mu:datatype xsd:string ; mu:required true ;
                  mu:allowedValue "DE\\t" , "x\\u007Fy" , "fine" , "é" ] ,
                [ a mu:Field ; mu:path [ rdfs:label "a blank path" ] ; mu:datatype xsd:string ;
                  mu:required true ] .
ex:OddLevel a mu:AuthorityLevel ; mu:code "L\\n"@en ; mu:rank 99 ; rdfs:label "odd" .
ex:OddLevel2 a mu:AuthorityLevel ; mu:code ex:NotAString ; mu:rank 98 ; rdfs:label "odd2" .
ex:OddApproval a mu:ApprovalRule ; mu:controlId "odd_approval\\r" ; rdfs:label "odd" ;
    mu:owner "o" ; mu:appliesTo ex:OddType ; mu:amountThreshold 1.00 ;
    mu:currency "US\\u0000" , [ rdfs:label "blank currency" ] ; mu:requiredAuthority ex:OddLevel .
ex:OddApproval2 a mu:ApprovalRule ; mu:controlId "\\u009fodd" ; rdfs:label "odd" ;
    mu:owner "o" ; mu:appliesTo ex:OddType ; mu:amountThreshold 1.00 ;
    mu:currency "EUR"^^xsd:token ; mu:requiredAuthority ex:OddLevel .
"""


@pytest.mark.slow
def test_odd_values_are_reported_as_pyshacl_reports_them(tmp_path: Path) -> None:
    directory = tmp_path / "ontology"
    shutil.copytree(ROOT / "ontology", directory)
    (directory / "controls" / "zz_odd.ttl").write_text(ODD_VALUES, encoding="utf-8")
    loaded = load_ontology(directory)
    reference = shacl_validate(loaded, sparql_per_focus=True)
    assert shacl_validate(loaded).results == reference.results
    shapes = {v.shape for v in reference.results}
    assert {
        "mu:TransactionType-typeId",
        "mu:Field-path",
        "mu:Field-allowedValue-string",
        "mu:AuthorityLevel-code",
        "mu:Control-controlId",
        "mu:ApprovalRule-currency",
    } <= shapes
