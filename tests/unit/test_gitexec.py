"""git as mu runs it: a repository's own configuration cannot make git run a program."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.gitexec import git
from mu.generator.provenance.keys import generate_keypair, load_private_key


@pytest.fixture
def hostile_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A git repository whose `.git/config` names an fsmonitor hook; the hook's sentinel."""
    root = tmp_path / "repo"
    root.mkdir()
    sentinel = tmp_path / "sentinel"
    hook = tmp_path / "hook.sh"
    hook.write_text(f"#!/bin/sh\ntouch {sentinel}\n")
    hook.chmod(0o755)

    def run(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)

    run("init", "-q")
    (root / "a.txt").write_text("a\n")
    run("add", "a.txt")
    run("-c", "user.email=a@example.org", "-c", "user.name=a", "commit", "-qm", "a")
    run("config", "core.fsmonitor", str(hook))
    # Plain git does run it: the hazard is real, not hypothetical.
    run("ls-files", "--error-unmatch", "--", "a.txt")
    assert sentinel.exists()
    sentinel.unlink()
    return root, sentinel


def test_git_never_runs_the_repositorys_fsmonitor(hostile_repo: tuple[Path, Path]) -> None:
    root, sentinel = hostile_repo
    for args in (("ls-files", "--error-unmatch", "--", "a.txt"), ("status", "--porcelain")):
        assert git(root, *args, timeout=60).returncode == 0
    assert not sentinel.exists()


def test_the_key_in_repository_check_runs_no_hook(
    hostile_repo: tuple[Path, Path], tmp_path: Path
) -> None:
    root, sentinel = hostile_repo
    pair = generate_keypair(tmp_path / "keys" / "release.pem")
    load_private_key(pair.private_path, repo_root=root)
    inside = root / "release.pem"
    inside.write_bytes(pair.private_path.read_bytes())
    inside.chmod(0o600)
    subprocess.run(
        ["git", "-c", "core.fsmonitor=false", "-C", str(root), "add", "release.pem"], check=True
    )
    with pytest.raises(InputError, match="tracked by git"):
        load_private_key(inside, repo_root=root)
    assert not sentinel.exists()
