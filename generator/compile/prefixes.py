"""How rdflib's Turtle parser binds prefixes, so a graph built from pyoxigraph's parse
binds exactly the same ones (`validate.Namer` prints terms with them).

pyoxigraph reports a file's prefixes sorted, not in the order written; rdflib's
bindings can depend on that order (it renames a taken prefix `ex1`, `ex2`, …).
`order_free` says when the order cannot matter; otherwise `load` asks rdflib's
own parser for the order (`BindOrder`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import rdflib


def _numbered(name: str, family: str) -> bool:
    """`name` is one rdflib may invent for `family` (`ex1`, `ex2`, … when `ex` is taken)."""
    return name.startswith(family) and name[len(family) :].isdigit()


def order_free(prefixes: Mapping[str, str], bound: Mapping[str, str]) -> bool:
    """Binding `prefixes` (as the Turtle parser does) into a graph bound as `bound` ends the
    same in every order: no two bindings touch the same prefix or namespace.

    A binding (p, n) reads and may write prefix p, the prefix n was bound to (which it
    frees) and, when p is taken by another namespace, the `p1`, `p2`, … rdflib invents.
    pyoxigraph reports prefixes sorted, not in the order written, so when this is False
    the order is taken from rdflib's own parse.
    """
    if len(set(prefixes.values())) != len(prefixes):
        return False
    owner = {n: p for p, n in bound.items()}
    touched: list[tuple[set[str], str | None]] = []
    for p, n in prefixes.items():
        names = {p} | ({owner[n]} if n in owner else set())
        family = (p or "default") if bound.get(p, n) != n else None
        touched.append((names, family))
    for i, (names, family) in enumerate(touched):
        for other, other_family in touched[i + 1 :]:
            if names & other:
                return False
            if family and (any(_numbered(x, family) for x in other) or other_family == family):
                return False
            if other_family and any(_numbered(x, other_family) for x in names):
                return False
            if family and other_family and (
                _numbered(other_family, family) or _numbered(family, other_family)
            ):
                return False
    return True


class BindOrder(rdflib.Graph):
    """A graph that records the prefixes the Turtle parser binds, in its order."""

    def __init__(self) -> None:
        super().__init__()
        self.bound: list[tuple[str, str]] = []

    def bind(
        self, prefix: str | None, namespace: Any, override: bool = True, replace: bool = False
    ) -> None:
        """Bind as rdflib does, and remember the binding."""
        self.bound.append((prefix or "", str(namespace)))
        super().bind(prefix, namespace, override=override, replace=replace)


@cache
def default_bindings() -> frozenset[tuple[str, str]]:
    """The prefixes every new rdflib graph starts with."""
    return frozenset((p, str(n)) for p, n in rdflib.Graph().namespaces())


@cache
def file_bindings(prefixes: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """What a new graph binds after parsing a file declaring `prefixes` (in any order)."""
    single = rdflib.Graph()
    for prefix, namespace in prefixes:
        single.bind(prefix, namespace)
    return bound_prefixes(single)


def bound_prefixes(graph: rdflib.Graph) -> tuple[tuple[str, str], ...]:
    """The prefixes `graph` binds, sorted."""
    return tuple(sorted((p, str(n)) for p, n in graph.namespaces()))
