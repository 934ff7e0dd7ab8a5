"""The coverage gate: the golden suite covers the share of controls `mu.toml` requires,
compared exactly, with every uncovered control named by the side its cases miss."""

from __future__ import annotations

import pytest

from mu.generator.build.coverage import (
    MAX_NAMED,
    MAX_NAMED_PASSING,
    coverage_gate,
    coverage_record,
    meets,
    percent_text,
)
from mu.generator.provenance.predicates import CoverageRecord
from mu.generator.run.golden import ControlCoverage, GoldenReport


def report(*coverage: ControlCoverage) -> GoldenReport:
    return GoldenReport("0" * 64, (), coverage)


COVERED = [ControlCoverage(f"ok_{i:02d}", 2, 3) for i in range(24)]
FRAUD_NEW = ControlCoverage("fraud_new", 0, 5)  # applies, never fires


def test_every_control_covered_passes_at_the_default() -> None:
    record = coverage_record(report(*COVERED), 100)
    assert record == CoverageRecord(100, 24, 24, {})
    gate = coverage_gate(record)
    assert gate.ok and gate.name == "coverage"
    assert gate.detail == "24/24 controls covered (100%), required 100%"


def test_a_new_uncovered_control_fails_naming_it() -> None:
    record = coverage_record(report(*COVERED, FRAUD_NEW), 100)
    assert record.uncovered == {"fraud_new": "never fires"}
    gate = coverage_gate(record)
    assert not gate.ok
    assert gate.detail.startswith(
        "golden coverage 96% (24/25 controls) is below the required 100%: `fraud_new` never fires"
    )
    # The fix, both ways: a golden case, or a reviewed lower bar.
    assert "add golden cases" in gate.detail and "`[build] min_coverage` in mu.toml" in gate.detail


def test_every_uncovered_control_is_named_sorted_with_its_missing_side() -> None:
    record = coverage_record(
        report(
            ControlCoverage("zeta", 3, 0),  # fires in every case it applies to
            ControlCoverage("alpha", 0, 0),  # no case applies to it
            ControlCoverage("notify_all", 4, 0, unconditional=True),  # one side only: covered
            FRAUD_NEW,
        ),
        100,
    )
    assert list(record.uncovered) == ["alpha", "fraud_new", "zeta"]
    detail = coverage_gate(record).detail
    assert (
        "`alpha` no case applies to it; `fraud_new` never fires; "
        "`zeta` never applies without firing" in detail
    )


def test_a_lowered_bar_passes_and_says_so() -> None:
    record = coverage_record(report(*COVERED, FRAUD_NEW), 90)
    assert record.required == 90 and meets(record)
    gate = coverage_gate(record)
    assert gate.ok
    assert gate.detail == (
        "24/25 controls covered (96%), required 90%, lowered from 100% by "
        "`[build] min_coverage` in mu.toml; uncovered: `fraud_new` never fires"
    )


@pytest.mark.parametrize(
    ("covered", "controls", "required", "ok"),
    [
        (40, 41, 97.56, True),  # 97.5609…%
        (40, 41, 97.57, False),
        (1, 3, 33.333333333333336, False),  # the float nearest 100/3 is above one third
        (1, 3, 33.33, True),
        (0, 10, 0, True),
        (0, 0, 100, True),  # no controls: nothing to cover
        (99, 100, 100, False),
    ],
)
def test_the_comparison_is_exact(covered: int, controls: int, required: float, ok: bool) -> None:
    assert meets(CoverageRecord(required, covered, controls, {})) is ok


def test_percentages_are_cut_never_rounded_up_to_the_bar() -> None:
    assert percent_text(100) == "100%"
    assert percent_text(97.5) == "97.5%"
    record = CoverageRecord(100, 9999, 10000, {"x": "never fires"})
    assert "golden coverage 99.9% (9999/10000 controls)" in coverage_gate(record).detail
    assert coverage_gate(CoverageRecord(100, 100, 104, {})).detail.startswith(
        "golden coverage 96.1% "
    )


def test_a_long_list_is_cut_after_the_first_hundred_names() -> None:
    many = [ControlCoverage(f"c{i:05d}", 0, 1) for i in range(MAX_NAMED + 7)]
    record = coverage_record(report(*many), 100)
    assert len(record.uncovered) == MAX_NAMED + 7  # the receipt records every one
    detail = coverage_gate(record).detail
    assert f"`c{MAX_NAMED - 1:05d}` never fires; and 7 more (`mu test` lists every one)" in detail
    assert f"`c{MAX_NAMED:05d}`" not in detail


def test_a_passing_gate_under_a_lowered_bar_names_a_few() -> None:
    many = [ControlCoverage(f"c{i:05d}", 0, 1) for i in range(30)]
    detail = coverage_gate(coverage_record(report(*COVERED, *many), 0)).detail
    assert detail.startswith("24/54 controls covered (44.4%), required 0%, lowered from 100%")
    assert detail.endswith(
        f"`c{MAX_NAMED_PASSING - 1:05d}` never fires; and 20 more (`mu test` lists every one)"
    )
