"""The compile pipeline: load → validate → extract → conditions → lower → render.

Each stage is a named function turning one type into the next. `check`
collects every problem (SHACL results and condition failures) before the
line stops; `compile_ontology` refuses to render anything unless O ⊨ Σ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import URIRef

from generator.compile.digest import semantic_digest
from generator.compile.extract import extract_ontology
from generator.compile.ir import PackageIR
from generator.compile.load import LoadedOntology, SourceFile, load_ontology
from generator.compile.lower import CompiledConditions, compile_conditions, lower
from generator.compile.model import Ontology
from generator.compile.render import render_package
from generator.compile.validate import Namer, ValidationReport, Violation, shacl_validate, sort_key
from generator.errors import CheckFailed, MuError
from generator.files import TreeDiff, compare_trees, read_tree, write_tree_atomic
from generator.layout import Layout
from generator.paths import output_directory

CONDITION_SHAPE = {"syntax": "mu:ConditionSyntax", "type": "mu:ConditionType"}


@dataclass(frozen=True)
class Checked:
    """The outcome of the validate stage: the report, and the model when it conforms."""

    loaded: LoadedOntology
    report: ValidationReport
    ontology: Ontology | None
    conditions: CompiledConditions | None


@dataclass(frozen=True)
class Compiled:
    """A compiled ontology: its model, IR, rendered files and digests."""

    checked: Checked
    ontology: Ontology
    ir: PackageIR
    files: dict[str, bytes]
    semantic_digest: str

    @property
    def sources(self) -> tuple[SourceFile, ...]:
        """The Turtle files the package was compiled from."""
        return self.checked.loaded.sources


class ValidationFailed(CheckFailed):
    """O does not satisfy Σ: carries the whole report for rendering."""

    def __init__(self, report: ValidationReport, sources: tuple[SourceFile, ...] = ()) -> None:
        count = len(report.violations)
        super().__init__(
            f"the ontology does not conform: {count} violation(s)",
            hint="fix every violation listed, then run `mu validate` again",
        )
        self.report = report
        self.sources = sources


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
            )
        )
    return out


def check(loaded: LoadedOntology) -> Checked:
    """Validate O against Σ, then compile every condition; collect all problems."""
    report = shacl_validate(loaded)
    try:
        ontology = extract_ontology(loaded.data)
    except MuError:
        # The graph is too broken to read a model from; SHACL already said why.
        return Checked(loaded, report, None, None)
    conditions = compile_conditions(ontology)
    if conditions.failures:
        results = sorted(
            (*report.results, *_condition_violations(loaded, conditions)), key=sort_key
        )
        report = ValidationReport(tuple(results))
    if not report.conforms:
        return Checked(loaded, report, None, conditions)
    return Checked(loaded, report, ontology, conditions)


def validate_directory(ontology_dir: Path) -> Checked:
    """Stages load and validate, for `mu validate`."""
    return check(load_ontology(ontology_dir))


def compile_ontology(ontology_dir: Path) -> Compiled:
    """Every stage up to rendered files; raises `ValidationFailed` unless O ⊨ Σ."""
    checked = validate_directory(ontology_dir)
    if checked.ontology is None or checked.conditions is None or not checked.report.conforms:
        raise ValidationFailed(checked.report, checked.loaded.sources)
    ir = lower(checked.ontology, checked.conditions.compiled)
    files = render_package(ir)
    return Compiled(
        checked=checked,
        ontology=checked.ontology,
        ir=ir,
        files=files,
        semantic_digest=semantic_digest(checked.loaded.sources),
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
) -> GenerateResult:
    """Compile and write A atomically; with `check_only`, write nothing and compare.

    `output` None means the repository's own `enforcers/`; any other output is
    first checked by the path policy (`generator.paths.output_directory`).
    """
    target = layout.enforcers if output is None else output_directory(layout, output)
    compiled = compile_ontology(ontology_dir)
    diff = compare_trees(compiled.files, read_tree(target))
    if check_only:
        return GenerateResult(target, compiled, diff, written=False)
    if not diff.clean:
        write_tree_atomic(target, compiled.files)
    return GenerateResult(target, compiled, diff, written=not diff.clean)
