"""The `mu` command line: the only module that imports click, prints or exits.

Each command reads its options, makes one core call and shows the result with
its renderer table (`generator.reports.tables`, keyed by `--format`); it
returns an `ExitCode` (SPEC §7): 0 success, 1 a check failed, 2 bad usage or
unreadable input. Every `MuError` is caught and rendered in one place, `_run`.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path
from typing import TextIO, TypeVar

import click
from click.core import ParameterSource

from mu.generator import __version__
from mu.generator.audit.log import read_log
from mu.generator.audit.replay import replay
from mu.generator.audit.verify import quarterly_verify
from mu.generator.build.build import build
from mu.generator.cache import Cache
from mu.generator.compile.pipeline import generate, validate_directory
from mu.generator.errors import ExitCode, InputError, MuError
from mu.generator.files import write_file_atomic
from mu.generator.layout import Layout
from mu.generator.operate.deployed import deploy_to, deployed_receipt
from mu.generator.operate.diagnose import diagnose
from mu.generator.operate.diagnose import write_case as write_golden_case
from mu.generator.operate.hashes import verify_hashes
from mu.generator.operate.upgrade import upgrade_check
from mu.generator.paths import enclosing_repository, output_file
from mu.generator.progress import Progress, Step, silent
from mu.generator.provenance.approvals import approve
from mu.generator.provenance.identity import this_generator
from mu.generator.provenance.keys import generate_keypair, keygen_passphrase
from mu.generator.provenance.overrides import approve_override
from mu.generator.provenance.signing import resolve_signer
from mu.generator.provenance.trustedit import (
    TrustChange,
    list_root,
    propose_add,
    propose_policy,
    propose_remove,
    sign_proposal,
)
from mu.generator.provenance.trusthistory import load_history
from mu.generator.provenance.trustinit import init_root, migrate
from mu.generator.provenance.trustroot import ROLES, Role
from mu.generator.provenance.verify_receipt import verify_receipt
from mu.generator.reports import tables
from mu.generator.reports.auditreport import audit_report
from mu.generator.reports.deployed import DEPLOYMENT
from mu.generator.reports.diff import GITHUB_COMMENT_LIMIT, diff_markdown, truncate_markdown
from mu.generator.reports.enforcerdiff import (
    ENFORCER_DIFF,
    EnforcerDiffView,
    enforcer_diff_markdown,
)
from mu.generator.reports.hashes import HASHES
from mu.generator.reports.html import audit_html
from mu.generator.reports.junit import junit_xml
from mu.generator.reports.vocabulary import load_vocabulary, vocabulary_html
from mu.generator.review.diff import diff_specs
from mu.generator.review.enforcerdiff import are_enforcer_dirs, diff_enforcers
from mu.generator.review.rollback import rollback
from mu.generator.review.sides import verify_receipt_sides
from mu.generator.run.batch import (
    LINE_RENDERERS,
    Tally,
    default_jobs,
    interrupted_text,
    render_batch,
    summary_text,
)
from mu.generator.run.decide import decide, read_transaction
from mu.generator.run.enforcers import load_enforcers
from mu.generator.run.golden import load_suite, run_suite, select
from mu.generator.service.config import load_config
from mu.generator.service.server import (
    actions_retry,
    actions_status,
    default_log_dir,
    serve,
    verify_decisions,
)

T = TypeVar("T")


def _formats(table: Mapping[str, object]) -> click.Choice[str]:
    """A command's `--format` choices: the formats its result's renderer table has."""
    return click.Choice(list(table))


def _layout(ctx: click.Context) -> Layout:
    layout = ctx.obj
    assert isinstance(layout, Layout)
    return layout


def _show(fmt: str, table: tables.Table[T], result: T, *, ok: bool = True) -> ExitCode:
    """Print `result` in `fmt`; exit 0 when `ok`, else 1 (a check failed)."""
    click.echo(table[fmt](result), nl=False)
    return ExitCode.OK if ok else ExitCode.CHECK_FAILED


def _run(fmt: str, action: Callable[[], ExitCode]) -> None:
    """Run one command body; render any `MuError` and exit with its code."""
    try:
        code = action()
    except MuError as exc:
        code = _fail(fmt, exc)
    except OSError as exc:
        # The environment refused a read or write (permissions, a full disk, a
        # name the file system rejects): unreadable input or unwritable output.
        where = f" `{exc.filename}`" if exc.filename is not None else ""
        code = _fail(
            fmt,
            InputError(
                f"cannot access{where}: {exc.strerror or exc}",
                hint="check that the path exists, is writable, and the disk has space",
            ),
        )
    sys.exit(int(code))


def _fail(fmt: str, exc: MuError) -> ExitCode:
    # A machine format's error goes to standard output (one document for a
    # pipe); a human one to standard error.
    click.echo(tables.ERROR[fmt](exc), nl=False, err=fmt not in tables.MACHINE_FORMATS)
    return exc.code


# What the status line says as each step begins; the steps it does not name keep
# the line as it was (they are quick).
_PROGRESS_TEXT = {
    "load": "loading the ontology…",
    "validate": "validating {total:,} controls…",
    "conditions": "compiling conditions…",
    "lower": "generating…",
    "golden": "golden cases {done:,}/{total:,}…",
    "reference": "cross-checking the enforcers with the reference evaluator…",
    "determinism": "determinism re-check (a second compile in a fresh process)…",
}


def _progress_text(step: Step) -> str | None:
    template = _PROGRESS_TEXT.get(step.stage)
    if template is None or ("{total" in template and step.total is None):
        return None
    return "mu: " + template.format(done=step.done, total=step.total)


class _StatusLine:
    """Progress on a terminal: one line on standard error, redrawn in place and erased
    when the work ends, so none of it stays among the results or reaches a pipe."""

    INTERVAL = 0.1  # seconds between redraws of a count: a terminal is slow to scroll

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = ""
        self.drawn_at = 0.0

    def __call__(self, step: Step, /) -> None:
        text = _progress_text(step)
        if text is None or text == self.shown:
            return
        now = time.monotonic()
        between = step.total is not None and 0 < step.done < step.total
        if between and now - self.drawn_at < self.INTERVAL:
            return
        self.shown, self.drawn_at = text, now
        # `color=True`: the stream is a terminal, and the erase code must reach it.
        click.echo(f"\r\x1b[K{text}", file=self.stream, nl=False, color=True)

    def close(self) -> None:
        """Erase the status line (before the result or an error is printed)."""
        if self.shown:
            click.echo("\r\x1b[K", file=self.stream, nl=False, color=True)
            self.shown = ""


def _terminal_stderr() -> TextIO | None:
    """Standard error when it is a terminal, the only place progress is shown."""
    stream = sys.stderr
    return stream if stream.isatty() else None


def _progress() -> AbstractContextManager[Progress]:
    """A status line for long work on a terminal's standard error, else `silent`."""
    return _progress_on(_terminal_stderr())


@contextmanager
def _progress_on(stream: TextIO | None) -> Iterator[Progress]:
    """A `_StatusLine` on `stream`, erased at the end; `silent` when there is no stream."""
    if stream is None:
        yield silent
        return
    line = _StatusLine(stream)
    try:
        yield line
    finally:
        line.close()


# `--no-cache` of every command that compiles: the cache (`generator.cache`, in the git
# directory) only ever spares work, so the flag changes how long, never what.
_NO_CACHE = click.option(
    "--no-cache",
    is_flag=True,
    help="Neither read nor store cached stage results (the result is byte-identical).",
)


def _cache(layout: Layout, no_cache: bool) -> Cache:
    """The repository's cache, or a disabled one for `--no-cache`; close it when done."""
    if no_cache:
        return Cache.disabled()
    return Cache.for_repository(layout.root, generator=this_generator().source_sha256)


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
# `--ontology` is the runbooks' spelling of `--input` (one option, two names).
@click.option(
    "--input", "--ontology", "input_dir", type=click.Path(path_type=Path), help="Ontology dir O."
)
@click.option(
    "--schema",
    "--constraints",
    "schema_dir",
    type=click.Path(path_type=Path),
    help="Directory of the organisation's SHACL shapes Σ (default: O's shapes/); "
    "the vocabulary's core shapes always apply.",
)
@click.option("--format", "fmt", type=_formats(tables.VALIDATION), default="text")
@_NO_CACHE
@click.pass_context
def validate(
    ctx: click.Context, input_dir: Path | None, schema_dir: Path | None, fmt: str, no_cache: bool
) -> None:
    """Check O ⊨ Σ and list every violation."""
    layout = _layout(ctx)
    ontology_dir = input_dir or layout.ontology

    def body() -> ExitCode:
        with _progress() as progress, _cache(layout, no_cache) as cache:
            checked = validate_directory(ontology_dir, progress, shapes=schema_dir, cache=cache)
        result = tables.Validation(checked, layout.shown(ontology_dir))
        return _show(fmt, tables.VALIDATION, result, ok=checked.report.conforms)

    _run(fmt, body)


@cli.command("generate")
@click.option("--input", "input_dir", type=click.Path(path_type=Path), help="Ontology dir.")
@click.option("--output", help="Enforcer package dir (new, empty, or generated by mu).")
@click.option("--check", is_flag=True, help="Write nothing; fail if the output differs.")
@click.option("--format", "fmt", type=_formats(tables.GENERATE), default="text")
@_NO_CACHE
@click.pass_context
def generate_cmd(
    ctx: click.Context,
    input_dir: Path | None,
    output: str | None,
    check: bool,
    fmt: str,
    no_cache: bool,
) -> None:
    """Compile O into the enforcer package A, atomically."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        with _progress() as progress, _cache(layout, no_cache) as cache:
            result = generate(
                input_dir or layout.ontology,
                output,
                layout=layout,
                check_only=check,
                progress=progress,
                cache=cache,
            )
        ok = result.diff.clean or not check
        return _show(fmt, tables.GENERATE, tables.Generated(result, check), ok=ok)

    _run(fmt, body)


@cli.command("test")
@click.option("--enforcers", "--enforcer", "enforcers_dir", type=click.Path(path_type=Path))
@click.option("--golden", "golden_dir", type=click.Path(path_type=Path), help="Suite directory.")
@click.option("--golden-suite", is_flag=True, help="Run the golden suite (the default).")
@click.option("--scenario", help="Run only the case with this id (shell patterns allowed).")
@click.option("--min-coverage", type=float, default=0.0, help="Fail below this coverage (%).")
@click.option("--verbose", "-v", is_flag=True, help="List passing cases too.")
@click.option(
    "--junit",
    metavar="FILE",
    help="Also write the run as JUnit XML to FILE (one suite per transaction type).",
)
@click.option("--format", "fmt", type=_formats(tables.GOLDEN), default="text")
@click.pass_context
def test_cmd(
    ctx: click.Context,
    enforcers_dir: Path | None,
    golden_dir: Path | None,
    golden_suite: bool,
    scenario: str | None,
    min_coverage: float,
    verbose: bool,
    junit: str | None,
    fmt: str,
) -> None:
    """Run the golden cases against A and report per-control coverage."""
    layout = _layout(ctx)
    del golden_suite  # the runbooks' spelling; running the suite is the default

    def body() -> ExitCode:
        # Checked first: a path mu may not write to fails before any case runs.
        junit_path = output_file(layout, junit, what="the JUnit report") if junit else None
        module = load_enforcers(enforcers_dir or layout.enforcers)
        suite = load_suite(golden_dir or layout.golden)
        cases = select(suite, scenario)
        with _progress() as progress:
            report = run_suite(module, suite, cases, progress)
        if junit_path is not None:
            write_file_atomic(junit_path, junit_xml(report, cases))
        ok = report.ok and report.coverage_percent >= min_coverage
        return _show(fmt, tables.GOLDEN, tables.GoldenRun(report, verbose), ok=ok)

    _run(fmt, body)


@cli.command("decide")
@click.argument("transaction", required=False, type=click.Path(allow_dash=True, path_type=Path))
@click.option(
    "--batch",
    type=click.Path(allow_dash=True, path_type=Path),
    metavar="FILE.jsonl",
    help="Decide every line of a JSON Lines file (`-`: standard input) instead of one "
    "transaction: one result per line, in input order.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Worker processes for `--batch` (default: one per CPU); 1 decides in this process, "
    "each line as soon as it arrives.",
)
@click.option("--enforcers", "--enforcer", "enforcers_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=_formats(tables.DECISION), default="text")
@click.pass_context
def decide_cmd(
    ctx: click.Context,
    transaction: Path | None,
    batch: Path | None,
    jobs: int | None,
    enforcers_dir: Path | None,
    fmt: str,
) -> None:
    """Evaluate one transaction (JSON; `-`: standard input) with A and print the decision.
    Exit 0 with a decision (APPROVE, REJECT or REVIEW), 1 when the enforcer refuses the
    transaction or cannot decide it, 2 when it is unreadable or malformed JSON.

    With `--batch FILE.jsonl`, decide every line: one result per line on standard
    output (`--format json`: one JSON object per line, the decision without its trace),
    in input order, and a summary on standard error. A bad line (blank, not JSON, not a
    valid transaction) is INVALID and one the enforcer cannot decide is ERROR, each
    reported with its line number; no line is skipped. Exit 0 when every line was
    decided (a REJECT is a decision), 1 when any line is INVALID or ERROR or a worker
    process died, 2 for bad usage or an unreadable file or enforcer package, 130 when
    interrupted (Ctrl-C).
    """
    layout = _layout(ctx)
    enforcers = enforcers_dir or layout.enforcers

    def body() -> ExitCode:
        if (transaction is None) == (batch is None):
            raise InputError(
                "`mu decide` takes one transaction file or `--batch FILE.jsonl`"
                + (", not both" if batch is not None else ""),
                hint="`mu decide TX.json` (`-`: standard input) decides one transaction; "
                "`mu decide --batch FILE.jsonl` one per line",
            )
        if batch is not None:
            return _decide_batch(batch, enforcers, jobs or default_jobs(), fmt)
        if jobs is not None:
            raise InputError(
                "`--jobs` applies to `--batch` only",
                hint="`mu decide --batch FILE.jsonl --jobs N`, or drop `--jobs`",
            )
        assert transaction is not None
        return _show(fmt, tables.DECISION, decide(enforcers, transaction))

    # A batch's standard output holds one result per input line and nothing
    # else, so a pipe can rely on it: its errors go to standard error.
    _run(fmt if batch is None else "text", body)


def _decide_batch(batch: Path, enforcers: Path, jobs: int, fmt: str) -> ExitCode:
    """Print one line per decided line as it comes, then the summary on standard error.

    Ctrl-C prints the summary so far and where to resume, and exits 130; a
    reader that closes the pipe (`| head`) ends the batch quietly, as any
    filter does (141, SIGPIPE's status). Either way the worker pool is stopped
    first (`closing`).
    """
    tally = Tally()
    try:
        with closing(render_batch(batch, enforcers, jobs, LINE_RENDERERS[fmt])) as lines:
            for line in lines:
                click.echo(tally.add(line).text)
    except KeyboardInterrupt:
        click.echo(interrupted_text(tally.summary()), err=True)
        sys.exit(128 + signal.SIGINT)
    except BrokenPipeError:
        _discard_stdout()
        sys.exit(128 + 13)  # SIGPIPE (not defined on every platform)
    summary = tally.summary()
    click.echo(summary_text(summary), err=True)
    return ExitCode.OK if summary.ok else ExitCode.CHECK_FAILED


def _discard_stdout() -> None:
    """Point standard output at /dev/null: the reader is gone, and the interpreter's last
    flush must not fail again (and print an 'Exception ignored' line)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (captured, as in tests)
        pass


@cli.command("build")
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ed25519 private key (PKCS#8 PEM) of the trust root's `release` role that signs "
    "the receipt; passphrase from MU_KEY_PASSPHRASE. The root's approvals policy is "
    "always enforced. Without it: a development build, nothing signed or recorded.",
)
@click.option("--format", "fmt", type=_formats(tables.BUILD), default="text")
@_NO_CACHE
@click.pass_context
def build_cmd(ctx: click.Context, sign_key: Path | None, fmt: str, no_cache: bool) -> None:
    """Validate → generate → test → coverage (mu.toml's `[build] min_coverage`) →
    reference cross-check → determinism check → approvals → signed receipt, all or nothing."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        signer = resolve_signer(layout, sign_key) if sign_key is not None else None
        with _progress() as progress, _cache(layout, no_cache) as cache:
            result = build(layout, signer, progress=progress, cache=cache)
        return _show(fmt, tables.BUILD, result, ok=result.ok)

    _run(fmt, body)


@cli.command("keygen")
@click.option(
    "--out",
    required=True,
    help="Where the private key goes: anywhere outside a policy repository (a directory "
    "holding ontology/, golden/ or receipts/, or the one `--root` names).",
)
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

    def body() -> ExitCode:
        passphrase = keygen_passphrase(passphrase_env)
        path = output_file(layout, out, what="a private key")
        # The current directory is a repository only if it looks like one; `--root` is
        # one because the user said so.
        root_given = ctx.find_root().get_parameter_source("root") is not ParameterSource.DEFAULT
        repository = enclosing_repository(path, layout.root if root_given else None)
        pair = generate_keypair(path, passphrase, repo_root=repository)
        _warn(pair.warning)
        return _show("text", tables.KEYPAIR, pair)

    _run("text", body)


@cli.group("trust")
def trust_group() -> None:
    """The signed trust root (SPEC §9): identities, keys, roles, thresholds and policy.

    `init` makes version 1; `add`, `remove` and `policy` propose the next
    version; `sign` signs the proposal, which takes effect once the root
    quorums of the current version and of the proposal have signed it.
    """


def _trust_change(ctx: click.Context, fmt: str, change: Callable[[Layout], TrustChange]) -> None:
    layout = _layout(ctx)
    _run(fmt, lambda: _show(fmt, tables.TRUST_CHANGE, change(layout)))


_ROOT_KEY = click.option(
    "--root-key",
    "root_keys",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A root private key (repeat for several); each signs version 1.",
)
_REPOSITORY = click.option(
    "--repository", required=True, help="The repository id every statement will name."
)
_APPROVALS = click.option(
    "--approvals",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Distinct compliance identities that must approve each change.",
)
_TRUST_FORMAT = click.option(
    "--format", "fmt", type=_formats(tables.TRUST_CHANGE), default="text"
)


@trust_group.command("init")
@_ROOT_KEY
@_REPOSITORY
@_APPROVALS
@click.option(
    "--root-threshold",
    type=click.IntRange(min=1),
    help="Root identities that must sign each later version (default: a majority).",
)
@_TRUST_FORMAT
@click.pass_context
def trust_init_cmd(
    ctx: click.Context,
    root_keys: tuple[Path, ...],
    repository: str,
    approvals: int,
    root_threshold: int | None,
    fmt: str,
) -> None:
    """Make version 1 of the trust root, signed by every given root key."""
    _trust_change(
        ctx,
        fmt,
        lambda layout: init_root(
            layout, list(root_keys), repository, approvals=approvals, threshold=root_threshold
        ),
    )


@trust_group.command("migrate")
@_ROOT_KEY
@_REPOSITORY
@_APPROVALS
@_TRUST_FORMAT
@click.pass_context
def trust_migrate_cmd(
    ctx: click.Context, root_keys: tuple[Path, ...], repository: str, approvals: int, fmt: str
) -> None:
    """Turn the unsigned `receipts/trust.json` of an older mu into version 1."""
    _trust_change(
        ctx, fmt, lambda layout: migrate(layout, list(root_keys), repository, approvals=approvals)
    )


@trust_group.command("add")
@click.argument("public_key", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--role", required=True, type=click.Choice(list(ROLES)))
@click.option(
    "--identity",
    "--name",
    "identity",
    help="The person or service holding the key (default: the file's stem).",
)
@_TRUST_FORMAT
@click.pass_context
def trust_add_cmd(
    ctx: click.Context, public_key: Path, role: Role, identity: str | None, fmt: str
) -> None:
    """Propose a version in which PUBLIC_KEY holds ROLE."""
    _trust_change(ctx, fmt, lambda layout: propose_add(layout, public_key, role, identity))


@trust_group.command("remove")
@click.argument("keyid")
@_TRUST_FORMAT
@click.pass_context
def trust_remove_cmd(ctx: click.Context, keyid: str, fmt: str) -> None:
    """Propose a version without the key KEYID (or a unique prefix of 8+ hex digits)."""
    _trust_change(ctx, fmt, lambda layout: propose_remove(layout, keyid))


def _thresholds(values: tuple[str, ...]) -> dict[Role, int]:
    out: dict[Role, int] = {}
    for value in values:
        role, _, number = value.partition("=")
        match = next((r for r in ROLES if r == role), None)
        if match is None or not number.isdigit() or int(number) < 1:
            raise InputError(
                f"`--threshold {value}` is not ROLE=N",
                hint="for example `--threshold root=2`; roles: " + ", ".join(ROLES),
            )
        out[match] = int(number)
    return out


@trust_group.command("policy")
@click.option("--approvals", type=click.IntRange(min=1), help="Approvals each change needs.")
@click.option("--threshold", "thresholds", multiple=True, help="ROLE=N (repeatable).")
@_TRUST_FORMAT
@click.pass_context
def trust_policy_cmd(
    ctx: click.Context, approvals: int | None, thresholds: tuple[str, ...], fmt: str
) -> None:
    """Propose a version with another approvals policy or role thresholds."""
    _trust_change(
        ctx, fmt, lambda layout: propose_policy(layout, approvals, _thresholds(thresholds))
    )


@trust_group.command("sign")
@click.option("--key", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_TRUST_FORMAT
@click.pass_context
def trust_sign_cmd(ctx: click.Context, key: Path, fmt: str) -> None:
    """Sign the proposed version with a root KEY; it takes effect at the root thresholds."""
    _trust_change(ctx, fmt, lambda layout: sign_proposal(layout, key))


@trust_group.command("list")
@click.option("--trust-root", help="Verify from this pinned version (sha256 or file).")
@click.option("--format", "fmt", type=_formats(tables.TRUST_LIST), default="text")
@click.pass_context
def trust_list_cmd(ctx: click.Context, trust_root: str | None, fmt: str) -> None:
    """Identities, keys, roles, thresholds and policy of the verified trust root."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        listing = list_root(layout, trust_root)
        _warn(listing.history.warning if trust_root is None else None)
        return _show(fmt, tables.TRUST_LIST, listing)

    _run(fmt, body)


def _warn(warning: str | None) -> None:
    """A loud line on standard error (never mixed into a machine-readable result)."""
    if warning:
        click.echo(f"warning: {warning}", err=True)


# `--trust-root` and `--public-key` of every command that checks signed statements.
_PIN = click.option(
    "--trust-root",
    "trust_root",
    metavar="FILE_OR_SHA256",
    help="Verify from this pinned trust-root version (its sha256, or a copy of its file); "
    "without it mu trusts the repository's own root, and says so.",
)
_NARROW = click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also require a signature by this key (it never makes a key trusted).",
)


@cli.command("verify-receipt")
@click.argument("receipt", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--receipt",
    "receipt_option",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The statement to check (the runbooks' spelling of the argument).",
)
@_NARROW
@_PIN
@click.option("--format", "fmt", type=_formats(tables.RECEIPT_VERDICT), default="text")
@click.pass_context
def verify_receipt_cmd(
    ctx: click.Context,
    receipt: Path | None,
    receipt_option: Path | None,
    public_key: Path | None,
    trust_root: str | None,
    fmt: str,
) -> None:
    """Check a statement of any kind (receipt, rejection, approval, override, audit, upgrade,
    trust root) against its own role: envelope, statement, repository, signature, trust,
    and for a receipt its chain link and approvals."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        if (receipt is None) == (receipt_option is None):
            raise InputError(
                "`mu verify-receipt` checks one statement",
                hint="pass it as `mu verify-receipt RECEIPT` or `--receipt=RECEIPT`, once",
            )
        path = receipt if receipt is not None else receipt_option
        assert path is not None
        verdict = verify_receipt(layout, path, public_key_path=public_key, trust_root=trust_root)
        _warn(verdict.warning)
        return _show(fmt, tables.RECEIPT_VERDICT, verdict, ok=verdict.ok)

    _run(fmt, body)


@cli.command("replay")
@click.option("--receipt", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_NARROW
@_PIN
@click.option("--deployed", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign an audit statement (`urn:mu:v1#Audit`) with this key (role `auditor`).",
)
@click.option(
    "--statement-out",
    help="Also write the auditor's statement (the payload bytes) to this file.",
)
@click.option("--format", "fmt", type=_formats(tables.REPLAY), default="text")
@click.pass_context
def replay_cmd(
    ctx: click.Context,
    receipt: Path,
    public_key: Path | None,
    trust_root: str | None,
    deployed: Path | None,
    sign_key: Path | None,
    statement_out: str | None,
    fmt: str,
) -> None:
    """Regenerate A from a receipt's snapshot and compare every digest."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        out = None
        if statement_out is not None:
            out = output_file(layout, statement_out, what="the auditor's statement")
        auditor = resolve_signer(layout, sign_key) if sign_key else None
        result = replay(
            layout,
            receipt,
            public_key_path=public_key,
            trust_root=trust_root,
            deployed=deployed,
            auditor=auditor,
        )
        _warn(result.warning)
        if result.ok and out is not None:
            write_file_atomic(out, result.payload)
        return _show(fmt, tables.REPLAY, result, ok=result.ok)

    _run(fmt, body)


@cli.command("log")
@_NARROW
@_PIN
@click.option("--format", "fmt", type=_formats(tables.LOG), default="text")
@click.pass_context
def log_cmd(ctx: click.Context, public_key: Path | None, trust_root: str | None, fmt: str) -> None:
    """Every signed statement in order — receipts, rejections, approvals, overrides,
    upgrades, audits, trust-root versions: who signed, when, what changed, each verified."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        log = read_log(layout, public_key_path=public_key, trust_root=trust_root)
        _warn(log.warning)
        return _show(fmt, tables.LOG, log, ok=log.ok)

    _run(fmt, body)


@cli.command("rollback")
@click.option("--receipt", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--output",
    help="Write A here instead of enforcers/ (ontology/ and golden/ are then left alone).",
)
@_NARROW
@_PIN
@click.option("--format", "fmt", type=_formats(tables.ROLLBACK), default="text")
@click.pass_context
def rollback_cmd(
    ctx: click.Context,
    receipt: Path,
    output: str | None,
    public_key: Path | None,
    trust_root: str | None,
    fmt: str,
) -> None:
    """Regenerate A exactly as RECEIPT recorded it, proven by digests, atomically."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        result = rollback(
            layout, receipt, output=output, public_key_path=public_key, trust_root=trust_root
        )
        _warn(result.warning)
        return _show(fmt, tables.ROLLBACK, result)

    _run(fmt, body)


@cli.command("verify")
@click.option("--deployed", type=click.Path(file_okay=False, path_type=Path))
@_NARROW
@_PIN
@click.option("--format", "fmt", type=_formats(tables.VERIFY), default="text")
@click.pass_context
def verify_cmd(
    ctx: click.Context,
    deployed: Path | None,
    public_key: Path | None,
    trust_root: str | None,
    fmt: str,
) -> None:
    """Quarterly: chain, trust and approvals, O ⊨ Σ, fresh A vs committed and deployed A;
    explains every drift."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        report = quarterly_verify(
            layout, deployed=deployed, public_key_path=public_key, trust_root=trust_root
        )
        _warn(report.warning)
        return _show(fmt, tables.VERIFY, report, ok=report.ok)

    _run(fmt, body)


@cli.command("report")
@click.option("--out", required=True, help="Where the HTML audit report goes (e.g. audit.html).")
@click.option("--replay", "with_replay", is_flag=True, help="Also replay every receipt.")
@click.option(
    "--deployed",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also compare this deployed package with a fresh build (drift).",
)
@_PIN
@click.pass_context
def report_cmd(
    ctx: click.Context,
    out: str,
    with_replay: bool,
    deployed: Path | None,
    trust_root: str | None,
) -> None:
    """A self-contained HTML audit report of the chain; written even when a check fails
    (the report shows the failure), and then the exit code is 1."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        path = output_file(layout, out, what="the audit report")
        report = audit_report(
            layout, replay=with_replay, deployed=deployed, trust_root=trust_root
        )
        write_file_atomic(path, audit_html(report).encode("utf-8"))
        _warn(report.warning)
        verdict = "every check passed" if report.ok else "a check FAILED (see the report)"
        click.echo(f"wrote {out}: {len(report.links)} chain link(s); {verdict}")
        return ExitCode.OK if report.ok else ExitCode.CHECK_FAILED

    _run("text", body)


@cli.command("upgrade-check")
@click.option("--deployed", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign an upgrade receipt with this key of the trust root's `release` role "
    "(without it: a report only, nothing written).",
)
@click.option("--format", "fmt", type=_formats(tables.UPGRADE), default="text")
@click.pass_context
def upgrade_check_cmd(
    ctx: click.Context, deployed: Path | None, sign_key: Path | None, fmt: str
) -> None:
    """Regenerate with this generator; compare modules and behaviour with the deployed A."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        signer = resolve_signer(layout, sign_key) if sign_key is not None else None
        report = upgrade_check(layout, deployed=deployed, signer=signer)
        return _show(fmt, tables.UPGRADE, report, ok=report.equivalent)

    _run(fmt, body)


@cli.command("diagnose")
@click.option("--receipt", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--transaction", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--observed", required=True, help="What production decided (APPROVE, ...).")
@click.option("--deployed", type=click.Path(file_okay=False, path_type=Path))
@_NARROW
@_PIN
@click.option("--write-case", is_flag=True, help="Add the transaction to golden/diagnosed.toml.")
@click.option("--case-id", help="Id of the golden case written (default: diagnosed_<tx id>).")
@click.option("--format", "fmt", type=_formats(tables.DIAGNOSIS), default="text")
@click.pass_context
def diagnose_cmd(
    ctx: click.Context,
    receipt: Path,
    transaction: Path,
    observed: str,
    deployed: Path | None,
    public_key: Path | None,
    trust_root: str | None,
    write_case: bool,
    case_id: str | None,
    fmt: str,
) -> None:
    """Say whether a wrong decision comes from the ontology, the generator, the
    deployment or the runtime, and who to escalate to."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        tx = read_transaction(transaction)
        diagnosis = diagnose(
            layout,
            receipt,
            tx,
            observed,
            deployed=deployed,
            public_key_path=public_key,
            trust_root=trust_root,
        )
        _warn(diagnosis.warning)
        written = None
        if write_case:
            default = f"diagnosed_{tx.get('id', 'case') if isinstance(tx, dict) else 'case'}"
            written = write_golden_case(layout.golden, case_id or default, tx, diagnosis)
        return _show(fmt, tables.DIAGNOSIS, tables.Diagnosed(diagnosis, written))

    _run(fmt, body)


@cli.command("deploy")
@click.option("--receipt", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--enforcer",
    "--enforcers",
    "enforcer",
    type=click.Path(file_okay=False, path_type=Path),
    help="Deploy the receipt of the chain that records exactly this A.",
)
@click.option(
    "--target",
    required=True,
    metavar="NAME|DIR",
    help="An environment of `mu.toml`, or the directory A runs from.",
)
@click.option("--switch-back", is_flag=True, help="Switch TARGET back to its previous release.")
@_NARROW
@_PIN
@click.option("--format", "fmt", type=_formats(tables.DEPLOY), default="text")
@click.pass_context
def deploy_cmd(
    ctx: click.Context,
    receipt: Path | None,
    enforcer: Path | None,
    target: str,
    switch_back: bool,
    public_key: Path | None,
    trust_root: str | None,
    fmt: str,
) -> None:
    """Verified, health-checked, atomic switch of a deployed A (the target keeps the trust
    root it was first deployed under; later deploys verify from it)."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        result = deploy_to(
            layout,
            target,
            receipt=receipt,
            enforcer=enforcer,
            switch_back=switch_back,
            public_key_path=public_key,
            trust_root=trust_root,
        )
        for warning in (result.trust_warning, *result.warnings):
            _warn(warning)
        if fmt == "text":
            # The text renderer lists the warnings with the result, on standard output;
            # they went to standard error above. Machine formats keep them as data.
            result = dataclasses.replace(result, warnings=())
        return _show(fmt, tables.DEPLOY, result)

    _run(fmt, body)


@cli.command("receipt")
@click.option(
    "--deployment",
    required=True,
    metavar="NAME",
    help="An environment of `mu.toml` (or a deployed directory).",
)
@_PIN
@click.option("--format", "fmt", type=_formats(DEPLOYMENT), default="text")
@click.pass_context
def receipt_cmd(ctx: click.Context, deployment: str, trust_root: str | None, fmt: str) -> None:
    """The signed record of what is deployed in an environment, verified, and since when."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        result = deployed_receipt(layout, deployment, trust_root=trust_root)
        _warn(result.warning)
        return _show(fmt, DEPLOYMENT, result)

    _run(fmt, body)


@cli.command("diff")
@click.argument("old_arg", metavar="OLD", required=False)
@click.argument("new_arg", metavar="NEW", required=False)
# The runbooks' spelling: `--old A_old --new A_new`, the same as the two arguments.
@click.option("--old", "old_opt", metavar="OLD", help="The old side (instead of OLD).")
@click.option("--new", "new_opt", metavar="NEW", help="The new side (instead of NEW).")
@click.option(
    "--verbose", "-v", is_flag=True, help="Enforcer directories: list identical modules too."
)
@click.option(
    "--max-blast-radius",
    type=float,
    help="Fail (exit 1) when changed control modules exceed this share (0..1) of all.",
)
@_PIN
@click.option("--format", "fmt", type=_formats(tables.DIFF), default="text")
@click.option(
    "--max-chars",
    type=click.IntRange(min=1000),
    help="Markdown only: cut the report at a line so it holds at most this many characters "
    "(a pull request comment; GitHub's limit is 65536), with a note where the rest is.",
)
@click.option(
    "--full-report-url",
    metavar="URL",
    help="Markdown only: where the whole report is (e.g. the CI run's artifacts), linked "
    "from the note of a cut report (without --max-chars, cut at GitHub's limit).",
)
@click.pass_context
def diff_cmd(
    ctx: click.Context,
    old_arg: str | None,
    new_arg: str | None,
    old_opt: str | None,
    new_opt: str | None,
    verbose: bool,
    max_blast_radius: float | None,
    trust_root: str | None,
    fmt: str,
    max_chars: int | None,
    full_report_url: str | None,
) -> None:
    """What changes from OLD to NEW (git refs, ontology dirs or receipts): per control,
    per enforcer module, per golden decision, and the blast radius. OLD and NEW may also
    be two enforcer directories (each holds MANIFEST.json): modules changed and identical,
    and the golden decisions that flip."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        if (max_chars is not None or full_report_url is not None) and fmt != "markdown":
            raise InputError(
                "`--max-chars` and `--full-report-url` apply to `--format markdown` only",
                hint="add `--format markdown`, or leave both out",
            )
        old, new = _diff_sides(old_arg, new_arg, old_opt, new_opt)
        if are_enforcer_dirs(old, new):
            packages = diff_enforcers(old, new, layout, max_blast_radius=max_blast_radius)
            view = EnforcerDiffView(packages, verbose)
            if max_chars is None and full_report_url is None:
                return _show(fmt, ENFORCER_DIFF, view, ok=packages.ok)
            limit = GITHUB_COMMENT_LIMIT if max_chars is None else max_chars
            click.echo(
                truncate_markdown(enforcer_diff_markdown(view), limit, full_report_url), nl=False
            )
            return ExitCode.OK if packages.ok else ExitCode.CHECK_FAILED
        _warn(verify_receipt_sides(layout, (old, new), trust_root=trust_root))
        report = diff_specs(old, new, layout, max_blast_radius=max_blast_radius)
        if max_chars is None and full_report_url is None:
            return _show(fmt, tables.DIFF, report, ok=report.ok)
        limit = GITHUB_COMMENT_LIMIT if max_chars is None else max_chars
        comment = truncate_markdown(diff_markdown(report), limit, full_report_url)
        click.echo(comment, nl=False)
        return ExitCode.OK if report.ok else ExitCode.CHECK_FAILED

    _run(fmt, body)


def _diff_sides(
    old_arg: str | None, new_arg: str | None, old_opt: str | None, new_opt: str | None
) -> tuple[str, str]:
    """OLD and NEW of `mu diff`: `--old`/`--new` where given, the arguments in order for
    the rest (`mu diff --old A B` compares A with B); each side exactly once."""
    arguments = [a for a in (old_arg, new_arg) if a is not None]
    sides = []
    for name, option in (("old", old_opt), ("new", new_opt)):
        if option is not None:
            sides.append(option)
        elif arguments:
            sides.append(arguments.pop(0))
        else:
            raise InputError(
                f"`mu diff` needs the {name} side",
                hint="`mu diff OLD NEW`, or `mu diff --old OLD --new NEW`",
            )
    if arguments:
        raise InputError(
            f"`{arguments[0]}` is one side too many: `--old` and `--new` already name both",
            hint="give each side once, as an argument or as `--old`/`--new`",
        )
    return sides[0], sides[1]


@cli.command("verify-hashes")
@click.option(
    "--enforcers",
    "--enforcer",
    "enforcers_dir",
    type=click.Path(path_type=Path),
    help="The enforcer package A on disk (default: enforcers/).",
)
@click.option(
    "--receipt",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The receipt to compare with (default: the newest recording exactly A's files, "
    "else the newest).",
)
@click.option("--format", "fmt", type=_formats(HASHES), default="text")
@click.pass_context
def verify_hashes_cmd(
    ctx: click.Context, enforcers_dir: Path | None, receipt: Path | None, fmt: str
) -> None:
    """Check A on disk against its MANIFEST.json and the receipt that records it."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        report = verify_hashes(layout, enforcers_dir, receipt)
        return _show(fmt, HASHES, report, ok=report.ok)

    _run(fmt, body)


@cli.command("vocabulary")
@click.option("--out", required=True, help="The HTML file to write, e.g. docs/vocabulary.html.")
@click.pass_context
def vocabulary_cmd(ctx: click.Context, out: str) -> None:
    """The mu: vocabulary (SPEC §3) as one self-contained HTML page."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        path = output_file(layout, out, what="the vocabulary page")
        vocabulary = load_vocabulary()
        write_file_atomic(path, vocabulary_html(vocabulary).encode("utf-8"))
        click.echo(
            f"ok: wrote `{out}` ({len(vocabulary.classes)} classes, "
            f"{len(vocabulary.properties)} properties)"
        )
        return ExitCode.OK

    _run("text", body)


@cli.command("approve")
@click.option(
    "--key",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A private key of the trust root's `compliance` role.",
)
@click.option(
    "--override",
    "rejection",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Override this rejection receipt (receipts/rejected/…) instead: the quorum's "
    "overrides let the next build of exactly that ontology proceed.",
)
@click.option("--format", "fmt", type=_formats(tables.APPROVAL), default="text")
@click.pass_context
def approve_cmd(ctx: click.Context, key: Path, rejection: Path | None, fmt: str) -> None:
    """Sign a compliance approval of the current ontology (its semantic digest), or with
    `--override` a compliance override of a rejection."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        signer = resolve_signer(layout, key)
        history = load_history(layout)
        if rejection is None:
            approval = approve(layout, signer, history)
        else:
            approval = approve_override(layout, signer, history, rejection)
        return _show(fmt, tables.APPROVAL, tables.Approved(approval, history.newest, rejection))

    _run(fmt, body)


@cli.command("serve")
@click.option("--target", required=True, type=click.Path(path_type=Path),
              help="The deployed A (a `mu deploy` target); switches are picked up live.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The service's TOML configuration (docs/serve.example.toml).")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default 8181).")
@click.option("--log", "log_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The decision log directory (default TARGET.decisions/).")
@click.pass_context
def serve_cmd(
    ctx: click.Context,
    target: Path,
    config_path: Path | None,
    host: str | None,
    port: int | None,
    log_dir: Path | None,
) -> None:
    """The decision service: POST /v1/decide, GET /v1/health, GET /metrics (SPEC §10)."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        config = load_config(config_path).overridden(host=host, port=port, log_dir=log_dir)
        summary = serve(
            layout, target, config, config_path=config_path,
            say=lambda line: click.echo(line, err=True),
        )
        click.echo(tables.SERVE["text"](summary), nl=False, err=True)
        return ExitCode.OK

    _run("text", body)


@cli.group("decisions")
def decisions_group() -> None:
    """The decision service's log (SPEC §10)."""


@decisions_group.command("verify")
@click.argument("log_dir", metavar="LOG", type=click.Path(path_type=Path))
@click.option("--live", is_flag=True,
              help="The service is still writing: records after the last checkpoint are "
              "reported, not failed.")
@_PIN
@click.option("--format", "fmt", type=_formats(tables.DECISIONS_VERIFY), default="text")
@click.pass_context
def decisions_verify_cmd(
    ctx: click.Context, log_dir: Path, live: bool, trust_root: str | None, fmt: str
) -> None:
    """Check the log's hash chain and signed checkpoints: finds edited, deleted, reordered
    or truncated records and says since which record."""
    layout = _layout(ctx)

    def body() -> ExitCode:
        verdict = verify_decisions(layout, log_dir, trust_root=trust_root, live=live)
        return _show(fmt, tables.DECISIONS_VERIFY, verdict, ok=verdict.ok)

    _run(fmt, body)


def _log_dir_of(target: Path | None, log_dir: Path | None) -> Path:
    if (target is None) == (log_dir is None):
        raise InputError(
            "name the service by `--target DIR` or its decision log by `--log DIR`",
            hint="the outbox lives in the decision log directory (default TARGET.decisions/)",
        )
    return log_dir if log_dir is not None else default_log_dir(target or Path())


_SERVICE = [
    click.option("--target", type=click.Path(path_type=Path), help="The served target."),
    click.option("--log", "log_dir", type=click.Path(file_okay=False, path_type=Path),
                 help="The decision log directory, if not TARGET.decisions/."),
]


def _service_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(_SERVICE):
        command = option(command)
    return command


@cli.group("actions")
def actions_group() -> None:
    """The decision service's outbox: queued, delivered and dead-lettered actions."""


@actions_group.command("status")
@_service_options
@click.option("--format", "fmt", type=_formats(tables.ACTIONS_STATUS), default="text")
def actions_status_cmd(target: Path | None, log_dir: Path | None, fmt: str) -> None:
    """Counts by state and channel; dead letters, held actions and late deliveries."""

    def body() -> ExitCode:
        status = actions_status(_log_dir_of(target, log_dir))
        return _show(fmt, tables.ACTIONS_STATUS, status, ok=status.dead_total == 0)

    _run(fmt, body)


@actions_group.command("retry")
@click.argument("keys", nargs=-1)
@_service_options
@click.option("--format", "fmt", type=_formats(tables.ACTIONS_RETRY), default="text")
def actions_retry_cmd(
    keys: tuple[str, ...], target: Path | None, log_dir: Path | None, fmt: str
) -> None:
    """Redeliver dead letters: the KEYS given, or every one."""

    def body() -> ExitCode:
        count = actions_retry(_log_dir_of(target, log_dir), list(keys) or None)
        return _show(fmt, tables.ACTIONS_RETRY, count)

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
