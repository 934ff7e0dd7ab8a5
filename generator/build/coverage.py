"""The coverage gate of `mu build`: the golden suite covers what the repository requires.

A control is covered when some golden case makes it fire and some case sees it
apply without firing (`run.golden.ControlCoverage.covered`). `[build]
min_coverage` in `mu.toml` (`generator.config`) sets the share of covered
controls a build requires, 100% unless lowered there; lowering it is a reviewed
change of the repository, and the bar is recorded in every receipt and
rejection (`CoverageRecord`), so an auditor sees it and `mu replay` holds the
snapshot to the bar the receipt recorded rather than to today's `mu.toml`.

The comparison is exact (integers and fractions, no float rounding): 40 of 41
controls is below 97.57% and meets 97.56%.
"""

from __future__ import annotations

from fractions import Fraction

from mu.generator.config import DEFAULT_MIN_COVERAGE, Percent
from mu.generator.provenance.predicates import CoverageRecord
from mu.generator.provenance.verdict import Check
from mu.generator.run.golden import ControlCoverage, GoldenReport

NEVER_FIRES = "never fires"
NEVER_PASSES = "never applies without firing"
NEVER_APPLIES = "no case applies to it"
# A failing gate names this many controls; the rejection receipt records every one.
MAX_NAMED = 100
# A passing gate under a lowered bar names a few: the receipt records every one.
MAX_NAMED_PASSING = 10
FIX = (
    "add golden cases in which each fires and in which it applies without firing "
    "(`mu test` shows coverage per control), or lower `[build] min_coverage` in mu.toml "
    "(a reviewed change, recorded in every receipt)"
)


def missing_side(c: ControlCoverage) -> str | None:
    """Which side of its rule the suite never shows for `c`; None when it is covered."""
    if c.covered:
        return None
    if c.fired == 0 and c.not_fired == 0:
        return NEVER_APPLIES
    return NEVER_FIRES if c.fired == 0 else NEVER_PASSES


def coverage_record(report: GoldenReport, required: Percent) -> CoverageRecord:
    """What a receipt records of the suite's coverage against `required` (percent)."""
    uncovered: dict[str, str] = {}
    for c in sorted(report.coverage, key=lambda c: c.control_id):
        side = missing_side(c)
        if side is not None:
            uncovered[c.control_id] = side
    controls = len(report.coverage)
    return CoverageRecord(required, controls - len(uncovered), controls, uncovered)


def meets(record: CoverageRecord) -> bool:
    """Whether the covered share reaches the required percent (no controls: it does)."""
    if record.controls == 0:
        return True
    return Fraction(record.covered * 100, record.controls) >= Fraction(record.required)


def percent_text(value: Percent | Fraction) -> str:
    """`96%`, `97.5%`: an integral percent as is, else cut (never rounded up) to 0.1."""
    exact = Fraction(value)
    if exact.denominator == 1:
        return f"{exact.numerator}%"
    if isinstance(value, float):
        return f"{value:g}%"  # as the user wrote it in mu.toml
    whole, tenth = divmod(int(exact * 10), 10)  # int() cuts: a percent is never negative
    return f"{whole}.{tenth}%" if tenth else f"{whole}%"


def _names(uncovered: dict[str, str], limit: int = MAX_NAMED) -> str:
    """`a` never fires; `b` never applies without firing; … and N more."""
    listed = [f"`{cid}` {side}" for cid, side in list(uncovered.items())[:limit]]
    more = len(uncovered) - len(listed)
    text = "; ".join(listed)
    return f"{text}; and {more} more (`mu test` lists every one)" if more else text


def coverage_gate(record: CoverageRecord) -> Check:
    """The gate's verdict on `record`: every uncovered control named when it fails."""
    found = percent_text(
        Fraction(record.covered * 100, record.controls) if record.controls else 100
    )
    counted = f"{record.covered}/{record.controls} controls"
    bar = percent_text(record.required)
    uncovered = dict(sorted(record.uncovered.items()))
    if not meets(record):
        return Check(
            "coverage",
            "FAIL",
            f"golden coverage {found} ({counted}) is below the required {bar}: "
            f"{_names(uncovered)} — {FIX}",
        )
    detail = f"{counted} covered ({found}), required {bar}"
    if Fraction(record.required) < DEFAULT_MIN_COVERAGE:
        # A lowered bar is said on every build, not only in the receipt.
        detail += f", lowered from {DEFAULT_MIN_COVERAGE}% by `[build] min_coverage` in mu.toml"
    if uncovered:
        detail += f"; uncovered: {_names(uncovered, MAX_NAMED_PASSING)}"
    return Check("coverage", "PASS", detail)
