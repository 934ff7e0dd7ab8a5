"""The `mu` command line: the only module that imports click, prints or exits.

Each command reads its options, makes one core call, renders the result with
`generator.reports` and returns an exit code (SPEC §7): 0 success, 1 a check
failed, 2 bad usage or unreadable input. `MuError` is caught in one place.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from generator import __version__, reports
from generator.build import build
from generator.decide import decide
from generator.enforcer_loader import load_enforcers
from generator.errors import EXIT_CHECK_FAILED, EXIT_OK, MuError
from generator.golden import load_suite, run_suite, select
from generator.layout import Layout
from generator.pipeline import ValidationFailed, generate, validate_directory

FORMATS = click.Choice(["text", "json"])


def _layout(ctx: click.Context) -> Layout:
    layout = ctx.obj
    assert isinstance(layout, Layout)
    return layout


def _run(fmt: str, action: Callable[[], int]) -> None:
    """Run one command body; render any `MuError` and exit with its code."""
    try:
        code = action()
    except ValidationFailed as exc:
        if fmt == "json":
            click.echo(reports.validation_json(exc.report, "ontology/"))
        else:
            click.echo(reports.validation_text(exc.report, "ontology/", ""), err=True)
        code = exc.code
    except MuError as exc:
        if fmt == "json":
            click.echo(reports.error_json(exc))
        else:
            click.echo(reports.error_text(exc), err=True)
        code = exc.code
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mu")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The policy repository (holds ontology/, golden/, receipts/, enforcers/).",
)
@click.pass_context
def cli(ctx: click.Context, root: Path) -> None:
    """mu: compile financial controls (RDF) into verified Python enforcers."""
    ctx.obj = Layout(root)


@cli.command()
@click.option("--input", "input_dir", type=click.Path(path_type=Path), help="Ontology dir.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text")
@click.pass_context
def validate(ctx: click.Context, input_dir: Path | None, fmt: str) -> None:
    """Check O ⊨ Σ and list every violation."""
    layout = _layout(ctx)
    ontology_dir = input_dir or layout.ontology

    def body() -> int:
        checked = validate_directory(ontology_dir)
        prefix = f"{ontology_dir.as_posix().rstrip('/')}/" if input_dir else "ontology/"
        if fmt == "json":
            click.echo(reports.validation_json(checked.report, prefix))
        elif fmt == "sarif":
            click.echo(reports.validation_sarif(checked.report, prefix))
        else:
            summary = reports.checked_summary(checked)
            click.echo(reports.validation_text(checked.report, prefix, summary))
        return EXIT_OK if checked.report.conforms else EXIT_CHECK_FAILED

    _run(fmt if fmt != "sarif" else "json", body)


@cli.command("generate")
@click.option("--input", "input_dir", type=click.Path(path_type=Path), help="Ontology dir.")
@click.option("--output", type=click.Path(path_type=Path), help="Enforcer package dir.")
@click.option("--check", is_flag=True, help="Write nothing; fail if the output differs.")
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def generate_cmd(
    ctx: click.Context, input_dir: Path | None, output: Path | None, check: bool, fmt: str
) -> None:
    """Compile O into the enforcer package A, atomically."""
    layout = _layout(ctx)

    def body() -> int:
        result = generate(
            input_dir or layout.ontology, output or layout.enforcers, check_only=check
        )
        if fmt == "json":
            click.echo(reports.generate_json(result))
        else:
            click.echo(reports.generate_text(result, check))
        return EXIT_CHECK_FAILED if check and not result.diff.clean else EXIT_OK

    _run(fmt, body)


@cli.command("test")
@click.option("--enforcers", "--enforcer", "enforcers_dir", type=click.Path(path_type=Path))
@click.option("--golden", "golden_dir", type=click.Path(path_type=Path), help="Suite directory.")
@click.option("--golden-suite", is_flag=True, help="Run the golden suite (the default).")
@click.option("--scenario", help="Run only the case with this id (shell patterns allowed).")
@click.option("--min-coverage", type=float, default=0.0, help="Fail below this coverage (%).")
@click.option("--verbose", "-v", is_flag=True, help="List passing cases too.")
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def test_cmd(
    ctx: click.Context,
    enforcers_dir: Path | None,
    golden_dir: Path | None,
    golden_suite: bool,
    scenario: str | None,
    min_coverage: float,
    verbose: bool,
    fmt: str,
) -> None:
    """Run the golden cases against A and report per-control coverage."""
    layout = _layout(ctx)
    del golden_suite  # the runbooks' spelling; running the suite is the default

    def body() -> int:
        target = enforcers_dir or layout.enforcers
        module = load_enforcers(target)
        suite = load_suite(golden_dir or layout.golden)
        report = run_suite(module, suite, select(suite, scenario))
        if fmt == "json":
            click.echo(reports.to_json(reports.golden_dict(report)))
        else:
            click.echo(reports.golden_text(report, verbose))
        below = report.coverage_percent < min_coverage
        return EXIT_OK if report.ok and not below else EXIT_CHECK_FAILED

    _run(fmt, body)


@cli.command("decide")
@click.argument("transaction", type=click.Path(path_type=Path))
@click.option("--enforcers", "--enforcer", "enforcers_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def decide_cmd(ctx: click.Context, transaction: Path, enforcers_dir: Path | None, fmt: str) -> None:
    """Evaluate one transaction (JSON) with A and print the decision."""
    layout = _layout(ctx)

    def body() -> int:
        result = decide(enforcers_dir or layout.enforcers, transaction)
        if fmt == "json":
            click.echo(reports.to_json(result.decision))
        else:
            click.echo(reports.decision_text(result.decision))
        return EXIT_OK

    _run(fmt, body)


@cli.command("build")
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def build_cmd(ctx: click.Context, fmt: str) -> None:
    """Validate → generate → test → determinism check; write A only if all pass."""
    layout = _layout(ctx)

    def body() -> int:
        result = build(layout)
        if fmt == "json":
            click.echo(reports.build_json(result))
        else:
            if result.validation is not None and not result.validation.conforms:
                click.echo(reports.validation_text(result.validation, "ontology/", ""))
            if result.golden is not None and not result.golden.ok:
                click.echo(reports.golden_text(result.golden))
            click.echo(reports.gates_text(result))
        return EXIT_OK if result.ok else EXIT_CHECK_FAILED

    _run(fmt, body)


def main() -> None:
    """Console-script entry point (`mu`)."""
    cli(prog_name="mu")


if __name__ == "__main__":
    main()
