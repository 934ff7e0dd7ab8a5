"""The wheel (issue 13): byte-identical from any checkout of the same commit, and, installed
into a fresh environment, one top-level name, `mu`, carrying its package data."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.packaging.snapshot import snapshot_checkout

pytestmark = pytest.mark.slow

# Package data mu reads at run time (the vocabulary, the code templates, the grammar).
PACKAGE_DATA = (
    "mu/generator/compile/vocab/mu.ttl",
    "mu/generator/compile/vocab/shapes.ttl",
    "mu/generator/compile/templates/control.py.j2",
    "mu/generator/compile/conditions/grammar.lark",
)


def source_date_epoch() -> str:
    """The last commit's time: what a release build sets `SOURCE_DATE_EPOCH` to (the wheel's
    zip entries carry it instead of each file's mtime, which differs between checkouts)."""
    out = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%ct"], capture_output=True, text=True
    )
    return out.stdout.strip() or "315532800"  # 1980-01-01, the zip epoch, outside git


def build_wheel(source: Path, out: Path) -> Path:
    """`pip wheel` as a user runs it (an isolated build with pyproject's build backend)."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": source_date_epoch()}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
         "-w", str(out), str(source)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel built from two copies of the checkout whose files have other mtimes."""
    base = tmp_path_factory.mktemp("wheels")
    first = snapshot_checkout(base / "first")
    second = snapshot_checkout(base / "second")
    for path in second.rglob("*"):
        os.utime(path, (2_000_000_000, 2_000_000_000), follow_symlinks=False)
    return build_wheel(first, base / "out1"), build_wheel(second, base / "out2")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_wheel_is_byte_identical_whatever_the_checkout(wheels: tuple[Path, Path]) -> None:
    first, second = wheels
    assert first.name == second.name == "mu_policy-0.1.0-py3-none-any.whl"
    assert sha256(first) == sha256(second)
    with zipfile.ZipFile(first) as archive:
        dates = {info.date_time for info in archive.infolist()}
    assert len(dates) == 1  # every entry carries SOURCE_DATE_EPOCH, not a file's mtime


def test_the_wheel_holds_mu_only(wheels: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(wheels[0]) as archive:
        names = archive.namelist()
    assert {n.split("/")[0] for n in names} == {"mu", "mu_policy-0.1.0.dist-info"}
    assert set(PACKAGE_DATA) <= set(names)
    assert "mu/cli.py" in names and "mu/generator/__init__.py" in names
    # Nothing of the checkout but the package: no tests, policy data or type-checking links.
    for part in ("tests/", "benchmarks/", ".typing", "ontology/", "enforcers/", "golden/"):
        assert not any(part in n for n in names), part


def test_a_fresh_environment_gets_one_top_level_name(
    wheels: tuple[Path, Path], tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    # A fresh venv (no system site-packages); the test's pip installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    before = {p.name for p in site.iterdir()}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-compile", "--disable-pip-version-check", str(wheels[0])],
        capture_output=True, text=True,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr
    added = {p.name for p in site.iterdir()} - before
    assert added == {"mu", "mu_policy-0.1.0.dist-info"}
    top_level = (site / "mu_policy-0.1.0.dist-info" / "top_level.txt").read_text()
    assert top_level.split() == ["mu"]
    assert sorted(p.name for p in (site / "mu").iterdir()) == ["cli.py", "generator"]
    for name in PACKAGE_DATA:
        assert (site / name).is_file(), name
    assert (venv / "bin" / "mu").is_file()  # the console script, mu.cli:main
    assert "mu.cli" in (venv / "bin" / "mu").read_text()
