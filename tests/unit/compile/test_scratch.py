"""pySHACL's scratch view of the data graph: no copy, and nothing leaks into the loaded graph."""

from __future__ import annotations

import pytest
import rdflib

from mu.generator.compile.scratch import scratch_view

EX = rdflib.Namespace("https://x.example/")


def _graph() -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.bind("ex", EX)
    graph.add((EX.a, EX.p, EX.b))
    return graph


def _state(graph: rdflib.Graph) -> tuple[object, ...]:
    return (
        set(graph),
        sorted(graph.namespaces()),
        [c.identifier for c in graph.store.contexts()],
    )


def test_the_view_reads_the_graph_and_keeps_its_additions_and_prefixes() -> None:
    graph = _graph()
    before = _state(graph)
    with scratch_view(graph) as view:
        assert view is not graph
        assert set(view) == set(graph)
        view.add((EX.c, EX.p, EX.d))
        view.add((EX.a, EX.p, EX.b))  # already in the graph: must stay there
        view.bind("zz", "urn:zz#")
        assert (EX.c, EX.p, EX.d) in view and (EX.c, EX.p, EX.d) not in graph
        assert "ex" in dict(view.namespaces())
    assert _state(graph) == before


def test_the_view_is_cleaned_up_when_the_block_fails() -> None:
    graph = _graph()
    before = _state(graph)
    with pytest.raises(KeyboardInterrupt), scratch_view(graph) as view:
        view.add((EX.c, EX.p, EX.d))
        raise KeyboardInterrupt
    assert _state(graph) == before


def test_a_graph_sharing_its_store_gets_a_copy() -> None:
    graph = _graph()
    other = rdflib.Graph(store=graph.store, identifier=EX.other)
    other.add((EX.x, EX.p, EX.y))
    with scratch_view(graph) as view:
        assert type(view) is rdflib.Graph
        assert set(view) == set(graph)
        view.add((EX.c, EX.p, EX.d))
    assert (EX.c, EX.p, EX.d) not in graph
