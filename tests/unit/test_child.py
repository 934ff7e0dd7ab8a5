"""Only mu's own code runs: the children of the determinism gate and the health check
import this installation's `mu.generator`, never one from the current directory, the
policy repository or `PYTHONPATH`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mu.generator.build.gates import determinism_check
from mu.generator.child import GENERATOR_HOME, child_env, module_command
from mu.generator.compile.pipeline import compile_ontology
from tests.conftest import REPO, copy_repo

SENTINEL_CODE = """
import pathlib
pathlib.Path({path!r}).write_text("imported\\n")
raise SystemExit("a foreign generator package ran")
"""


def plant_generator(directory: Path, sentinel: Path) -> None:
    """`generator` and `mu.generator` packages that record being imported."""
    for package in (directory / "generator", directory / "mu" / "generator"):
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(SENTINEL_CODE.format(path=str(sentinel)))
        (package / "regen.py").write_text(SENTINEL_CODE.format(path=str(sentinel)))


def test_the_child_command_is_isolated() -> None:
    argv = module_command("mu.generator.compile.regen", Path("rel/ontology"))
    assert argv[1:3] == ["-P", "-s"] and argv[5] == GENERATOR_HOME
    assert argv[-1] == os.path.abspath("rel/ontology")


def test_the_child_environment_drops_python_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setenv("PYTHONSTARTUP", "/elsewhere/start.py")
    env = child_env({"PYTHONHASHSEED": "7"})
    assert "PYTHONPATH" not in env and "PYTHONSTARTUP" not in env
    assert env["PYTHONHASHSEED"] == "7"


@pytest.mark.slow
def test_the_determinism_gate_never_imports_a_planted_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = copy_repo(tmp_path / "repo")
    sentinel = tmp_path / "sentinel"
    plant_generator(repo, sentinel)  # in the policy checkout = the working directory
    plant_generator(tmp_path / "pythonpath", sentinel)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "pythonpath"))
    expected = compile_ontology(Path("ontology"))
    gate = determinism_check(Path("ontology"), expected)
    assert gate.status == "PASS", gate.detail
    assert not sentinel.exists()


@pytest.mark.slow
def test_mu_build_run_inside_a_checkout_with_its_own_generator(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    sentinel = tmp_path / "sentinel"
    plant_generator(repo, sentinel)
    mu = Path(REPO / ".venv" / "bin" / "mu")
    if not mu.exists():  # the README's install puts it there; CI always has it
        pytest.fail(f"{mu} is missing: install with the README's command")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    proc = subprocess.run(
        [str(mu), "build"], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "determinism" in proc.stdout and not sentinel.exists()
