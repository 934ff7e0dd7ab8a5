"""End to end, as a user runs it: `mu` in a real subprocess on a copy of the
shipped policy repository; and the README's promises about set-up and CI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mu.generator.files import read_tree
from tests.conftest import REPO, copy_repo, mu_process

pytestmark = pytest.mark.slow


def test_build_in_a_subprocess_passes_and_is_reproducible(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    run = mu_process("build", cwd=root, seed="3")
    assert run.code == 0, run.out + run.err
    assert "build passed" in run.out
    for gate in ("ontology", "golden", "determinism"):
        assert re.search(rf"{gate}\s+PASS", run.out)
    first = read_tree(root / "enforcers")
    again = mu_process("build", cwd=root, seed="77")
    assert again.code == 0
    assert read_tree(root / "enforcers") == first


def test_committed_enforcers_are_what_the_ontology_compiles_to(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo", enforcers=True)
    run = mu_process("generate", "--check", cwd=root)
    assert run.code == 0, run.out + run.err


def test_python_dash_m_entry_points(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    for module in ("mu.cli", "mu.generator"):
        proc = subprocess.run(
            [sys.executable, "-m", module, "validate"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "ok: the ontology conforms" in proc.stdout


def test_user_errors_never_show_a_traceback(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    (root / "ontology" / "controls" / "z.ttl").write_text("@prefix : <urn:x#> .\n:a :b\n")
    run = mu_process("build", cwd=root)
    assert run.code == 2
    assert "ontology/controls/z.ttl:" in run.err
    assert "Traceback" not in run.err + run.out
    usage = mu_process("generate", "--no-such-option", cwd=root)
    assert usage.code == 2 and "Traceback" not in usage.err


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_has_two_setup_commands_and_ci_runs_the_test_one() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("mu build")
    assert "pytest" in commands[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()
