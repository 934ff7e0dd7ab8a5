"""What a report of violations needs beyond the violations themselves.

Code scanning (SARIF) places each result on a line and documents each rule;
a `Violation` names its focus node, shape and file, compactly. This module
goes back to the loaded sources for the rest, without changing the report:

- `locate_violations`: the line and column where each focus node is written
  (the subject of its description; a blank node is placed at the named node
  whose description holds it), via `generator.compile.locate`;
- `describe_shapes`: what each reported shape says of itself (`rdfs:label`,
  `sh:message`, `rdfs:comment`, `sh:severity`), and the file that declares it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import rdflib
from rdflib.namespace import RDFS, SH

from mu.generator.compile.load import LoadedOntology, SourceFile
from mu.generator.compile.locate import TOP, TurtleIndex, index_turtle
from mu.generator.compile.validate import MU, Namer, Violation, core_shapes_graph
from mu.generator.errors import Location

# The checks the compiler makes after SHACL (`generator.compile.pipeline`)
# report under these names; no shape graph describes them.
COMPILER_CHECKS = {
    "mu:ConditionSyntax": "a control's mu:when condition does not parse",
    "mu:ConditionType": "a control's mu:when condition does not type-check against the "
    "fields of its transaction type",
    "mu:Condition": "a control's mu:when condition cannot be compiled",
    "mu:FieldPattern": "a field's mu:pattern is a regular expression the compiler refuses",
    "mu:FieldAllowedValue": "a field's mu:allowedValue cannot be compiled",
    "mu:FieldRestriction": "a field's declared restriction cannot be compiled",
}
_UNNAMED = "a constraint of a shape without an IRI, named by its SHACL constraint component"
# How `Namer` writes a blank node: `[] (the P of X)`, nested for nested nodes.
_BLANK = "[] (the "


@dataclass(frozen=True)
class ShapeText:
    """What one reported shape says of itself, for a rule's documentation.

    `name` is the shape as violations name it; `iri` its full IRI (None when
    it cannot be told); `file` the Σ file that declares it, relative to the
    ontology directory (None for the generator's core shapes and checks).
    """

    name: str
    iri: str | None
    label: str | None
    message: str | None
    comment: str | None
    severity: str  # "Violation" | "Warning" | "Info"
    core: bool
    file: str | None = None


class _Indexes:
    """Each source file indexed once, on first use."""

    def __init__(self, sources: Iterable[SourceFile]) -> None:
        self._sources = {s.path: s for s in sources}
        self._indexes: dict[str, TurtleIndex] = {}

    @property
    def paths(self) -> list[str]:
        """Every file's path, sorted."""
        return sorted(self._sources)

    def get(self, path: str) -> TurtleIndex | None:
        """The index of `path`, or None for a file that is not a source."""
        if path not in self._indexes:
            source = self._sources.get(path)
            if source is None:
                return None
            # The loader decoded these bytes already; a bad byte cannot reach here.
            self._indexes[path] = index_turtle(source.data.decode("utf-8", errors="replace"))
        return self._indexes[path]


def _anchor(focus: str) -> str:
    """The named node a focus is written under: `X` of `[] (the P of X)`, else itself."""
    depth = focus.count(_BLANK)
    if depth == 0:
        return focus
    at = focus.rfind(" of ")
    if at < 0:
        return ""  # `[]`: a blank node nothing points at
    named = focus[at + len(" of ") :]
    return named[:-depth] if named.endswith(")" * depth) else named


def _iris(graph: rdflib.Graph, namer: Namer) -> dict[str, str]:
    """Every named subject of `graph`, by the name `namer` gives it."""
    subjects = sorted({s for s in graph.subjects() if isinstance(s, rdflib.URIRef)})
    return {namer.term(s): str(s) for s in subjects}


def locate_violations(
    loaded: LoadedOntology, violations: Iterable[Violation]
) -> dict[Violation, Location]:
    """Where to point at each violation: its file (relative to the ontology directory),
    and the line and column where its focus node starts a statement there.

    A focus that no file describes is placed where a control file first writes
    it; failing that, at the top of the first control file, so that every
    result has a place (code scanning refuses results without one).
    """
    namer = Namer(loaded)
    iris = _iris(loaded.data, namer)
    indexes = _Indexes(loaded.control_files)
    out: dict[Violation, Location] = {}
    for v in violations:
        anchor = _anchor(v.focus)
        iri = iris.get(anchor) or (anchor[1:-1] if anchor.startswith("<") else None)
        if v.file is not None:
            index = indexes.get(v.file)
            site = index.site(iri) if index is not None and iri else TOP
            out[v] = Location(v.file, site.line, site.column)
            continue
        for path in indexes.paths:
            index = indexes.get(path)
            mention = index.mentions.get(iri) if index is not None and iri else None
            if mention is not None:
                out[v] = Location(path, mention.line, mention.column)
                break
        else:
            if indexes.paths:
                out[v] = Location(indexes.paths[0], TOP.line, TOP.column)
    return out


def _text(graph: rdflib.Graph, node: rdflib.term.Node, prop: rdflib.URIRef) -> str | None:
    values = sorted(str(v) for v in graph.objects(node, prop) if isinstance(v, rdflib.Literal))
    return " ".join(values[0].split()) if values else None


def _expand(name: str) -> str | None:
    """The IRI of a name the graphs do not hold: `mu:…`, `sh:…` or `<…>`."""
    if name.startswith("<") and name.endswith(">"):
        return name[1:-1]
    for prefix, namespace in (("mu:", str(MU)), ("sh:", str(SH))):
        if name.startswith(prefix):
            return namespace + name[len(prefix) :]
    return None


def _declared_in(loaded: LoadedOntology) -> dict[str, str]:
    """Shape IRI → the first Σ file (sorted) where it starts a statement."""
    out: dict[str, str] = {}
    for source in loaded.shape_files:
        index = index_turtle(source.data.decode("utf-8", errors="replace"))
        for iri in index.subjects:
            out.setdefault(iri, source.path)
    return out


def describe_shapes(loaded: LoadedOntology, names: Iterable[str]) -> Mapping[str, ShapeText]:
    """What each shape in `names` (as violations name them) says of itself.

    A name that is no shape's (a check of the compiler's, or a constraint
    component naming a shape without an IRI) gets what can be said of it.
    """
    core = core_shapes_graph()
    shapes = core + loaded.org_shapes
    namer = Namer(loaded)
    iris = _iris(shapes, namer)
    declared = _declared_in(loaded) if loaded.shape_files else {}
    out: dict[str, ShapeText] = {}
    for name in sorted(set(names)):
        iri = iris.get(name) or _expand(name)
        node = rdflib.URIRef(iri) if iri else None
        known = node is not None and (node, None, None) in shapes
        if not known or node is None:
            # A compiler check, or a shape without an IRI, which violations name by
            # its constraint component (`sh:MinCountConstraintComponent`).
            component = None if name in COMPILER_CHECKS else _UNNAMED
            out[name] = ShapeText(
                name=name,
                iri=iri,
                label=None,
                message=COMPILER_CHECKS.get(name),
                comment=component,
                severity="Violation",
                core=name in COMPILER_CHECKS,
            )
            continue
        severity = shapes.value(node, SH.severity)
        out[name] = ShapeText(
            name=name,
            iri=iri,
            label=_text(shapes, node, RDFS.label),
            message=_text(shapes, node, SH.message),
            comment=_text(shapes, node, RDFS.comment),
            severity=str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation",
            core=(node, None, None) in core,
            file=None if iri is None else declared.get(iri),
        )
    return out
