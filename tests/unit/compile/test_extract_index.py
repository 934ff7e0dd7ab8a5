"""Extract reads the graph once, into an index: the same model whatever the triple order,
and the same clear errors as reading the graph property by property."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib

from mu.generator.compile.extract import extract_ontology
from mu.generator.compile.load import load_ontology
from mu.generator.errors import CheckFailed

REPO = Path(__file__).resolve().parents[3]
PREFIXES = """@prefix ex: <https://acme.example/policy#> .
@prefix mu: <urn:mu:v1#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
"""


def test_the_model_does_not_depend_on_triple_order() -> None:
    graph = load_ontology(REPO / "ontology").data
    triples = sorted(graph, key=lambda t: tuple(str(x) for x in t), reverse=True)
    reordered = rdflib.Graph()
    for triple in triples:
        reordered.add(triple)
    model = extract_ontology(graph)
    assert extract_ontology(reordered) == model
    assert len(model.controls) > 10 and model.authority_levels and model.transaction_types


def control_graph(extra: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(
        data=PREFIXES
        + 'ex:t a mu:TransactionType ; mu:typeId "t" ; rdfs:label "T" .\n'
        + 'ex:c a mu:AuditLogRule ; mu:controlId "c" ; mu:owner "o" ; mu:appliesTo ex:t ;'
        + ' mu:ledger "l" '
        + extra
        + " .\n",
        format="turtle",
    )
    return graph


def test_one_value_of_each_reference_is_read() -> None:
    control = extract_ontology(control_graph('; rdfs:label "C"')).controls[0]
    assert (control.control_id, control.label, control.applies_to) == ("c", "C", ("t",))
    assert control.ledger == "l"


@pytest.mark.parametrize(
    ("extra", "found"), [("", "found 0"), ('; rdfs:label "C", "D"', "found 2")]
)
def test_a_missing_or_doubled_value_is_a_clear_error(extra: str, found: str) -> None:
    with pytest.raises(CheckFailed, match=f"needs exactly one .*label.*{found}"):
        extract_ontology(control_graph(extra))


def test_an_optional_value_given_twice_reads_the_smallest() -> None:
    graph = control_graph('; rdfs:label "C" ; mu:message "b", "a"')
    assert extract_ontology(graph).controls[0].message == "a"
