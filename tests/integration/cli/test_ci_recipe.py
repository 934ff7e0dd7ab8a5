"""The CI recipe shipped for policy repositories: the git hook and the pre-commit
framework's hook refuse a hand-edited enforcers/ in a real git repository; the
composite action runs the contract's checks and the hardened workflow posts them
(zizmor finds nothing above low); a huge `mu diff` fits a pull request comment."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from mu.cli import cli
from mu.generator.reports.diff import GITHUB_COMMENT_LIMIT
from tests.conftest import REPO, copy_repo
from tests.integration.packaging.snapshot import GIT_IDENTITY, git_snapshot

pytestmark = pytest.mark.slow

WORKFLOW = REPO / ".github" / "workflows" / "policy.yml"
ACTION = REPO / "action.yml"
# `owner/repo[/path]@<40 hex digits> # v1.2.3`: a third-party action pinned by commit.
PINNED = re.compile(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        # The hook runs `mu` through the interpreter running the tests.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=False
    )


def test_pre_commit_hook_refuses_a_hand_edited_enforcer(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo", enforcers=True)
    shutil.copytree(REPO / ".githooks", root / ".githooks")
    assert git(root, "init", "-q").returncode == 0
    assert git(root, "config", "core.hooksPath", ".githooks").returncode == 0
    git(root, "add", "-A")
    first = git(root, "commit", "-qm", "policy as generated")
    assert first.returncode == 0, first.stdout + first.stderr

    module = root / "enforcers" / "controls" / "approval_over_100k.py"
    module.write_text(module.read_text().replace("100000.00", "900000.00"))
    git(root, "add", "-A")
    refused = git(root, "commit", "-qm", "sneaky edit")
    assert refused.returncode != 0
    assert "enforcers/ does not match the ontology" in refused.stderr
    assert "changed: controls/approval_over_100k.py" in refused.stdout + refused.stderr

    git(root, "checkout", "--", ".")
    git(root, "reset", "-q", "--hard")
    assert git(root, "commit", "--allow-empty", "-qm", "nothing wrong").returncode == 0


def hook_env() -> dict[str, str]:
    """The environment of `pre-commit` in a test: its own store, and no `mu` on PATH (the
    hook must bring mu itself: `language: python`)."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    return {**os.environ, **GIT_IDENTITY, "PATH": path, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test_pre_commit_try_repo_passes_a_clean_repository_and_fails_a_hand_edit(
    tmp_path: Path,
) -> None:
    hooks = git_snapshot(tmp_path / "mu")  # pre-commit reads hooks from a commit
    policy = copy_repo(tmp_path / "policy", enforcers=True)
    env = {**hook_env(), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "policy as generated"]):
        subprocess.run(["git", "-C", str(policy), *args], check=True, env=env)

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pre_commit", "try-repo", str(hooks), "mu-generate-check",
             "--all-files"],
            cwd=policy, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip

    clean = try_repo()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert re.search(r"mu generate --check\)\.+Passed", clean.stdout), clean.stdout

    module = policy / "enforcers" / "controls" / "approval_over_100k.py"
    module.write_text(module.read_text().replace("100000.00", "900000.00"))
    edited = try_repo()
    assert edited.returncode != 0
    assert "- hook id: mu-generate-check" in edited.stdout
    assert "error: `enforcers` differs from what the ontology compiles to" in edited.stdout
    assert "changed: controls/approval_over_100k.py" in edited.stdout
    assert "Traceback" not in edited.stdout + edited.stderr


def test_the_pre_commit_hook_installs_mu_and_watches_the_policy_files() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "mu-generate-check"
    assert hook["language"] == "python"  # pre-commit installs this repository: mu
    assert hook["entry"] == "mu generate --check"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("ontology/controls/approvals.ttl")
    assert files.search("enforcers/controls/approval_over_100k.py")
    assert not files.search("golden/cases.toml")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def runs(steps: list[dict[str, Any]]) -> str:
    return "\n".join(step.get("run", "") for step in steps)


def test_the_action_runs_the_contract_checks() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) >= {
        "python-version", "base-ref", "min-coverage", "max-comment-chars"
    }  # fmt: skip
    steps = action["runs"]["steps"]
    script = runs(steps)
    # mu comes from the action's own checkout, whatever the calling repository holds.
    assert 'python -m pip install --disable-pip-version-check "$ACTION_PATH"' in script
    assert any(s.get("env", {}).get("ACTION_PATH") == "${{ github.action_path }}" for s in steps)
    for command in (
        'validate --format sarif > "$OUT/mu-validate.sarif"',
        "generate --check",
        'test --min-coverage "$MIN_COVERAGE"',
        'diff "origin/$BASE_REF" HEAD --format markdown > "$OUT/mu-diff.md"',
        '--max-chars "$MAX_CHARS" --full-report-url "$run_url"',
    ):
        assert command in script, command
    # Every check runs even after one failed, so a reviewer sees every problem at once.
    assert all(s.get("if", "").startswith("${{ !cancelled()") for s in steps[4:])


def test_the_workflow_is_hardened() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    workflow = load(WORKFLOW)
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {}  # nothing by default; each job asks for its own
    check, report = workflow["jobs"]["check"], workflow["jobs"]["report"]
    # The job running the pull request's code (mu is installed from it) can only read.
    assert check["permissions"] == {"contents": "read"}
    assert {"uses": "./", "id": "mu"}.items() <= check["steps"][1].items()
    assert check["steps"][1]["with"]["base-ref"] == "${{ github.base_ref }}"
    assert report["permissions"]["pull-requests"] == "write"
    assert report["permissions"]["security-events"] == "write"
    assert report["needs"] == "check"
    # Fork pull requests: no comment or SARIF upload (a read-only token), a notice instead.
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert same_repo in report["if"]
    notices = [s for s in check["steps"] if "::notice" in s.get("run", "")]
    assert len(notices) == 1 and same_repo.replace("==", "!=") in notices[0]["if"]
    # The full report is an artifact; the comment is the cut one that links to it.
    assert any("upload-artifact" in s.get("uses", "") for s in check["steps"])
    assert "gh pr comment" in runs(report["steps"]) and "mu-diff-comment.md" in text

    for path in (WORKFLOW, ACTION):
        data = load(path)
        steps = (
            [s for job in data["jobs"].values() for s in job["steps"]]
            if "jobs" in data
            else data["runs"]["steps"]
        )
        for step in steps:
            assert "${{" not in step.get("run", ""), step  # values come through `env:`
            if "actions/checkout@" in step.get("uses", ""):
                assert step["with"]["persist-credentials"] is False
        for line in path.read_text(encoding="utf-8").splitlines():
            if "uses:" in line and "uses: ./" not in line:
                assert PINNED.search(line.strip()), line


def zizmor(*paths: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "zizmor"), "--offline", "--no-config",
         "--format", "json", *map(str, paths)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # zizmor checks each file against the workflow or action schema first: an invalid one
    # is not audited, and it prints no JSON.
    findings = json.loads(proc.stdout)
    assert isinstance(findings, list), proc.stderr
    return findings


def above_low(findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (f["ident"], f["determinations"]["severity"])
        for f in findings
        if f["determinations"]["severity"] not in ("Informational", "Low")
    ]


def test_zizmor_reports_nothing_above_low() -> None:
    assert above_low(zizmor(WORKFLOW, ACTION)) == []


def test_zizmor_would_catch_an_unpinned_action_and_kept_credentials(tmp_path: Path) -> None:
    # The gate can fail: the recipe as issue 13 found it (a tag, credentials kept).
    weakened = tmp_path / ".github" / "workflows" / "policy.yml"
    weakened.parent.mkdir(parents=True)
    text = WORKFLOW.read_text(encoding="utf-8")
    text = re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v4", text)
    weakened.write_text(text.replace("persist-credentials: false", "clean: true"))
    assert {"unpinned-uses", "artipacked"} <= {ident for ident, _ in above_low(zizmor(weakened))}


def load_synthetic() -> Any:
    """benchmarks/synthetic.py, which is a script folder, not a package."""
    path = REPO / "benchmarks" / "synthetic.py"
    spec = importlib.util.spec_from_file_location("mu_synthetic", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_314_control_diff_is_cut_to_fit_a_pull_request_comment(tmp_path: Path) -> None:
    synthetic = load_synthetic()
    old = synthetic.write_repository(tmp_path / "old", 314) / "ontology"
    new = synthetic.write_repository(tmp_path / "new", 314) / "ontology"
    controls = new / "controls" / "controls.ttl"
    text = re.sub(
        r'rdfs:label "control (\d+)" ; mu:owner "team-',
        r'rdfs:label "control \1, revised by the risk committee for 2027" ; mu:owner "risk-team-',
        controls.read_text(encoding="utf-8"),
    )
    controls.write_text(text, encoding="utf-8")
    url = "https://github.com/acme/policy/actions/runs/42"

    def diff(*extra: str) -> Any:
        args = ["diff", str(old), str(new), "--format", "markdown", *extra]
        return CliRunner().invoke(cli, args, catch_exceptions=False)

    full = diff()
    assert full.exit_code == 0, full.stderr
    assert "**314 controls changed" in full.stdout
    assert len(full.stdout) > GITHUB_COMMENT_LIMIT  # as issue 13 saw: no comment could hold it
    cut = diff("--max-chars", "60000", "--full-report-url", url)
    assert cut.exit_code == 0, cut.stderr
    assert len(cut.stdout) <= 60_000
    kept, note = cut.stdout.split("\n> ✂️ **Truncated:**")
    assert full.stdout.startswith(kept) and kept.endswith("\n")
    assert f"[the full report]({url}) is in this run's artifacts" in note
    assert f"{len(full.stdout):,}-character report" in note


def test_the_comment_options_are_for_markdown_only(tmp_path: Path) -> None:
    old = copy_repo(tmp_path / "old") / "ontology"
    for args, message in (
        (["--max-chars", "60000"], "apply to `--format markdown` only"),
        (["--format", "markdown", "--full-report-url", "ftp://x"], "not an http(s) address"),
        (["--format", "markdown", "--max-chars", "999"], "not in the range x>=1000"),
    ):
        run = CliRunner().invoke(cli, ["diff", str(old), str(old), *args])
        assert run.exit_code == 2 and message in run.stderr, run.output
