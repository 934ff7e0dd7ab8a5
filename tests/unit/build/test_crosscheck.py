"""The reference gate: the enforcers just rendered decide the golden and boundary cases
as the reference evaluator does, every case on a small ontology and a deterministic,
bounded spread of them on a large one."""

from __future__ import annotations

from collections.abc import Mapping

from mu.generator.build.crosscheck import (
    BUDGET,
    cross_check,
    reference_gate,
    select,
    spread,
)
from mu.generator.compile.pipeline import Compiled
from mu.generator.run.boundary import boundary_cases
from mu.generator.run.golden import load_suite
from mu.generator.run.packages import imported
from mu.generator.run.reference import Reference
from tests.conftest import REPO

SUITE = load_suite(REPO / "golden")


def _check(files: Mapping[str, bytes], compiled: Compiled, budget: int = BUDGET) -> str:
    with imported((files,), "test") as (package,):
        result = cross_check(package, compiled.ontology, SUITE.cases, budget)
    gate = reference_gate(result)
    assert gate.name == "reference"
    return f"{gate.status}: {gate.detail}"


def test_spread_visits_every_index_once_any_prefix_spread_out() -> None:
    assert spread(0) == [] and spread(1) == [0] and spread(5) == [0, 4, 2, 1, 3]
    order = spread(1000)
    assert sorted(order) == list(range(1000))
    # The first 8 indices fall one in each eighth of the range.
    assert sorted(i * 8 // 1000 for i in order[:8]) == list(range(8))


def test_the_shipped_example_is_checked_completely_and_agrees(
    example_compiled: Compiled,
) -> None:
    boundary = len(boundary_cases(example_compiled.ontology))
    verdict = _check(example_compiled.files, example_compiled)
    assert verdict == (
        f"PASS: {len(SUITE.cases)}/{len(SUITE.cases)} golden and {boundary} boundary cases: "
        "the enforcers decide as the reference does"
    )


def test_a_hand_patched_enforcer_fails_the_gate_naming_the_cases(
    example_compiled: Compiled,
) -> None:
    files = dict(example_compiled.files)
    module = "controls/approval_over_100k.py"
    text = files[module].decode("utf-8")
    assert "Decimal('100000.00')" in text
    # A generator that rendered the threshold one cent too high: 100,000.01 passes.
    files[module] = text.replace("Decimal('100000.00')", "Decimal('100000.01')").encode()
    verdict = _check(files, example_compiled)
    assert verdict.startswith(
        "FAIL: the enforcers differ from the reference evaluator on 3 of 168/168 golden and "
    )
    # Golden cases first, then the boundary's threshold plus one cent with L1 and L2.
    named = [
        "golden `vendor_100k_plus_cent_l2` (golden/approvals_vendor.toml): "
        "reference REJECT [approval_over_100k], enforcers APPROVE []",
        "boundary `approval_over_100k:amount:100000.01:L1` (vendor_payment): "
        "reference REJECT [approval_over_100k, approval_over_10k], "
        "enforcers REJECT [approval_over_10k]",
        "boundary `approval_over_100k:amount:100000.01:L2` (vendor_payment): "
        "reference REJECT [approval_over_100k], enforcers APPROVE []",
    ]
    assert f"cases: {'; '.join(named)} — a defect of the generator" in verdict
    assert verdict.endswith("not of the ontology: report it to mu's maintainers")


def test_an_enforcer_that_drops_an_action_fails_the_gate(example_compiled: Compiled) -> None:
    files = dict(example_compiled.files)
    module = "controls/audit_all_decisions.py"
    text = files[module].decode("utf-8")
    # The ledger entry of every decision, rendered as if only for rejections.
    patched = text.replace("ON_OUTCOME: tuple[str, ...] = ()", "ON_OUTCOME = ('REJECT',)")
    assert patched != text
    files[module] = patched.encode()
    verdict = _check(files, example_compiled)
    assert verdict.startswith("FAIL: ")
    assert "actions [ledger:audit_all_decisions] by the reference, [] by the enforcers" in verdict


def test_a_budget_selects_a_bounded_deterministic_spread(example_compiled: Compiled) -> None:
    reference = Reference.of(example_compiled.ontology)
    everything = select(reference, SUITE.cases)
    assert everything.complete and everything.golden == len(SUITE.cases)
    small = select(reference, SUITE.cases, budget=600)
    assert small == select(reference, SUITE.cases, budget=600)
    assert not small.complete and 0 < small.boundary < everything.boundary
    # Golden cases alone would cost more than half: an evenly spread sample of them.
    assert 0 < small.golden < len(SUITE.cases)
    golden_names = [c.name for c in small.cases[: small.golden]]
    assert golden_names == sorted(golden_names, key=[c.name for c in everything.cases].index)
    spent = sum(
        1 + len(reference.applicable.get(str(c.transaction.get("type")), ()))
        for c in small.cases
    )
    assert spent <= 600
    # Boundary cases of several types and controls, not the first site's alone.
    types = {c.name.rsplit("(", 1)[1] for c in small.cases[small.golden :]}
    assert len(types) >= 3
    verdict = _check(example_compiled.files, example_compiled, budget=600)
    assert "(a spread sample within 600 control evaluations)" in verdict
