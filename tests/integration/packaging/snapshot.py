"""A copy of the checkout as it would be committed: tracked and new files, nothing git
ignores (`.venv/`, caches, `*.egg-info/`), so a test builds or installs from it without
touching the working tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def checkout_files() -> list[str]:
    """The checkout's tracked and untracked, not ignored, files that exist (sorted)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(
        {name for name in listed.split("\0") if name and os.path.lexists(REPO / name)}
    )


def snapshot_checkout(dest: Path) -> Path:
    """Copy the checkout's files (symbolic links as links) to `dest`."""
    for name in checkout_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target, follow_symlinks=False)
    return dest


def git_snapshot(dest: Path) -> Path:
    """`snapshot_checkout` committed into a new git repository at `dest` (pre-commit reads
    a hook repository from git, and the working tree may be uncommitted)."""
    snapshot_checkout(dest)
    env = {**os.environ, **GIT_IDENTITY}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"]):
        subprocess.run(["git", "-C", str(dest), *args], check=True, env=env, capture_output=True)
    return dest
