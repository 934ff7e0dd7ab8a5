"""Stage 2, validate: O ⊨ Σ with pySHACL (core shapes + the organisation's Σ).

Every result is collected and reported: focus node, path, shape, message and
the file that describes the focus node. Terms are shown compactly (`mu:`,
`xsd:`, and the ontology's own prefixes); blank nodes are described by the
node that points at them, because their labels are random.

Σ is foreign input (a pull request, the snapshot in someone's receipt): before
SHACL runs, shapes whose SPARQL could reach outside the ontology are refused
(`generator.compile.shape_guard`); pySHACL then runs offline (`generator.compile.offline`) and
within a time limit (`generator.compile.deadline`).

Three things make it fast on large ontologies without changing a byte of the
report: pySHACL works on a view of the loaded graph instead of a copy
(`generator.compile.scratch`); SPARQL-based shapes run one query per constraint
for all their focus nodes instead of one per focus node
(`generator.compile.sparqlshapes`); and `sh:not` of a pattern-only shape reaches
pySHACL as the single pattern it means (`generator.compile.notpattern`).
`shacl_validate(…, sparql_per_focus=True)` is validation as it was (pySHACL
alone, on its own copy), which the equivalence tests compare against.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import pyshacl
import rdflib
from pyshacl.rdfutil.inoculate import inoculate
from rdflib.namespace import RDF, SH

from mu.generator.compile.deadline import (
    TIMEOUT_ENV,
    DeadlineExceeded,
    time_limit,
    validation_timeout,
)
from mu.generator.compile.load import LoadedOntology, parse_turtle
from mu.generator.compile.notpattern import inline_negated_patterns
from mu.generator.compile.offline import NetworkRefused, offline
from mu.generator.compile.scratch import scratch_view
from mu.generator.compile.shape_guard import shape_refusals, sparql_refusals
from mu.generator.compile.sparqlshapes import evaluate_plan, plan_sparql
from mu.generator.errors import InputError, Problem

MU = rdflib.Namespace("urn:mu:v1#")
_FIXED_PREFIXES = (
    ("mu", str(MU)),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("sh", "http://www.w3.org/ns/shacl#"),
)


@dataclass(frozen=True)
class Violation:
    """One failed check: a SHACL result, or a condition that does not compile."""

    focus: str
    path: str | None
    shape: str
    message: str
    severity: str  # "Violation" | "Warning" | "Info"
    file: str | None
    value: str | None = None
    # A check the generator owns (a core shape of the mu: vocabulary, or a
    # condition that does not compile): never waivable by an override.
    core: bool = False


@dataclass(frozen=True, order=True)
class ViolationKey:
    """What an override names of a violation: its shape and its focus node, as reported."""

    shape: str
    focus: str

    @classmethod
    def of(cls, v: Violation) -> ViolationKey:
        """The key of `v`."""
        return cls(shape=v.shape, focus=v.focus)


@dataclass(frozen=True)
class ValidationReport:
    """All results of validating O against Σ, sorted; conforms iff no Violation."""

    results: tuple[Violation, ...]

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Results of severity Violation (these fail the gate)."""
        return tuple(r for r in self.results if r.severity == "Violation")

    @property
    def conforms(self) -> bool:
        """True when there is no result of severity Violation."""
        return not self.violations


@functools.cache
def _vocab_graph(name: str) -> rdflib.Graph:
    # Parsed once per process; callers get a copy, since graphs are mutable.
    vocab = resources.files("mu.generator.compile").joinpath("vocab", name)
    return rdflib.Graph().parse(data=vocab.read_text(encoding="utf-8"), format="turtle")


def _copy(graph: rdflib.Graph) -> rdflib.Graph:
    out = rdflib.Graph()
    for prefix, ns in graph.namespaces():
        out.bind(prefix, ns, override=True, replace=True)
    out.addN((s, p, o, out) for s, p, o in graph)
    return out


def vocabulary_graph() -> rdflib.Graph:
    """The mu: vocabulary (generator-owned)."""
    return _copy(_vocab_graph("mu.ttl"))


def core_shapes_graph() -> rdflib.Graph:
    """The core shapes that define the vocabulary (generator-owned)."""
    return _copy(_vocab_graph("shapes.ttl"))


class Namer:
    """Shows RDF terms compactly and deterministically for messages."""

    def __init__(self, loaded: LoadedOntology) -> None:
        self._setup(loaded.data, loaded.subject_files)

    @classmethod
    def of_graph(cls, graph: rdflib.Graph) -> Namer:
        """A namer for any graph (e.g. one shapes file), with that graph's prefixes."""
        namer = cls.__new__(cls)
        namer._setup(graph, {})
        return namer

    def _setup(self, graph: rdflib.Graph, files: Mapping[str, tuple[str, ...]]) -> None:
        self._graph = graph
        self._files = files
        prefixes = dict(_FIXED_PREFIXES)
        for prefix, ns in sorted(graph.namespaces()):
            if prefix and str(ns) not in prefixes.values():
                prefixes.setdefault(prefix, str(ns))
        # Longest namespace first so the most specific prefix wins.
        self._prefixes = sorted(prefixes.items(), key=lambda kv: (-len(kv[1]), kv[0]))

    def term(self, node: rdflib.term.Node | None) -> str:
        """A readable form of `node`: a prefixed name, `<iri>`, a literal, or `[]`."""
        if node is None:
            return ""
        if isinstance(node, rdflib.URIRef):
            text = str(node)
            for prefix, ns in self._prefixes:
                if text.startswith(ns) and text != ns:
                    return f"{prefix}:{text[len(ns) :]}"
            return f"<{text}>"
        if isinstance(node, rdflib.BNode):
            parent = self._parent(node)
            if parent is not None:
                return f"[] (the {self.term(parent[1])} of {self.term(parent[0])})"
            return "[]"
        if isinstance(node, rdflib.Literal):
            return node.n3()
        return str(node)

    def _parent(self, node: rdflib.BNode) -> tuple[rdflib.term.Node, rdflib.term.Node] | None:
        pairs = sorted(
            ((s, p) for s, p in self._graph.subject_predicates(node)),
            key=lambda sp: (isinstance(sp[0], rdflib.BNode), str(sp[0]), str(sp[1])),
        )
        return pairs[0] if pairs else None

    def file_of(self, node: rdflib.term.Node | None) -> str | None:
        """The first source file that describes `node` (its parent for a blank node)."""
        seen: set[rdflib.term.Node] = set()
        while node is not None and node not in seen:
            seen.add(node)
            files = self._files.get(node.n3())
            if files:
                return files[0]
            if not isinstance(node, rdflib.BNode):
                return None
            parent = self._parent(node)
            node = parent[0] if parent else None
        return None


def _one(
    graph: rdflib.Graph, subject: rdflib.term.Node, predicate: rdflib.URIRef
) -> rdflib.term.Node | None:
    values = sorted(graph.objects(subject, predicate), key=str)
    return values[0] if values else None


def _results(
    report: rdflib.Graph, namer: Namer, core: frozenset[rdflib.term.Node]
) -> Iterable[Violation]:
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = _one(report, result, SH.focusNode)
        shape = _one(report, result, SH.sourceShape)
        component = _one(report, result, SH.sourceConstraintComponent)
        messages = sorted(str(m) for m in report.objects(result, SH.resultMessage))
        severity = _one(report, result, SH.resultSeverity)
        value = _one(report, result, SH.value)
        shape_name = (
            namer.term(shape) if isinstance(shape, rdflib.URIRef) else namer.term(component)
        )
        yield Violation(
            focus=namer.term(focus),
            path=namer.term(_one(report, result, SH.resultPath)) or None,
            shape=shape_name,
            message="; ".join(messages) or "constraint not satisfied",
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            file=namer.file_of(focus),
            value=namer.term(value) if value is not None else None,
            core=shape is not None and shape in core,
        )


def sort_key(v: Violation) -> tuple[str, str, str, str, str, str, bool]:
    """The order in which violations are reported: by file, focus, path, shape."""
    return (v.file or "", v.focus, v.path or "", v.shape, v.message, v.value or "", v.core)


def _shown(loaded: LoadedOntology, rel: str) -> str:
    """A path the user can open: the ontology directory as they named it, plus `rel`."""
    return (loaded.directory / rel).as_posix()


def refuse_unsafe_shapes(loaded: LoadedOntology) -> None:
    """Refuse, before anything runs, SPARQL that could reach outside the ontology.

    Every shapes file is scanned on its own so each problem names its file;
    the data graph is scanned for SPARQL text too (pySHACL does not run it
    today, but nothing there needs SPARQL either). Every problem is collected,
    then one `InputError` (exit 2) lists them all. Not violations (exit 1):
    the shapes were never evaluated, so there is no result about O to report,
    and a rejection receipt saying "Σ was violated" would be false; refusing
    the input, like a malformed shape today, says what happened.
    """
    problems: list[Problem] = []
    for source in loaded.shape_files:
        graph = rdflib.Graph()
        parse_turtle(source, graph, loaded.directory)
        namer = Namer.of_graph(graph)
        for refusal in shape_refusals(graph):
            where = _shown(loaded, source.path)
            problems.append(Problem(where, f"`{namer.term(refusal.node)}`: {refusal.reason}"))
    data_namer = Namer(loaded)
    for refusal in sparql_refusals(loaded.data):
        file = data_namer.file_of(refusal.node)
        where = _shown(loaded, file) if file else _shown(loaded, "controls")
        problems.append(Problem(where, f"`{data_namer.term(refusal.node)}`: {refusal.reason}"))
    if problems:
        raise InputError(
            f"the shapes were not evaluated: {len(problems)} problem(s) found before validation",
            hint="SPARQL in shapes may read only the ontology being validated: remove `SERVICE`, "
            "`FROM`, `FROM NAMED`, `LOAD` and SPARQL Update, and make every query parse",
            problems=sorted(set(problems), key=lambda p: (p.where, p.message)),
        )


def _pyshacl(
    data: rdflib.Graph, shapes: rdflib.Graph, ontology: rdflib.Graph | None
) -> rdflib.Graph:
    """pySHACL's report on `data`; with no `ontology`, `data` is validated in place."""
    _conforms, report, _text = pyshacl.validate(
        data,
        shacl_graph=shapes,
        ont_graph=ontology,
        inference="none",
        advanced=True,
        allow_warnings=True,
        inplace=ontology is None,
        # The defaults today; explicit because either would fetch or run foreign code.
        do_owl_imports=False,
        js=False,
    )
    if not isinstance(report, rdflib.Graph):
        # pyshacl returns a ValidationFailure object instead of a report graph
        # when it gives up (e.g. VALUES or MINUS in a SPARQL constraint).
        raise InputError(
            f"pySHACL could not validate the ontology: {report}",
            hint="check the SPARQL in `ontology/shapes/`: pySHACL refuses e.g. `VALUES`, "
            "`MINUS` or a nested `SELECT *` in a sh:sparql constraint",
        )
    return report


def _reports(
    loaded: LoadedOntology, data: rdflib.Graph, per_focus: bool
) -> tuple[rdflib.Graph, ...]:
    shapes = core_shapes_graph()
    shapes += loaded.org_shapes
    if per_focus:
        # pySHACL alone: it copies the data graph, mixes the vocabulary in, and runs
        # every SPARQL constraint once per focus node.
        return (_pyshacl(loaded.data, shapes, vocabulary_graph()),)
    # `data` reads the loaded graph and keeps what is added to it (`scratch_view`):
    # the vocabulary mixed in as pySHACL mixes it, then pySHACL works on it in
    # place, and the whole-graph SPARQL shapes read the same graph afterwards.
    inoculate(cast(Any, data), vocabulary_graph())  # pySHACL's types name its own wrapper
    plan = plan_sparql(shapes, data)
    inline_negated_patterns(plan.for_pyshacl)
    report = _pyshacl(data, plan.for_pyshacl, None)
    extra = evaluate_plan(plan, data)
    return (report,) if extra is None else (report, extra)


def _run_pyshacl(
    loaded: LoadedOntology, data: rdflib.Graph, per_focus: bool
) -> tuple[tuple[rdflib.Graph, ...], frozenset[rdflib.term.Node]]:
    """The report graphs, and every node of the core shapes (the subjects of that graph,
    blank-node property shapes included, as they appear in the report's sh:sourceShape)."""
    core = frozenset(_vocab_graph("shapes.ttl").subjects())
    try:
        return _reports(loaded, data, per_focus), core
    except (NetworkRefused, InputError):
        raise
    except RecursionError as exc:
        # rdflib evaluates `mu:dependsOn+` recursively: chains of ~1,500 controls exhaust it.
        raise InputError(
            "the ontology could not be validated: a `mu:dependsOn` chain is too deep",
            hint="shorten dependency chains (order actions by a few anchors, not one long chain)",
        ) from exc
    except Exception as exc:  # pyshacl reports malformed shapes with assorted types
        raise InputError(
            f"the shapes could not be evaluated: {exc}",
            hint="check the SHACL in `ontology/shapes/` (a malformed shape or SPARQL query)",
        ) from exc


def shacl_validate(loaded: LoadedOntology, *, sparql_per_focus: bool = False) -> ValidationReport:
    """Validate O against the core shapes and the organisation's Σ; collect every result.

    Σ is foreign input (a pull request, a receipt's snapshot), so it runs
    offline (no network, no remote graphs), after `refuse_unsafe_shapes`, and
    within `MU_VALIDATION_TIMEOUT` seconds (default 300).

    `sparql_per_focus=True` validates as mu always did, pySHACL alone on its own
    copy of the graph: the reference the equivalence tests compare the fast
    path against (see the module doc).
    """
    seconds = validation_timeout()
    subject = f"`{loaded.directory.as_posix()}`"
    # The scratch view is left (and cleaned up) outside the time limit.
    view = nullcontext(loaded.data) if sparql_per_focus else scratch_view(loaded.data)
    try:
        with view as data, time_limit(seconds), offline():
            refuse_unsafe_shapes(loaded)
            reports, core = _run_pyshacl(loaded, data, sparql_per_focus)
    except DeadlineExceeded:
        raise InputError(
            f"validation of {subject} did not finish within {seconds:g} s",
            hint="a shape's SPARQL is too expensive (e.g. a cross join of every node with every "
            f"other): simplify it; if the ontology is just large, raise `{TIMEOUT_ENV}` (seconds)",
        ) from None
    except NetworkRefused as exc:
        raise InputError(
            f"validation of {subject} tried to reach the network and was stopped: {exc}",
            hint="a shape's SPARQL or another part of the shapes asks for remote data; remove it",
        ) from None
    namer = Namer(loaded)
    found = {v for report in reports for v in _results(report, namer, core)}
    return ValidationReport(tuple(sorted(found, key=sort_key)))
