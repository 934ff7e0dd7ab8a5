"""Running real git on a policy repository without letting its configuration run code.

A repository's own `.git/config` can name programs that git starts by itself
(`core.fsmonitor`, `core.hooksPath` hooks, `diff.external`, pagers). mu only
reads from git, so every call turns those off on the command line, where they
override the repository's configuration, and never waits on a prompt.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# `-c` settings beat the repository's own configuration.
SAFE_CONFIG = (
    "-c", "core.fsmonitor=false",
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "core.pager=cat",
    "-c", "diff.external=",
    "-c", "protocol.allow=never",
)  # fmt: skip


def git(
    root: Path, *args: str, timeout: float, stdout: int | None = subprocess.PIPE
) -> subprocess.CompletedProcess[bytes]:
    """Run `git -C root args` with the safe settings; output captured, stdin closed.

    Raises `OSError` when git cannot be started and `subprocess.TimeoutExpired`
    when it runs past `timeout`; the callers turn both into their own errors.
    """
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}
    return subprocess.run(
        ["git", *SAFE_CONFIG, "-C", str(root), *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE if stdout is not None else subprocess.DEVNULL,
        env=env,
        timeout=timeout,
        check=False,
    )
