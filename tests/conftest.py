"""Shared fixtures: a scratch copy of the shipped policy repository, and `mu`
run both in-process (click's CliRunner) and as a real subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

if TYPE_CHECKING:
    from mu.generator.compile.pipeline import Compiled

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Run:
    """What a `mu` invocation did."""

    code: int
    out: str
    err: str


def copy_repo(dest: Path, *, enforcers: bool = False) -> Path:
    """Copy the shipped ontology and golden suite (and optionally enforcers) to `dest`."""
    for name in ("ontology", "golden", *(["enforcers"] if enforcers else [])):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(autouse=True)
def private_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the development signing key of every test out of the real home directory."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch policy repository holding the shipped example."""
    return copy_repo(tmp_path / "repo")


def run_mu(*args: str, root: Path | None = None) -> Run:
    """`mu` in-process through click's CliRunner (usable from fixtures of any scope)."""
    from mu.cli import cli

    argv = [*(["--root", str(root)] if root else []), *args]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def mu() -> Callable[..., Run]:
    """`mu` in-process through click's CliRunner: mu(*args, root=...)."""
    return run_mu


@pytest.fixture(scope="session")
def example_compiled() -> Compiled:
    """The shipped ontology compiled once per session (per xdist worker). Read it, never
    change it: every test of the session sees the same object."""
    from mu.generator.compile.pipeline import compile_ontology

    return compile_ontology(REPO / "ontology")


pytest_plugins = ["tests.chain"]


def mu_process(
    *args: str,
    cwd: Path,
    seed: str = "0",
    timeout: int = 300,
    extra_env: dict[str, str] | None = None,
) -> Run:
    """`mu` as a user runs it: a new Python process with its own hash seed."""
    env = {**os.environ, "PYTHONHASHSEED": seed, **(extra_env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "mu.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


# Fixtures whose tests build signed receipts, or copy chains the session built: every
# build runs the determinism gate's second compile in a child process, so such a test
# (or the first of a worker to need a chain) costs seconds.
BUILDING_FIXTURES = frozenset(
    {"signed", "built", "built_two", "built_three", "chain_templates", "chain"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that builds signed receipts `slow`, so `-m "not slow"` stays fast."""
    for item in items:
        if BUILDING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
