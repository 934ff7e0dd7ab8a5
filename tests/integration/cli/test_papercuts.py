"""CLI conventions (issue 13, part 4): `mu decide -`, the README's example decides, keys
anywhere outside a policy repository, warnings only on standard error, progress only on
a terminal, `mu test --junit`, and shell completion."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.shell_completion import BashComplete
from click.testing import CliRunner

import mu.cli as mucli
from mu.generator.run.decide import MAX_TRANSACTION_BYTES
from tests.chain import Signed
from tests.conftest import REPO, Run, copy_repo, mu_process

Mu = Callable[..., Run]


def _invoke(root: Path, *args: str, stdin: bytes | str | None = None) -> Run:
    result = CliRunner().invoke(
        mucli.cli, ["--root", str(root), *args], input=stdin, catch_exceptions=False
    )
    return Run(result.exit_code, result.stdout, result.stderr)


def _readme_transaction() -> bytes:
    """The README's example transaction: its one ```json block, as the user copies it."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```json\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, "the README should show exactly one example transaction"
    return str(blocks[0]).encode("utf-8")


# -- mu decide - ----------------------------------------------------------------------


def test_decide_dash_decides_the_transaction_on_standard_input() -> None:
    run = _invoke(REPO, "decide", "-", "--format", "json", stdin=_readme_transaction())
    assert run.code == 0, run.err
    assert json.loads(run.out)["outcome"] == "REJECT"


def test_decide_dash_errors_name_stdin() -> None:
    bad = _invoke(REPO, "decide", "-", stdin='{"id": "tx-1",\n  oops}')
    assert bad.code == 2
    assert "error: <stdin> is not valid JSON" in bad.err
    assert "--> <stdin>:2:3" in bad.err
    assert bad.out == ""
    empty = _invoke(REPO, "decide", "-", stdin="")
    assert empty.code == 2 and "<stdin> is not valid JSON" in empty.err


def test_decide_dash_has_the_size_bound_of_a_file() -> None:
    data = b'{"id": "tx-1"}' + b" " * MAX_TRANSACTION_BYTES
    run = _invoke(REPO, "decide", "-", stdin=data)
    assert run.code == 2
    assert "<stdin> is larger than 16 MiB" in run.err


def test_decide_dash_refuses_what_a_file_is_refused_for() -> None:
    run = _invoke(REPO, "decide", "-", stdin='{"id": "a", "id": "b"}')
    assert run.code == 2
    assert "<stdin> is not a valid transaction" in run.err
    assert "the key `id` appears twice" in run.err


@pytest.mark.slow
def test_decide_dash_reads_a_pipe_in_a_real_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mu.cli", "decide", "-", "--format", "json"],
        cwd=REPO,
        input=_readme_transaction(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outcome"] == "REJECT"


# -- the README's example -------------------------------------------------------------


def test_the_readme_example_transaction_decides_with_the_shipped_enforcers(
    tmp_path: Path,
) -> None:
    tx = tmp_path / "tx.json"
    tx.write_bytes(_readme_transaction())
    run = _invoke(REPO, "decide", str(tx), "--format", "json")
    assert run.code == 0, run.err  # the enforcer accepts it: no field is missing
    decision = json.loads(run.out)
    assert decision["outcome"] == "REJECT"
    assert [r["control_id"] for r in decision["reasons"]] == ["approval_over_100k"]


def test_the_readme_says_what_its_example_decides() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "prints `REJECT` by `approval_over_100k`" in readme


# -- keygen: anywhere outside a policy repository ---------------------------------------


@pytest.fixture
def no_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No repository above tmp_path, and no user git configuration, decides these tests.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("MU_KEY_PASSPHRASE", raising=False)


def _keygen_in(cwd: Path, out: str, *root: str) -> Run:
    """`mu [--root R] keygen --out OUT` run from `cwd`, as typed in a shell there."""
    before = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(
            mucli.cli, [*root, "keygen", "--out", out], catch_exceptions=False
        )
    finally:
        os.chdir(before)
    return Run(result.exit_code, result.stdout, result.stderr)


def test_keygen_from_a_home_directory_writes_the_key(tmp_path: Path, no_git: None) -> None:
    home = tmp_path / "home"
    home.mkdir()
    run = _keygen_in(home, str(home / "keys" / "release.pem"))
    assert run.code == 0, run.err
    assert (home / "keys" / "release.pem").is_file()
    assert (home / "keys" / "release.pem.pub").is_file()
    # A relative path, from the same directory, too.
    assert _keygen_in(home, "keys/other.pem").code == 0


@pytest.mark.parametrize("marker", ["ontology", "golden", "receipts"])
def test_keygen_refuses_a_key_inside_a_policy_repository(
    tmp_path: Path, no_git: None, marker: str
) -> None:
    repo = tmp_path / "repo"
    (repo / marker).mkdir(parents=True)
    (repo / "keys").mkdir()
    for cwd in (repo, repo / "keys", tmp_path):  # wherever mu runs from
        run = _keygen_in(cwd, str(repo / "keys" / "k.pem"))
        assert run.code == 2, (cwd, run.out)
        assert f"is inside the repository `{repo}`" in run.err
        assert "`ontology/`, `golden/` or `receipts/`" in run.err  # the hint says why
    assert not (repo / "keys" / "k.pem").exists()


def test_keygen_refuses_a_key_inside_the_root_given(tmp_path: Path, no_git: None) -> None:
    plain = tmp_path / "plain"  # holds nothing mu knows, but the user named it the repository
    plain.mkdir()
    run = _keygen_in(tmp_path, str(plain / "k.pem"), "--root", str(plain))
    assert run.code == 2
    assert f"is inside the repository `{plain}`" in run.err
    assert not (plain / "k.pem").exists()
    # Without `--root`, the same directory is no repository.
    assert _keygen_in(tmp_path, str(plain / "k.pem")).code == 0


def test_keygen_allows_a_key_outside_the_repository_it_runs_in(
    tmp_path: Path, no_git: None
) -> None:
    repo = copy_repo(tmp_path / "repo")
    run = _keygen_in(repo, str(tmp_path / "keys" / "k.pem"))
    assert run.code == 0, run.err


# -- warnings go to standard error -----------------------------------------------------


def test_a_warning_never_reaches_json_on_standard_output(mu: Mu, signed: Signed) -> None:
    # Without `--trust-root` mu warns that it trusts the repository's own root.
    run = mu("trust", "list", "--format", "json", root=signed.root)
    assert run.code == 0, run.err
    assert "warning: " in run.err
    assert "warning" not in run.out
    json.loads(run.out)  # the whole of standard output is one JSON document


def test_keygen_warns_on_standard_error_only(tmp_path: Path, no_git: None) -> None:
    run = _keygen_in(tmp_path, str(tmp_path / "keys" / "k.pem"))
    assert run.code == 0
    assert "warning: the private key" in run.err and "NOT encrypted" in run.err
    assert "warning" not in run.out


# -- progress: on a terminal's standard error only -------------------------------------


class FakeTerminal(io.StringIO):
    """A standard error that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_and_erased(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = copy_repo(tmp_path / "repo", enforcers=True)
    quiet = _invoke(repo, "validate")
    terminal = FakeTerminal()
    monkeypatch.setattr(mucli, "_terminal_stderr", lambda: terminal)
    shown = _invoke(repo, "validate")
    drawn = terminal.getvalue()
    assert "mu: loading the ontology…" in drawn
    assert re.search(r"mu: validating [1-9][0-9]* controls…", drawn)
    assert drawn.endswith("\r\x1b[K")  # erased before the result is printed
    assert shown.out == quiet.out and shown.code == quiet.code == 0  # results unchanged

    terminal.seek(0)
    terminal.truncate()
    tested = _invoke(repo, "test")
    assert tested.code == 0
    assert "mu: golden cases 0/" in terminal.getvalue()
    assert re.search(r"mu: golden cases (\d+)/\1…", terminal.getvalue())


@pytest.mark.slow
def test_no_progress_when_standard_error_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = copy_repo(tmp_path / "repo", enforcers=True)
    for args in (("validate",), ("test",), ("generate", "--check")):
        run = _invoke(repo, *args)
        assert "mu: " not in run.err + run.out and "\x1b" not in run.err + run.out, args
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert mucli._terminal_stderr() is None
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert mucli._terminal_stderr() is terminal


def test_the_status_line_draws_counts_sparingly() -> None:
    from mu.generator.progress import Step

    terminal = FakeTerminal()
    with mucli._progress_on(terminal) as progress:
        progress(Step("validate", total=1000))
        for done in range(401):
            progress(Step("golden", done, 400))
        progress(Step("extract"))  # a quick stage: the line stays as it was
        progress(Step("determinism"))
    drawn = terminal.getvalue().split("\r\x1b[K")
    assert drawn[1] == "mu: validating 1,000 controls…"
    assert drawn[2] == "mu: golden cases 0/400…"
    assert "mu: golden cases 400/400…" in drawn  # the last count is always drawn
    assert len([d for d in drawn if d.startswith("mu: golden")]) < 10  # not 401 redraws
    assert drawn[-2].startswith("mu: determinism re-check") and drawn[-1] == ""


@pytest.mark.slow
def test_build_reports_every_stage_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = copy_repo(tmp_path / "repo")
    terminal = FakeTerminal()
    monkeypatch.setattr(mucli, "_terminal_stderr", lambda: terminal)
    run = _invoke(repo, "build")
    assert run.code == 0, run.err
    drawn = terminal.getvalue()
    for text in ("validating", "generating…", "golden cases", "determinism re-check"):
        assert f"mu: {text}" in drawn
    assert "mu: " not in run.out + run.err and drawn.endswith("\r\x1b[K")


# -- mu test --junit --------------------------------------------------------------------


def test_junit_report_of_a_passing_run(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo", enforcers=True)
    out = tmp_path / "reports" / "junit.xml"
    out.parent.mkdir()
    run = _invoke(repo, "test", "--junit", str(out))
    assert run.code == 0, run.err
    root = ET.fromstring(out.read_bytes())
    assert root.tag == "testsuites"
    cases = root.findall("testsuite/testcase")
    assert int(root.get("tests", "-1")) == len(cases) > 100
    assert root.get("failures") == root.get("errors") == "0"
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == sorted(names) and "vendor_payment" in names
    assert not root.findall(".//failure")
    first = out.read_bytes()
    assert _invoke(repo, "test", "--junit", str(out)).code == 0
    assert out.read_bytes() == first  # deterministic: no time, no host


def test_junit_report_names_each_failing_case(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo", enforcers=True)
    golden = repo / "golden" / "approvals_vendor.toml"
    text = golden.read_text(encoding="utf-8")
    old = 'expect = { outcome = "REJECT", controls = ["approval_over_100k"] }'
    assert old in text
    golden.write_text(text.replace(old, 'expect = { outcome = "APPROVE" }', 1), encoding="utf-8")
    out = tmp_path / "junit.xml"
    run = _invoke(repo, "test", "--junit", str(out), "--scenario", "transaction_105k_L2_actor")
    assert run.code == 1
    root = ET.fromstring(out.read_bytes())
    [case] = root.findall("testsuite/testcase")
    assert case.get("name") == "transaction_105k_L2_actor"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "expected outcome APPROVE, got REJECT"
    assert root.get("failures") == "1"


@pytest.mark.parametrize("where", ["golden/junit.xml", "receipts/junit.xml", "."])
def test_junit_refuses_the_paths_mu_never_writes(tmp_path: Path, where: str) -> None:
    repo = copy_repo(tmp_path / "repo", enforcers=True)
    run = _invoke(repo, "test", "--junit", str(repo / where))
    assert run.code == 2
    assert "refusing to write the JUnit report" in run.err
    assert not (repo / "golden" / "junit.xml").exists()


# -- shell completion --------------------------------------------------------------------


def test_completion_offers_the_commands_starting_with_de() -> None:
    complete = BashComplete(mucli.cli, {}, "mu", "_MU_COMPLETE")
    offered = [item.value for item in complete.get_completions([], "de")]
    assert {"decide", "deploy", "decisions"} <= set(offered)
    options = [item.value for item in complete.get_completions(["test"], "--ju")]
    assert options == ["--junit"]


@pytest.mark.slow
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_is_printed_for_each_documented_shell(
    tmp_path: Path, shell: str
) -> None:
    run = mu_process(cwd=tmp_path, extra_env={"_MU_COMPLETE": f"{shell}_source"})
    assert run.code == 0, run.err
    assert "_mu_completion" in run.out and f"_MU_COMPLETE={shell}_complete" in run.out
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"_MU_COMPLETE={shell}_source mu" in readme
