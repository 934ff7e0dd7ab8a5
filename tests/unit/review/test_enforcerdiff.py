"""`review.enforcerdiff`: two enforcer packages on disk compared by digest and decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from mu.generator.compile.pipeline import Compiled
from mu.generator.errors import InputError
from mu.generator.layout import Layout
from mu.generator.review.enforcerdiff import are_enforcer_dirs, diff_enforcers, is_control_module
from tests.conftest import REPO


def _write(directory: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_bytes(data)
    return directory


@pytest.fixture
def two(tmp_path: Path, example_compiled: Compiled) -> tuple[Path, Path]:
    files = example_compiled.files
    return _write(tmp_path / "old", files), _write(tmp_path / "new", files)


def test_control_modules_are_the_controls_own_files() -> None:
    assert is_control_module("controls/approval_over_10k.py")
    assert not is_control_module("controls/__init__.py")
    assert not is_control_module("runtime.py")
    assert not is_control_module("controls/sub/x.py")


def test_only_two_packages_make_an_enforcer_diff(two: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = two
    assert are_enforcer_dirs(str(old), str(new))
    assert not are_enforcer_dirs(str(REPO / "ontology"), str(REPO / "ontology"))
    with pytest.raises(InputError, match="is an enforcer package but"):
        are_enforcer_dirs(str(old), str(REPO / "ontology"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="is an enforcer package but"):
        are_enforcer_dirs(str(tmp_path / "plain"), str(new))


def test_identical_packages_flip_nothing(two: tuple[Path, Path]) -> None:
    old, new = two
    report = diff_enforcers(str(old), str(new), Layout(REPO))
    assert report.modules.changed == report.modules.added == report.modules.removed == ()
    assert "controls/approval_over_10k.py" in report.modules.identical
    assert report.flips == () and report.cases_run > 100
    assert report.golden == "golden" and report.control_modules == ()


def test_a_changed_module_is_named_and_its_decisions_flip(two: tuple[Path, Path]) -> None:
    old, new = two
    # Hand-edit the new side so the 10k rule never applies: every case it rejected flips.
    module = new / "controls" / "approval_over_10k.py"
    text = module.read_text(encoding="utf-8")
    assert "Decimal('10000.00')" in text
    module.write_text(text.replace("Decimal('10000.00')", "Decimal('10000000.00')"), "utf-8")
    (old / "controls" / "gone.py").write_text("X = 1\n", encoding="utf-8")
    report = diff_enforcers(str(old), str(new), Layout(REPO), max_blast_radius=0.01)
    assert report.modules.changed == ("controls/approval_over_10k.py",)
    assert report.modules.removed == ("controls/gone.py",)
    assert report.new.not_as_manifest == ("controls/approval_over_10k.py",)
    assert report.old.not_as_manifest == ("controls/gone.py",)
    assert report.flips and all(f.old != f.new for f in report.flips)
    assert report.control_modules == ("controls/approval_over_10k.py", "controls/gone.py")
    assert not report.ok  # 2 of 27 control modules exceed 1%


def test_without_a_golden_suite_no_decision_is_compared(
    two: tuple[Path, Path], tmp_path: Path
) -> None:
    old, new = two
    report = diff_enforcers(str(old), str(new), Layout(tmp_path / "empty-repo"))
    assert report.golden is None and report.cases_run == 0 and report.flips == ()
