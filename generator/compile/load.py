"""Stage 1, load: Turtle files → `LoadedOntology`.

O is every `*.ttl` under `<ontology>/controls/`, the organisation's Σ every
`*.ttl` under `<ontology>/shapes/`, both read in sorted path order. A syntax
error stops the line with the file and line; the digest stage hashes the very
triples parsed here (`SourceFile.nquads`), so what is validated is exactly
what is hashed.

pyoxigraph parses (rdflib's Turtle parser was most of the stage) and the
rdflib graphs the later stages read are built from its triples. rdflib's
parser (`parse_turtle`) still reads what the fast path cannot mirror: a file
pyoxigraph refuses (rdflib then reports its error, with line and column, as
before, or reads a file only the digest stage refuses, as before), RDF 1.2
(which rdflib refuses), and the order of prefixes whose bindings depend on it
(pyoxigraph reports prefixes sorted). Where both read a file but differently,
the graph follows RDF 1.1 as the digest always has: relative IRIs resolve
against `BASE_IRI` (rdflib refused them there), `"x"^^xsd:string` is the plain
literal `"x"`, and language tags are lower-case.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import rdflib
from rdflib.plugins.parsers.notation3 import BadSyntax

from mu.generator.compile.prefixes import (
    BindOrder,
    bound_prefixes,
    default_bindings,
    file_bindings,
    order_free,
)
from mu.generator.errors import InputError, Location
from mu.generator.hashing import sha256_hex
from mu.generator.layout import controls_dir, shapes_dir, sorted_files

# Relative IRIs resolve against one constant base, never the file's location,
# so moving a checkout does not change what the ontology means.
BASE_IRI = "urn:mu:base/"
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


@dataclass(frozen=True)
class SourceFile:
    """One Turtle source: its path relative to the ontology dir, bytes and sha256.

    `nquads` is the file's triples as N-Quads, blank nodes renamed apart from
    every other file's, once `load_ontology` has parsed it (None for a file
    only read): the digest hashes them rather than parsing the file again.
    Derived from `data`, so never compared.
    """

    path: str
    data: bytes
    sha256: str
    nquads: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class LoadedOntology:
    """O and the organisation's Σ as parsed graphs, with their sources."""

    directory: Path
    control_files: tuple[SourceFile, ...]
    shape_files: tuple[SourceFile, ...]
    data: rdflib.Graph
    org_shapes: rdflib.Graph
    # subject (N3 form) -> relative paths of the files that describe it, so a
    # violation can name the file to edit.
    subject_files: dict[str, tuple[str, ...]]

    @property
    def sources(self) -> tuple[SourceFile, ...]:
        """Every source file, O first, then Σ, each group sorted by path."""
        return self.control_files + self.shape_files


def read_sources(directory: Path, sub: Path) -> tuple[SourceFile, ...]:
    """Read every `*.ttl` under `sub` as a `SourceFile` with a path relative to `directory`.

    `sub` may lie outside `directory` (a Σ named with `mu validate --schema`): its paths
    then start with `../`, so `directory / path` still opens the file in messages.
    """
    out = []
    for path in sorted_files(sub, "*.ttl"):
        rel = Path(os.path.relpath(path, directory)).as_posix()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"cannot read `{rel}`: {exc.strerror}",
                hint="make the file readable by the user running mu, or remove it",
            ) from exc
        out.append(SourceFile(rel, data, sha256_hex(data)))
    return tuple(out)


def _syntax_line(exc: BadSyntax) -> int | None:
    match = re.search(r"at line (\d+)", str(exc))
    return int(match.group(1)) if match else None


def _syntax_column(exc: BadSyntax, line: int | None) -> int | None:
    """The 1-based column of a syntax error, when rdflib's offset agrees with its line."""
    text, offset = getattr(exc, "_str", None), getattr(exc, "_i", None)
    if not isinstance(text, bytes) or not isinstance(offset, int) or line is None:
        return None
    before = text.decode("utf-8", errors="replace")[:offset]
    if before.count("\n") + 1 != line:
        return None
    return offset - (before.rfind("\n") + 1) + 1


def parse_turtle(source: SourceFile, into: rdflib.Graph, directory: Path | None = None) -> None:
    """Parse one Turtle file into `into` with rdflib; a syntax error names the file and line.

    `directory` is the ontology directory as the user named it, so messages
    show a path they can open (`ontology/controls/x.ttl:12`).
    """
    shown = (directory / source.path).as_posix() if directory else source.path
    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"`{shown}` is not UTF-8 (byte {exc.start})",
            hint="save the file as UTF-8",
        ) from exc
    try:
        into.parse(data=text, format="turtle", publicID=BASE_IRI)
    except BadSyntax as exc:
        line = _syntax_line(exc)
        why = str(getattr(exc, "_why", "")).strip() or "syntax error"
        where = f"{shown}:{line}" if line else shown
        raise InputError(
            f"turtle syntax error in `{where}`: {why}",
            hint="fix the Turtle at that line (a missing `.`, `;` or quote is the usual cause)",
            location=Location(shown, line, _syntax_column(exc, line)),
        ) from exc
    except Exception as exc:  # rdflib raises assorted types for malformed input
        raise InputError(
            f"turtle syntax error in `{shown}`: {exc}",
            hint="fix the Turtle in that file",
            location=Location(shown),
        ) from exc


@dataclass(frozen=True)
class ParsedTurtle:
    """One file as pyoxigraph read it: its triples (blank nodes renamed apart from every
    other parse's) and the prefixes it declared, each with its last value."""

    quads: tuple[ox.Quad, ...]
    prefixes: Mapping[str, str]

    @property
    def nquads(self) -> bytes:
        """The triples as N-Quads, as the digest reads them."""
        return ox.serialize(self.quads, format=ox.RdfFormat.N_QUADS) or b""


def _oxigraph(source: SourceFile) -> ParsedTurtle:
    parser = ox.parse(
        source.data, format=ox.RdfFormat.TURTLE, base_iri=BASE_IRI, rename_blank_nodes=True
    )
    quads = tuple(parser)
    return ParsedTurtle(quads, parser.prefixes)


def parse_oxigraph(source: SourceFile) -> ParsedTurtle:
    """Parse one Turtle file with pyoxigraph; a file it refuses raises `InputError`."""
    try:
        return _oxigraph(source)
    except SyntaxError as exc:
        raise InputError(
            f"turtle syntax error in `{source.path}:{exc.lineno}`: {exc.msg}",
            hint="fix the Turtle at that line; the canonicalizer reads plain Turtle 1.1 only",
            location=Location.of_parse_error(source.path, exc),
        ) from exc


class _Unsupported(Exception):
    """A term an rdflib graph cannot hold (RDF 1.2: a triple term, a base direction)."""


class _Terms:
    """pyoxigraph terms as the rdflib terms its Turtle parser makes, each made once.

    Looking a term up costs far less than building it (rdflib checks IRIs and
    casts literals), and a large ontology repeats few distinct terms.
    """

    def __init__(self) -> None:
        self._made: dict[Any, rdflib.term.Node] = {}

    def __call__(self, term: Any) -> rdflib.term.Node:
        made = self._made.get(term)
        if made is None:
            made = self._made[term] = _rdflib_term(term)
        return made


def _rdflib_term(term: Any) -> rdflib.term.Node:
    kind = type(term)
    if kind is ox.NamedNode:
        return rdflib.URIRef(term.value)
    if kind is ox.BlankNode:
        return rdflib.BNode(term.value)
    if kind is not ox.Literal or term.direction is not None:
        raise _Unsupported
    if term.language is not None:
        return rdflib.Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    # RDF 1.1: a plain literal is an xsd:string; rdflib's parser leaves its datatype out.
    if datatype == _XSD_STRING:
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(datatype))


Triple = tuple[rdflib.term.Node, rdflib.term.Node, rdflib.term.Node]


@dataclass(frozen=True)
class _Read:
    """One file read the fast way: pyoxigraph's parse and the same triples in rdflib terms."""

    parsed: ParsedTurtle
    triples: tuple[Triple, ...]


def _read(source: SourceFile, terms: _Terms) -> _Read | None:
    """`source` parsed by pyoxigraph; None when rdflib's parser must read it instead, as it
    always did: pyoxigraph refuses the file (rdflib then reports the error, or reads a file
    the digest stage refuses, as before), or it holds RDF 1.2 that rdflib refuses."""
    try:
        parsed = _oxigraph(source)
        triples = tuple(
            (terms(q.subject), terms(q.predicate), terms(q.object)) for q in parsed.quads
        )
    except (SyntaxError, _Unsupported):
        return None
    return _Read(parsed, triples)


def _parser_order(parsed: ParsedTurtle, source: SourceFile) -> list[tuple[str, str]]:
    """`parsed.prefixes` in the order rdflib's parser binds them, from its own parse; sorted
    when rdflib refuses the file (which it then never loaded: there is no order to keep)."""
    recorder = BindOrder()
    try:
        parse_turtle(source, recorder)
    except InputError:
        return sorted(parsed.prefixes.items())
    return recorder.bound


def _bind_as_parsed(graph: rdflib.Graph, parsed: ParsedTurtle, source: SourceFile) -> None:
    """Bind `parsed.prefixes` into `graph` as rdflib's Turtle parser would have."""
    bound = {p: str(n) for p, n in graph.namespaces()}
    if order_free(parsed.prefixes, bound):
        order: Iterable[tuple[str, str]] = sorted(parsed.prefixes.items())
    else:
        order = _parser_order(parsed, source)
    for prefix, namespace in order:
        graph.bind(prefix, namespace)


def _file_namespaces(parsed: ParsedTurtle, source: SourceFile) -> tuple[tuple[str, str], ...]:
    """The prefixes a graph of this file alone would have had, as rdflib parsed it, sorted."""
    if order_free(parsed.prefixes, dict(default_bindings())):
        return file_bindings(tuple(sorted(parsed.prefixes.items())))
    single = rdflib.Graph()
    _bind_as_parsed(single, parsed, source)
    return bound_prefixes(single)


def _parse_into(
    graph: rdflib.Graph, source: SourceFile, terms: _Terms, directory: Path | None
) -> bytes | None:
    """Add `source`'s triples and prefixes to `graph` as rdflib's parser would have; its
    N-Quads for the digest (None when rdflib's parser read it)."""
    read = _read(source, terms)
    if read is None:
        parse_turtle(source, graph, directory)
        return None
    graph.addN((s, p, o, graph) for s, p, o in read.triples)
    _bind_as_parsed(graph, read.parsed, source)
    return read.parsed.nquads


def turtle_graph(source: SourceFile, directory: Path | None = None) -> rdflib.Graph:
    """One Turtle file as a graph of its own, read as `load_ontology` reads it (so relative
    IRIs resolve); a file it refuses raises `parse_turtle`'s error."""
    graph = rdflib.Graph()
    _parse_into(graph, source, _Terms(), directory)
    return graph


def load_ontology(directory: Path, shapes: Path | None = None) -> LoadedOntology:
    """Load O (`controls/`) and Σ (`shapes/`, or the directory `shapes`) from an ontology
    directory. The core shapes of the vocabulary are not Σ: validation always adds them."""
    if not directory.is_dir():
        raise InputError(
            f"ontology directory `{directory}` does not exist",
            hint="run mu from the policy repository root, or pass `--input DIR`",
        )
    if shapes is not None and not shapes.is_dir():
        raise InputError(
            f"shapes directory `{shapes}` does not exist",
            hint="pass `--schema DIR` (or `--constraints DIR`) naming a directory of `*.ttl` "
            "SHACL shapes, or leave it out to use the ontology's `shapes/`",
        )
    control_files = read_sources(directory, controls_dir(directory))
    if not control_files:
        raise InputError(
            f"no `*.ttl` files under `{controls_dir(directory)}`",
            hint="the ontology directory needs a `controls/` folder of Turtle files",
        )
    shape_files = read_sources(directory, shapes_dir(directory) if shapes is None else shapes)
    terms = _Terms()
    data = rdflib.Graph()
    # Keep the authors' prefixes so messages can say `ex:Foo`, bound as the graph
    # of each file alone had them; `bind(override=False)` never unbinds, so a
    # binding made once is made again to no effect, and is skipped.
    made = set(default_bindings())
    subject_files: dict[str, set[str]] = {}
    controls = []
    for source in control_files:
        read = _read(source, terms)
        if read is None:
            single = rdflib.Graph()
            parse_turtle(source, single, directory)
            bindings, subjects = bound_prefixes(single), set(single.subjects())
            data += single
            controls.append(source)
        else:
            bindings = _file_namespaces(read.parsed, source)
            data.addN((s, p, o, data) for s, p, o in read.triples)
            subjects = {s for s, _, _ in read.triples}
            controls.append(replace(source, nquads=read.parsed.nquads))
        for binding in bindings:
            if binding not in made:
                data.bind(*binding, override=False)
                made.add(binding)
        for subject in subjects:
            subject_files.setdefault(subject.n3(), set()).add(source.path)
    org_shapes = rdflib.Graph()
    shape_sources = []
    for source in shape_files:
        nquads = _parse_into(org_shapes, source, terms, directory)
        shape_sources.append(replace(source, nquads=nquads))
    return LoadedOntology(
        directory=directory,
        control_files=tuple(controls),
        shape_files=tuple(shape_sources),
        data=data,
        org_shapes=org_shapes,
        subject_files={k: tuple(sorted(v)) for k, v in sorted(subject_files.items())},
    )
