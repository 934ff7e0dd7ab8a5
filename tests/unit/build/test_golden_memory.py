"""The golden gate runs on the package imported from memory: the same report as the
package written to disk and imported from there, and nothing written or left imported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mu.generator import files as writer
from mu.generator.build.gates import run_golden
from mu.generator.compile.pipeline import Compiled
from mu.generator.files import write_tree_atomic
from mu.generator.run.enforcers import load_enforcers
from mu.generator.run.golden import GoldenReport, load_suite, run_suite
from mu.generator.run.packages import imported
from tests.conftest import REPO


def on_disk(files: dict[str, bytes], directory: Path) -> GoldenReport:
    """The suite run as the gate ran it before: the tree written, then imported."""
    write_tree_atomic(directory, files, durable=False)
    suite = load_suite(REPO / "golden")
    return run_suite(load_enforcers(directory), suite, suite.cases)


def golden_modules() -> list[str]:
    return [m for m in sys.modules if m.startswith("_mu_golden_")]


def test_from_memory_gives_the_report_of_the_package_on_disk(
    example_compiled: Compiled, tmp_path: Path
) -> None:
    report = run_golden(example_compiled.files, REPO / "golden")
    assert report == on_disk(dict(example_compiled.files), tmp_path / "enforcers")
    assert report.ok and report.total > 100
    assert golden_modules() == []


def test_failing_cases_fail_alike_from_memory_and_on_disk(
    example_compiled: Compiled, tmp_path: Path
) -> None:
    files = dict(example_compiled.files)
    changed = "controls/approval_over_100k.py"
    files[changed] = files[changed].replace(b"100000.00", b"50000.00")
    assert files[changed] != example_compiled.files[changed]
    report = run_golden(files, REPO / "golden")
    assert not report.ok
    assert report == on_disk(files, tmp_path / "enforcers")


def test_no_tree_is_written(example_compiled: Compiled, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path, data: bytes) -> None:
        raise AssertionError(f"the golden gate wrote {path}")

    monkeypatch.setattr(writer, "_write_file", refuse)
    assert run_golden(example_compiled.files, REPO / "golden").ok


def test_each_use_names_its_packages(example_compiled: Compiled) -> None:
    with imported((example_compiled.files,), "golden") as (package,):
        assert package.__name__.startswith("_mu_golden_0_")
        assert len(golden_modules()) > len(example_compiled.ontology.controls)
    assert golden_modules() == []
