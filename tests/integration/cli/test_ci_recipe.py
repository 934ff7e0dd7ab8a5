"""The CI recipe shipped for policy repositories: the pre-commit hook refuses a
hand-edited enforcers/ in a real git repository, and the workflow runs the
contract's checks on pull requests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, copy_repo

pytestmark = pytest.mark.slow


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


def test_workflow_runs_the_contract_checks_on_pull_requests() -> None:
    text = (REPO / ".github" / "workflows" / "policy.yml").read_text(encoding="utf-8")
    assert "pull_request:" in text
    for command in (
        "mu validate",
        "mu generate --check",
        "mu test",
        'mu diff "origin/${{ github.base_ref }}" HEAD --format markdown',
    ):
        assert command in text
    assert "gh pr comment" in text
