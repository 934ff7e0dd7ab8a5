"""The `mu` command line: the only module that imports click, prints or exits.

Each command reads its options, makes one core call, renders the result with
`generator.reports.common` and returns an exit code (SPEC §7): 0 success, 1 a check
failed, 2 bad usage or unreadable input. `MuError` is caught in one place.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path

import click

from generator import __version__
from generator.audit.log import read_log
from generator.audit.replay import replay
from generator.audit.verify import quarterly_verify
from generator.build.build import build
from generator.compile.pipeline import ValidationFailed, generate, validate_directory
from generator.errors import EXIT_CHECK_FAILED, EXIT_OK, InputError, MuError
from generator.files import write_file_atomic
from generator.layout import Layout
from generator.operate.deploy import deploy, rollback_deploy
from generator.operate.diagnose import diagnose
from generator.operate.diagnose import write_case as write_golden_case
from generator.operate.upgrade import upgrade_check
from generator.paths import output_file
from generator.provenance.approvals import approve
from generator.provenance.keys import generate_keypair, keygen_passphrase
from generator.provenance.signing import resolve_signer
from generator.provenance.trust import ROLES, add_key
from generator.provenance.verify_receipt import trust_path, verify_receipt
from generator.reports import audit as audit_reports
from generator.reports import common as reports
from generator.reports import diff as diff_reports
from generator.reports import operate as ops_reports
from generator.review.diff import diff_specs
from generator.review.rollback import rollback
from generator.run.decide import decide, read_transaction
from generator.run.enforcers import load_enforcers
from generator.run.golden import load_suite, run_suite, select

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
        _render_error(fmt, exc)
        code = exc.code
    except OSError as exc:
        # The environment refused a read or write (permissions, a full disk, a
        # name the file system rejects): unreadable input or unwritable output.
        where = f" `{exc.filename}`" if exc.filename is not None else ""
        error = InputError(
            f"cannot access{where}: {exc.strerror or exc}",
            hint="check that the path exists, is writable, and the disk has space",
        )
        _render_error(fmt, error)
        code = error.code
    sys.exit(code)


def _render_error(fmt: str, exc: MuError) -> None:
    if fmt == "json":
        click.echo(reports.error_json(exc))
    else:
        click.echo(reports.error_text(exc), err=True)


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
@click.option("--output", help="Enforcer package dir (new, empty, or generated by mu).")
@click.option("--check", is_flag=True, help="Write nothing; fail if the output differs.")
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def generate_cmd(
    ctx: click.Context, input_dir: Path | None, output: str | None, check: bool, fmt: str
) -> None:
    """Compile O into the enforcer package A, atomically."""
    layout = _layout(ctx)

    def body() -> int:
        result = generate(input_dir or layout.ontology, output, layout=layout, check_only=check)
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
@click.argument("transaction", type=click.Path(allow_dash=True, path_type=Path))
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
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ed25519 private key (PKCS#8 PEM) that signs the receipt; passphrase from "
    "MU_KEY_PASSPHRASE. Without it, a local development key signs (untrusted).",
)
@click.option(
    "--require-approvals",
    type=click.IntRange(min=0),
    default=0,
    help="Fail unless N keys trusted for `compliance` approved this ontology (`mu approve`).",
)
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def build_cmd(ctx: click.Context, sign_key: Path | None, require_approvals: int, fmt: str) -> None:
    """Validate → generate → test → determinism check → signed receipt, all or nothing."""
    layout = _layout(ctx)

    def body() -> int:
        signer = resolve_signer(layout, sign_key)
        result = build(layout, signer, required_approvals=require_approvals)
        if fmt == "json":
            click.echo(reports.build_json(result))
        else:
            run = result.run
            if run.validation is not None and not run.validation.conforms:
                click.echo(reports.validation_text(run.validation, "ontology/", ""))
            if run.golden is not None and not run.golden.ok:
                click.echo(reports.golden_text(run.golden))
            click.echo(reports.gates_text(result))
        return EXIT_OK if result.ok else EXIT_CHECK_FAILED

    _run(fmt, body)


@cli.command("keygen")
@click.option("--out", required=True, help="Where the private key goes (outside the repository).")
@click.option(
    "--passphrase-env",
    metavar="VAR",
    help="Encrypt the private key with the passphrase in this environment variable "
    "(default: MU_KEY_PASSPHRASE, when set).",
)
@click.pass_context
def keygen_cmd(ctx: click.Context, out: str, passphrase_env: str | None) -> None:
    """An Ed25519 key pair: OUT (private, PKCS#8 PEM, mode 0600) and OUT.pub."""
    layout = _layout(ctx)

    def body() -> int:
        passphrase = keygen_passphrase(passphrase_env)
        path = output_file(layout, out, what="a private key")
        pair = generate_keypair(path, passphrase, repo_root=layout.root.resolve())
        state = "encrypted" if pair.encrypted else "NOT encrypted"
        click.echo(f"private key: {pair.private_path} (mode 0600, {state}; keep it private)")
        click.echo(f"public key:  {pair.public_path}")
        click.echo(f"keyid:       {pair.keyid}")
        if pair.warning:
            click.echo(f"warning: {pair.warning}", err=True)
        click.echo(f"next: mu trust add {pair.public_path} --role release")
        return EXIT_OK

    _run("text", body)


@cli.group("trust")
def trust_group() -> None:
    """Manage `receipts/trust.json`: which public keys are trusted, for which role."""


@trust_group.command("add")
@click.argument("public_key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option("--name", help="A name for the key holder (default: the file's stem).")
@click.pass_context
def trust_add_cmd(ctx: click.Context, public_key: Path, role: str, name: str | None) -> None:
    """Trust PUBLIC_KEY for ROLE (release, compliance, auditor)."""
    layout = _layout(ctx)

    def body() -> int:
        key = add_key(trust_path(layout), public_key, role, name)
        click.echo(f"trusted `{key.name}` ({key.keyid[:12]}) for: {', '.join(key.roles)}")
        return EXIT_OK

    _run("text", body)


@cli.command("verify-receipt")
@click.argument("receipt", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def verify_receipt_cmd(
    ctx: click.Context, receipt: Path, public_key: Path | None, fmt: str
) -> None:
    """Check a receipt's envelope, signature, trust, statement and chain link."""
    layout = _layout(ctx)

    def body() -> int:
        verdict = verify_receipt(layout, receipt, public_key_path=public_key)
        if fmt == "json":
            click.echo(reports.to_json(audit_reports.verdict_dict(verdict)))
        else:
            click.echo(audit_reports.verdict_text(verdict))
        return EXIT_OK if verdict.ok else EXIT_CHECK_FAILED

    _run(fmt, body)


@cli.command("replay")
@click.option("--receipt", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--deployed", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign the auditor's statement with this key (role `auditor`).",
)
@click.option(
    "--statement-out",
    help="Also write the auditor's statement (the payload bytes) to this file.",
)
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def replay_cmd(
    ctx: click.Context,
    receipt: Path,
    public_key: Path | None,
    deployed: Path | None,
    sign_key: Path | None,
    statement_out: str | None,
    fmt: str,
) -> None:
    """Regenerate A from a receipt's snapshot and compare every digest."""
    layout = _layout(ctx)

    def body() -> int:
        out = None
        if statement_out is not None:
            out = output_file(layout, statement_out, what="the auditor's statement")
        auditor = resolve_signer(layout, sign_key) if sign_key else None
        result = replay(
            layout, receipt, public_key_path=public_key, deployed=deployed, auditor=auditor
        )
        if result.ok and out is not None:
            write_file_atomic(out, result.payload)
        if fmt == "json":
            click.echo(reports.to_json(audit_reports.replay_dict(result)))
        else:
            click.echo(audit_reports.replay_text(result))
        return EXIT_OK if result.ok else EXIT_CHECK_FAILED

    _run(fmt, body)


@cli.command("log")
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.pass_context
def log_cmd(ctx: click.Context, public_key: Path | None, fmt: str) -> None:
    """The receipt chain, oldest first: who changed what, each link verified."""
    layout = _layout(ctx)

    def body() -> int:
        log = read_log(layout, public_key_path=public_key)
        if fmt == "json":
            click.echo(reports.to_json(audit_reports.log_dict(log)))
        elif fmt == "markdown":
            click.echo(audit_reports.log_markdown(log), nl=False)
        else:
            click.echo(audit_reports.log_text(log))
        return EXIT_OK if log.ok else EXIT_CHECK_FAILED

    _run("json" if fmt == "json" else "text", body)


@cli.command("rollback")
@click.option("--receipt", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    help="Write A here instead of enforcers/ (ontology/ and golden/ are then left alone).",
)
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def rollback_cmd(
    ctx: click.Context, receipt: Path, output: str | None, public_key: Path | None, fmt: str
) -> None:
    """Regenerate A exactly as RECEIPT recorded it, proven by digests, atomically."""
    layout = _layout(ctx)

    def body() -> int:
        result = rollback(layout, receipt, output=output, public_key_path=public_key)
        if fmt == "json":
            click.echo(reports.to_json(reports.rollback_dict(result)))
        else:
            click.echo(reports.rollback_text(result))
        return EXIT_OK

    _run(fmt, body)


@cli.command("verify")
@click.option("--deployed", type=click.Path(file_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.pass_context
def verify_cmd(
    ctx: click.Context, deployed: Path | None, public_key: Path | None, fmt: str
) -> None:
    """Quarterly: chain, O ⊨ Σ, fresh A vs committed and deployed A; explains every drift."""
    layout = _layout(ctx)

    def body() -> int:
        report = quarterly_verify(layout, deployed=deployed, public_key_path=public_key)
        if fmt == "json":
            click.echo(reports.to_json(audit_reports.verify_dict(report)))
        elif fmt == "markdown":
            click.echo(audit_reports.verify_markdown(report), nl=False)
        else:
            click.echo(audit_reports.verify_text(report))
        return EXIT_OK if report.ok else EXIT_CHECK_FAILED

    _run("json" if fmt == "json" else "text", body)


@cli.command("upgrade-check")
@click.option("--deployed", type=click.Path(file_okay=False, path_type=Path))
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def upgrade_check_cmd(
    ctx: click.Context, deployed: Path | None, sign_key: Path | None, fmt: str
) -> None:
    """Regenerate with this generator; compare modules and behaviour with the deployed A."""
    layout = _layout(ctx)

    def body() -> int:
        signer = resolve_signer(layout, sign_key)
        report = upgrade_check(layout, deployed=deployed, signer=signer)
        if fmt == "json":
            click.echo(reports.to_json(ops_reports.upgrade_dict(report)))
        else:
            click.echo(ops_reports.upgrade_text(report))
        return EXIT_OK if report.equivalent else EXIT_CHECK_FAILED

    _run(fmt, body)


@cli.command("diagnose")
@click.option("--receipt", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--transaction", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--observed", required=True, help="What production decided (APPROVE, ...).")
@click.option("--deployed", type=click.Path(file_okay=False, path_type=Path))
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--write-case", is_flag=True, help="Add the transaction to golden/diagnosed.toml.")
@click.option("--case-id", help="Id of the golden case written (default: diagnosed_<tx id>).")
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def diagnose_cmd(
    ctx: click.Context,
    receipt: Path,
    transaction: Path,
    observed: str,
    deployed: Path | None,
    public_key: Path | None,
    write_case: bool,
    case_id: str | None,
    fmt: str,
) -> None:
    """Say whether a wrong decision comes from the ontology, the generator, the
    deployment or the runtime, and who to escalate to."""
    layout = _layout(ctx)

    def body() -> int:
        tx = read_transaction(transaction)
        diagnosis = diagnose(
            layout, receipt, tx, observed, deployed=deployed, public_key_path=public_key
        )
        written = None
        if write_case:
            default = f"diagnosed_{tx.get('id', 'case') if isinstance(tx, dict) else 'case'}"
            written = write_golden_case(layout.golden, case_id or default, tx, diagnosis)
        if fmt == "json":
            data = ops_reports.diagnosis_dict(diagnosis)
            data["golden_case_written"] = str(written) if written else None
            click.echo(reports.to_json(data))
        else:
            click.echo(ops_reports.diagnosis_text(diagnosis))
            if written:
                click.echo(f"golden case added to `{written}`")
        return EXIT_OK

    _run(fmt, body)


@cli.command("deploy")
@click.option("--receipt", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target", required=True, type=click.Path(path_type=Path))
@click.option("--switch-back", is_flag=True, help="Switch TARGET back to its previous release.")
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def deploy_cmd(
    ctx: click.Context,
    receipt: Path | None,
    target: Path,
    switch_back: bool,
    public_key: Path | None,
    fmt: str,
) -> None:
    """Verified, health-checked, atomic switch of a deployed A."""
    layout = _layout(ctx)

    def body() -> int:
        if switch_back:
            result = rollback_deploy(layout, target, public_key_path=public_key)
        elif receipt is None:
            raise InputError("`mu deploy` needs `--receipt` (or `--switch-back`)")
        else:
            result = deploy(layout, receipt, target, public_key_path=public_key)
        if fmt == "json":
            click.echo(reports.to_json(ops_reports.deploy_dict(result)))
        else:
            click.echo(ops_reports.deploy_text(result))
        return EXIT_OK

    _run(fmt, body)


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "--max-blast-radius",
    type=float,
    help="Fail (exit 1) when changed control modules exceed this share (0..1) of all.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.pass_context
def diff_cmd(
    ctx: click.Context, old: str, new: str, max_blast_radius: float | None, fmt: str
) -> None:
    """What changes from OLD to NEW (git refs, ontology dirs or receipts): per control,
    per enforcer module, per golden decision, and the blast radius."""
    layout = _layout(ctx)

    def body() -> int:
        report = diff_specs(old, new, layout, max_blast_radius=max_blast_radius)
        if fmt == "json":
            click.echo(diff_reports.diff_json(report))
        elif fmt == "markdown":
            click.echo(diff_reports.diff_markdown(report), nl=False)
        else:
            click.echo(diff_reports.diff_text(report))
        return EXIT_OK if report.ok else EXIT_CHECK_FAILED

    _run("json" if fmt == "json" else "text", body)


@cli.command("approve")
@click.option("--key", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text")
@click.pass_context
def approve_cmd(ctx: click.Context, key: Path, fmt: str) -> None:
    """Sign a compliance approval of the current ontology (its semantic digest)."""
    layout = _layout(ctx)

    def body() -> int:
        approval = approve(layout, resolve_signer(layout, key))
        if fmt == "json":
            click.echo(
                reports.to_json(
                    {
                        "approval": str(approval.path),
                        "keyid": approval.keyid,
                        "ontology_digest": approval.ontology_digest,
                        "statement_digest": approval.statement_digest,
                    }
                )
            )
        else:
            click.echo(
                f"ok: approved ontology sha256:{approval.ontology_digest} "
                f"with key {approval.keyid[:12]} → `{approval.path}`"
            )
            click.echo("  it counts once the key is trusted for `compliance` (`mu trust add`)")
        return EXIT_OK

    _run(fmt, body)


def _terminate(signum: int, _frame: object) -> None:
    # SystemExit unwinds the stack, so every `finally` removes its temporary
    # directory and no half-staged tree or temporary file is left behind.
    raise SystemExit(128 + signum)


def main() -> None:
    """Console-script entry point (`mu`)."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)
    cli(prog_name="mu")


if __name__ == "__main__":
    main()
