"""A writable view of the loaded data graph for pySHACL, without copying it.

pySHACL adds the vocabulary's class hierarchy to the graph it validates (and
SHACL rules add their triples), so it copies the data graph first unless told
`inplace`: on 10,000 controls the copy alone is ~3 s, a third of validation.
The later stages must see the ontology exactly as loaded, so validating
`loaded.data` in place is not an option either.

`scratch_view` shares the data graph's store instead. rdflib's memory store
keeps each triple's contexts, and a plain `Graph` reads only its own context:
a `ConjunctiveGraph` over the same store reads the data graph's triples (the
union of the store's contexts, which is the data graph alone) and writes every
addition into a context of its own, which is dropped on exit, so the data
graph never sees them. Prefixes live in the store too, and pySHACL binds some
while it works (the ontology's, `sh`, and `ns1`… for IRIs it prints), so the
view gets a namespace manager of its own, starting from the prefixes pySHACL's
copy would have had (rdflib's core ones plus the data graph's).

The view is only offered when the data graph is alone in a memory store; for
anything else the caller makes pySHACL's copy (`clone`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import rdflib
from pyshacl.rdfutil.clone import clone_graph
from rdflib.plugins.stores.memory import Memory


def _alone_in_memory(graph: rdflib.Graph) -> bool:
    store = graph.store
    if not isinstance(store, Memory):
        return False
    return [c.identifier for c in store.contexts()] in ([graph.identifier], [])


def clone(graph: rdflib.Graph) -> rdflib.Graph:
    """The copy pySHACL makes of a data graph (triples and prefixes)."""
    return clone_graph(graph, identifier=graph.identifier)


@contextmanager
def scratch_view(graph: rdflib.Graph) -> Iterator[rdflib.Graph]:
    """A graph reading `graph`'s triples whose additions and prefixes never reach
    `graph`; a copy of it when `graph` does not allow a view. Leave the block
    outside any time limit: the scratch context is removed on the way out."""
    if not _alone_in_memory(graph):
        yield clone(graph)
        return
    with warnings.catch_warnings():
        # rdflib 7 deprecates ConjunctiveGraph for Dataset; pySHACL would read a
        # Dataset as several named graphs, so the plain union view is the one wanted.
        warnings.simplefilter("ignore", DeprecationWarning)
        view = rdflib.ConjunctiveGraph(store=graph.store)
    prefixes = rdflib.Graph(bind_namespaces="core")
    for prefix, namespace in graph.namespace_manager.namespaces():
        # As pySHACL's clone binds them (pyshacl.rdfutil.clone.clone_graph).
        prefixes.namespace_manager.bind(prefix, namespace, override=True, replace=True)
    view.namespace_manager = prefixes.namespace_manager
    try:
        yield view
    finally:
        graph.store.remove_graph(view.default_context)
