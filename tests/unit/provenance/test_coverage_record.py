"""A receipt's and a rejection's `coverage`: typed, checked, optional only for receipts
made before the coverage gate, and part of what makes two builds the same build."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mu.generator.errors import CheckFailed
from mu.generator.provenance.predicates import (
    CoverageRecord,
    ReceiptPredicate,
    RejectionPredicate,
)
from tests.unit.provenance.test_predicate import receipt_statement, rejection_statement

COVERAGE = {
    "required": 96,
    "covered": 26,
    "controls": 27,
    "uncovered": {"fraud_new": "never fires"},
}


def with_coverage(statement: dict[str, Any], coverage: object) -> dict[str, Any]:
    predicate = dict(statement["predicate"])
    predicate["coverage"] = coverage
    predicate["gates"] = {**predicate["gates"], "coverage": "PASS", "reference": "PASS"}
    return predicate


def test_a_receipt_records_the_bar_it_was_built_under() -> None:
    typed = ReceiptPredicate.from_dict(with_coverage(receipt_statement(), COVERAGE))
    assert typed.coverage == CoverageRecord(96, 26, 27, {"fraud_new": "never fires"})
    assert typed.to_dict()["coverage"] == COVERAGE
    assert typed.gates["coverage"] == typed.gates["reference"] == "PASS"
    # A receipt made before the gate has neither, and reads as it always did.
    older = ReceiptPredicate.from_dict(receipt_statement()["predicate"])
    assert older.coverage is None and "coverage" not in older.to_dict()


def test_a_rejection_records_the_uncovered_controls() -> None:
    statement = rejection_statement()
    coverage = {**COVERAGE, "required": 100}
    typed = RejectionPredicate.from_dict(with_coverage(statement, coverage))
    assert typed.coverage is not None and typed.coverage.uncovered == {"fraud_new": "never fires"}
    assert typed.to_dict()["coverage"] == coverage


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("required", "96", "must be a number, found a string"),
        ("required", True, "must be a number, found a boolean"),
        ("required", 101, "must be a number from 0 to 100, found `101`"),
        ("required", -0.5, "must be a number from 0 to 100, found `-0.5`"),
        ("covered", 1.5, "must be an integer"),
        ("uncovered", ["fraud_new"], "must be an object, found a list"),
    ],
)
def test_a_malformed_coverage_is_refused_by_name(field: str, value: object, why: str) -> None:
    predicate = with_coverage(receipt_statement(), {**COVERAGE, field: value})
    with pytest.raises(CheckFailed) as caught:
        ReceiptPredicate.from_dict(predicate)
    named = [(p.where, p.message) for p in caught.value.problems]
    assert [w for w, m in named if m.startswith(why)] == [f"predicate field `coverage.{field}`"]


def test_a_lowered_bar_is_another_build() -> None:
    built = ReceiptPredicate.from_dict(with_coverage(receipt_statement(), COVERAGE))
    assert built.same_content(built)
    lowered = dataclasses.replace(built, coverage=CoverageRecord(90, 26, 27, {"fraud_new": "x"}))
    assert not built.same_content(lowered)
