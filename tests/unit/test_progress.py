"""Progress: the long calls tell a `Progress` of each stage and count, and what they
produce does not depend on whether anyone listens."""

from __future__ import annotations

from pathlib import Path

import pytest

from mu.generator.compile.pipeline import STAGES, compile_ontology, validate_directory
from mu.generator.progress import Step, silent
from mu.generator.run.enforcers import load_enforcers
from mu.generator.run.golden import load_suite, run_suite
from tests.conftest import REPO


class Recorder:
    """A `Progress` that keeps every step."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def __call__(self, step: Step, /) -> None:
        self.steps.append(step)


def test_silent_accepts_any_step() -> None:
    assert silent(Step("golden", 1, 2)) is None


def test_compiling_reports_every_stage_in_order_with_the_control_count() -> None:
    recorder = Recorder()
    compiled = compile_ontology(REPO / "ontology", progress=recorder)
    assert [s.stage for s in recorder.steps] == [s.name for s in STAGES]
    [validate] = [s for s in recorder.steps if s.stage == "validate"]
    assert validate.total == len(compiled.ontology.controls) > 0
    assert compiled.files == compile_ontology(REPO / "ontology").files  # listening changes nothing


def test_validating_reports_the_checking_stages() -> None:
    recorder = Recorder()
    validate_directory(REPO / "ontology", recorder)
    stages = [s.stage for s in recorder.steps]
    assert stages[:2] == ["load", "validate"] and "render" not in stages


def test_the_golden_run_counts_every_case() -> None:
    suite = load_suite(REPO / "golden")
    recorder = Recorder()
    report = run_suite(load_enforcers(REPO / "enforcers"), suite, suite.cases, recorder)
    total = len(suite.cases)
    assert recorder.steps == [Step("golden", n, total) for n in range(total + 1)]
    assert report == run_suite(load_enforcers(REPO / "enforcers"), suite, suite.cases)


@pytest.mark.slow
def test_a_build_reports_golden_and_the_determinism_recheck(tmp_path: Path) -> None:
    from mu.generator.build.build import build
    from mu.generator.layout import Layout
    from tests.conftest import copy_repo

    recorder = Recorder()
    result = build(Layout(copy_repo(tmp_path / "repo")), None, progress=recorder)
    assert result.ok
    stages = [s.stage for s in recorder.steps]
    assert stages.index("validate") < stages.index("golden") < stages.index("determinism")
    assert stages[-1] == "determinism"
