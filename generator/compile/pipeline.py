"""The compiler as an ordered list of named stages (`STAGES`):

    load → validate → extract → restrictions → conditions ‖ lower → render → digest

Each `Stage` turns a `Unit` into the next by filling in one field. The
checking stages collect every problem (SHACL results, declared restrictions
the compiler refuses, and condition failures);
the line stops at ‖ unless O ⊨ Σ, so nothing is rendered from a bad ontology
(`compile_ontology` lets through only org-shape violations an override waives).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from rdflib import RDF, URIRef

from mu.generator.cache import NO_CACHE, Cache
from mu.generator.compile.cached import render_cached
from mu.generator.compile.digest import semantic_digest
from mu.generator.compile.extract import KIND_OF_CLASS, extract_ontology
from mu.generator.compile.ir import PackageIR
from mu.generator.compile.load import LoadedOntology, SourceFile, load_ontology
from mu.generator.compile.lower import CompiledConditions, compile_conditions, lower
from mu.generator.compile.model import Ontology
from mu.generator.compile.restrictions import RestrictionProblem, check_restrictions
from mu.generator.compile.validate import (
    Namer,
    ValidationReport,
    Violation,
    ViolationKey,
    shacl_validate,
    sort_key,
)
from mu.generator.errors import CheckFailed, Location, MuError, Problem
from mu.generator.files import TreeDiff, compare_trees, read_tree, write_tree_atomic
from mu.generator.layout import Layout
from mu.generator.paths import output_directory
from mu.generator.progress import Progress, Step, silent

T = TypeVar("T")
CONDITION_SHAPE = {"syntax": "mu:ConditionSyntax", "type": "mu:ConditionType"}
# The shape a refused `mu:pattern` / `mu:allowedValue` is reported under.
RESTRICTION_SHAPE = {"mu:pattern": "mu:FieldPattern", "mu:allowedValue": "mu:FieldAllowedValue"}


@dataclass(frozen=True)
class Checked:
    """The outcome of the validate stage: the report, and the model when it conforms."""

    loaded: LoadedOntology
    report: ValidationReport
    ontology: Ontology | None
    conditions: CompiledConditions | None


@dataclass(frozen=True)
class Compiled:
    """A compiled ontology: its model, IR, rendered files and digests.

    `waived` lists the violations an override let through (sorted as in
    reports); `checked.report` still holds every result, the waived ones too.
    """

    checked: Checked
    ontology: Ontology
    ir: PackageIR
    files: dict[str, bytes]
    semantic_digest: str
    waived: tuple[Violation, ...] = ()

    @property
    def sources(self) -> tuple[SourceFile, ...]:
        """The Turtle files the package was compiled from."""
        return self.checked.loaded.sources


class ValidationFailed(CheckFailed):
    """O does not satisfy Σ: an ordinary `CheckFailed` with every result as a problem.

    `directory` is the ontology directory as messages name it (the path the
    user gave, or `ontology` relative to the repository root), so each
    problem's location is a file the user can open. The report and sources
    stay attached for callers that record them (the build's rejection receipt),
    with `digest`, the attempted ontology's semantic digest (None when unknown),
    which an override binds.
    """

    def __init__(
        self,
        report: ValidationReport,
        sources: tuple[SourceFile, ...] = (),
        *,
        directory: str,
        hint: str,
        digest: str | None = None,
    ) -> None:
        count = len(report.violations)
        super().__init__(
            f"the ontology does not conform: {count} violation(s)",
            hint=hint,
            problems=[_violation_problem(v, directory) for v in report.results],
        )
        self.report = report
        self.sources = sources
        self.directory = directory
        self.digest = digest


def _violation_problem(v: Violation, directory: str) -> Problem:
    path = f" (path {v.path})" if v.path else ""
    value = f" value {v.value}" if v.value else ""
    return Problem(
        v.severity.lower(),
        f"{v.focus}{path} [shape {v.shape}]{value}: {v.message}",
        location=Location(f"{directory.rstrip('/')}/{v.file}") if v.file else None,
    )


def _condition_violations(
    loaded: LoadedOntology, conditions: CompiledConditions
) -> list[Violation]:
    namer = Namer(loaded)
    out = []
    for failure in conditions.failures:
        node = URIRef(failure.control_iri)
        out.append(
            Violation(
                focus=namer.term(node),
                path="mu:when",
                shape=CONDITION_SHAPE.get(failure.kind, "mu:Condition"),
                message=(
                    f"control `{failure.control_id}`, column {failure.column}: {failure.message}"
                    + (f" (hint: {failure.hint})" if failure.hint else "")
                ),
                severity="Violation",
                file=namer.file_of(node),
                core=True,  # the compiler cannot compile it: never waivable
            )
        )
    return out


def _restriction_violations(
    loaded: LoadedOntology, problems: tuple[RestrictionProblem, ...]
) -> list[Violation]:
    # A field is a blank node with a random label, so the violation names its
    # transaction type (a stable IRI) and says which field in the message.
    namer = Namer(loaded)
    out = []
    for problem in problems:
        node = URIRef(problem.type_iri)
        out.append(
            Violation(
                focus=namer.term(node),
                path=problem.prop,
                shape=RESTRICTION_SHAPE.get(problem.prop, "mu:FieldRestriction"),
                message=(
                    f"field `{problem.path}` of transaction type `{problem.type_id}`: "
                    f"{problem.message} (hint: {problem.hint})"
                ),
                severity="Violation",
                file=namer.file_of(node),
                core=True,  # the compiler refuses to compile it: never waivable
            )
        )
    return out


@dataclass(frozen=True)
class Unit:
    """What flows through the stages: each stage fills in the next field."""

    directory: Path
    # Where stages may find earlier results (`generator.cache`); never changes what they make.
    cache: Cache = NO_CACHE
    loaded: LoadedOntology | None = None
    # Σ named apart from O (`mu validate --schema`); None: the ontology's `shapes/`.
    shapes: Path | None = None
    report: ValidationReport | None = None
    ontology: Ontology | None = None
    conditions: CompiledConditions | None = None
    ir: PackageIR | None = None
    files: dict[str, bytes] | None = None
    digest: str | None = None

    @property
    def conforms(self) -> bool:
        """O ⊨ Σ and every condition compiled: the line may go on to lowering."""
        return (
            self.report is not None
            and self.report.conforms
            and self.ontology is not None
            and self.conditions is not None
        )


@dataclass(frozen=True)
class Stage:
    """One named stage of the compiler, turning a `Unit` into the next."""

    name: str
    run: Callable[[Unit], Unit]


def _need(value: T | None, what: str) -> T:
    # A stage run out of order is a bug in STAGES, never a user error.
    if value is None:
        raise AssertionError(f"stage input `{what}` is missing: STAGES are out of order")
    return value


def _load(unit: Unit) -> Unit:
    return replace(unit, loaded=load_ontology(unit.directory, unit.shapes))


def _validate(unit: Unit) -> Unit:
    return replace(unit, report=shacl_validate(_need(unit.loaded, "loaded")))


def _extract(unit: Unit) -> Unit:
    try:
        return replace(unit, ontology=extract_ontology(_need(unit.loaded, "loaded").data))
    except MuError:
        # The graph is too broken to read a model from; SHACL already said why.
        return unit


def _restrictions(unit: Unit) -> Unit:
    if unit.ontology is None:
        return unit
    problems = check_restrictions(unit.ontology)
    if not problems:
        return unit
    report = _need(unit.report, "report")
    results = (*report.results, *_restriction_violations(_need(unit.loaded, "loaded"), problems))
    return replace(unit, report=ValidationReport(tuple(sorted(results, key=sort_key))))


def _conditions(unit: Unit) -> Unit:
    if unit.ontology is None:
        return unit
    conditions = compile_conditions(unit.ontology)
    report = _need(unit.report, "report")
    if conditions.failures:
        loaded = _need(unit.loaded, "loaded")
        results = (*report.results, *_condition_violations(loaded, conditions))
        report = ValidationReport(tuple(sorted(results, key=sort_key)))
    return replace(unit, conditions=conditions, report=report)


def _lower(unit: Unit) -> Unit:
    ontology, conditions = _need(unit.ontology, "ontology"), _need(unit.conditions, "conditions")
    return replace(unit, ir=lower(ontology, conditions.compiled))


def _render(unit: Unit) -> Unit:
    return replace(unit, files=render_cached(_need(unit.ir, "ir"), unit.cache))


def _digest(unit: Unit) -> Unit:
    return replace(unit, digest=semantic_digest(_need(unit.loaded, "loaded").sources))


# The compiler, in order (as OPA's compile.go lists its stages). The checking
# stages collect every problem; the line stops between them and lowering
# unless O ⊨ Σ. Writing is not a stage of compilation: `generate` does it.
CHECK_STAGES: tuple[Stage, ...] = (
    Stage("load", _load),
    Stage("validate", _validate),
    Stage("extract", _extract),
    Stage("restrictions", _restrictions),
    Stage("conditions", _conditions),
)
EMIT_STAGES: tuple[Stage, ...] = (
    Stage("lower", _lower),
    Stage("render", _render),
    Stage("digest", _digest),
)
STAGES: tuple[Stage, ...] = CHECK_STAGES + EMIT_STAGES


def run_stages(stages: tuple[Stage, ...], unit: Unit, progress: Progress = silent) -> Unit:
    """Run `stages` in order on `unit`, telling `progress` as each begins."""
    for stage in stages:
        total = _control_count(unit.loaded) if stage.name == "validate" else None
        progress(Step(stage.name, total=total))
        unit = stage.run(unit)
    return unit


def _control_count(loaded: LoadedOntology | None) -> int | None:
    """How many controls O declares, for progress only (the model is not extracted yet)."""
    if loaded is None:
        return None
    return sum(len(set(loaded.data.subjects(RDF.type, cls))) for cls in KIND_OF_CLASS)


def _checked(unit: Unit) -> Checked:
    loaded, report = _need(unit.loaded, "loaded"), _need(unit.report, "report")
    ontology = unit.ontology if unit.conforms else None
    return Checked(loaded, report, ontology, unit.conditions)


def check(loaded: LoadedOntology) -> Checked:
    """Validate already loaded O against Σ, then compile every condition; every problem."""
    unit = Unit(loaded.directory, loaded=loaded)
    return _checked(run_stages(CHECK_STAGES[1:], unit))


def validate_directory(
    ontology_dir: Path,
    progress: Progress = silent,
    *,
    shapes: Path | None = None,
    cache: Cache = NO_CACHE,
) -> Checked:
    """The checking stages, for `mu validate`; `shapes` replaces the ontology's `shapes/`
    as the organisation's Σ (the core shapes always apply). `cache` may spare work, never
    change the result."""
    unit = Unit(ontology_dir, cache=cache, shapes=shapes)
    return _checked(run_stages(CHECK_STAGES, unit, progress))


def waivable(v: Violation, waived: frozenset[ViolationKey]) -> bool:
    """`v` is named by `waived` and may be let through: it is not a core-shape violation
    nor a condition that does not compile (both marked `core`), which no override waives."""
    return not v.core and ViolationKey.of(v) in waived


def compile_ontology(
    ontology_dir: Path,
    *,
    shown: str | None = None,
    waived: frozenset[ViolationKey] = frozenset(),
    progress: Progress = silent,
    cache: Cache = NO_CACHE,
) -> Compiled:
    """Every stage up to rendered files; raises `ValidationFailed` unless O ⊨ Σ.

    `shown` names `ontology_dir` in messages (default: the path as given).
    `waived` (from a verified override) names violations of the organisation's
    shapes that do not stop the line; every other violation still does, and so
    do a core-shape violation and a condition that does not compile, whatever
    `waived` says. A key of `waived` that matches nothing is ignored: callers
    decide whether that matters. `ValidationFailed.digest` is the attempted
    ontology's semantic digest, the one an override binds. `cache` (`generator.cache`)
    may spare work, never change what is compiled: the default reads and writes nothing.
    """
    unit = run_stages(CHECK_STAGES, Unit(ontology_dir, cache=cache), progress)
    loaded, report = _need(unit.loaded, "loaded"), _need(unit.report, "report")
    blocking = [v for v in report.violations if not waivable(v, waived)]
    ontology, conditions = unit.ontology, unit.conditions
    compiled_all = conditions is not None and not conditions.failures
    if blocking or ontology is None or not compiled_all:
        hint = "fix every violation listed, then run `mu validate` again"
        if waived:
            hint = (
                "fix every violation listed that the override does not name (a core-shape "
                "violation or a condition that does not compile is never overridden)"
            )
        raise ValidationFailed(
            report,
            loaded.sources,
            directory=shown or ontology_dir.as_posix(),
            hint=hint,
            digest=semantic_digest(loaded.sources),
        )
    checked = Checked(loaded, report, ontology, conditions)
    unit = run_stages(EMIT_STAGES, unit, progress)
    return Compiled(
        checked=checked,
        ontology=ontology,
        ir=_need(unit.ir, "ir"),
        files=_need(unit.files, "files"),
        semantic_digest=_need(unit.digest, "digest"),
        waived=tuple(v for v in report.violations if waivable(v, waived)),
    )


@dataclass(frozen=True)
class GenerateResult:
    """What `mu generate` did: where, how many files, and (with --check) the drift."""

    output: Path
    compiled: Compiled
    diff: TreeDiff
    written: bool


def generate(
    ontology_dir: Path,
    output: Path | str | None,
    *,
    layout: Layout,
    check_only: bool = False,
    progress: Progress = silent,
    cache: Cache = NO_CACHE,
) -> GenerateResult:
    """Compile and write A atomically; with `check_only`, write nothing and compare.

    `output` None means the repository's own `enforcers/`; any other output is
    first checked by the path policy (`generator.paths.output_directory`).
    """
    target = layout.enforcers if output is None else output_directory(layout, output)
    compiled = compile_ontology(
        ontology_dir, shown=layout.shown(ontology_dir), progress=progress, cache=cache
    )
    diff = compare_trees(compiled.files, read_tree(target))
    if check_only:
        return GenerateResult(target, compiled, diff, written=False)
    if not diff.clean:
        write_tree_atomic(target, compiled.files)
    return GenerateResult(target, compiled, diff, written=not diff.clean)
