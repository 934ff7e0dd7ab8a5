"""The generated enforcers decide exactly as the reference evaluator does.

For the shipped example and synthetic policies of 100, 1,000 and 5,000
controls, hypothesis builds transactions from the model (tests/property/
strategies.py) and every one must get the same `ReferenceDecision` from the
compiled package (`summarize_enforcer_decision`) as from the slow, independent
reading of SPEC §3 (`reference_decide`): outcome, reasons, actions, trace and
the fields named when invalid.

Each run also counts what happened and fails if some outcome never occurred or
some kind of control never fired: equivalence over transactions that only
ever approve would prove little. The 10,000-transaction runs are `slow` (the
full suite runs them), as is a short run of 100 controls (building them takes
seconds); `-m "not slow"` keeps a short run of the example.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given

from mu.generator.compile.model import Ontology
from mu.generator.run.reference import (
    ReferenceDecision,
    reference_decide,
    summarize_enforcer_decision,
)
from tests.property.conftest import Built, runs
from tests.property.strategies import PARTIES, transactions, vocabulary

OUTCOMES = {"APPROVE", "REJECT", "REVIEW", "INVALID"}

RUNS = [
    pytest.param("example", 400, id="example-400"),
    pytest.param("synthetic-100", 400, id="synthetic100-400", marks=pytest.mark.slow),
    pytest.param("example", 10_000, id="example-10000", marks=pytest.mark.slow),
    pytest.param("synthetic-100", 10_000, id="synthetic100-10000", marks=pytest.mark.slow),
    pytest.param("synthetic-1000", 10_000, id="synthetic1000-10000", marks=pytest.mark.slow),
    pytest.param("synthetic-5000", 10_000, id="synthetic5000-10000", marks=pytest.mark.slow),
]


def what_happened(
    ontology: Ontology, tx: dict[str, object], decision: object, seen: Counter[str]
) -> None:
    """Count the outcome, the kind (and effect) of every reason, every action kind and
    trace status, and segregation rejections of ids that differ only in spelling."""
    kinds = {c.control_id: c.kind for c in ontology.controls}
    seen[f"outcome {decision.outcome}"] += 1  # type: ignore[attr-defined]
    for cid, effect in decision.reasons:  # type: ignore[attr-defined]
        seen[f"{kinds[cid]} {effect}"] += 1
        if kinds[cid] == "segregation" and len(set(party_ids(tx))) == len(PARTIES):
            seen["segregation REJECT of look-alike ids"] += 1
    for kind, _ in decision.actions:  # type: ignore[attr-defined]
        seen[f"action {kind}"] += 1
    for _, status in getattr(decision, "trace", ()):
        seen[f"trace {status}"] += 1


def party_ids(tx: dict[str, object]) -> list[object]:
    """The raw ids of the three parties (None where there is none)."""
    parties = [tx.get(p) for p in PARTIES]
    return [p.get("id") if isinstance(p, dict) else None for p in parties]


def expected_events(ontology: Ontology) -> set[str]:
    """Everything the model can make happen, each of which a run must see."""
    events = {f"outcome {o}" for o in OUTCOMES}
    if "trace" in ReferenceDecision.__dataclass_fields__:
        events |= {"trace fired", "trace passed", "trace skipped"}
    for c in ontology.controls:
        if c.kind == "approval":
            events.add("approval REJECT")
        elif c.kind == "segregation":
            events |= {"segregation REJECT", "segregation REJECT of look-alike ids"}
        elif c.kind == "condition":
            events.add(f"condition {c.effect}")
        else:
            events.add("action notify" if c.kind == "notification" else "action ledger")
    return events


@pytest.mark.slow
@pytest.mark.parametrize(("name", "examples"), RUNS)
def test_enforcers_agree_with_the_reference(
    models: Callable[[str], Built], fast_reference: None, name: str, examples: int
) -> None:
    ontology, module = models(name)
    words = vocabulary(ontology)
    seen: Counter[str] = Counter()

    @runs(examples)
    @given(tx=transactions(ontology, words))
    def agree(tx: dict[str, object]) -> None:
        expected = reference_decide(ontology, tx)
        observed = summarize_enforcer_decision(module, tx)
        assert observed == expected, f"transaction {tx!r}"
        what_happened(ontology, tx, expected, seen)

    agree()
    missing = expected_events(ontology) - set(seen)
    assert not missing, f"never happened in {examples} transactions: {sorted(missing)}; {seen}"


def test_the_strategy_reaches_every_boundary(models: Callable[[str], Built]) -> None:
    """Every approval threshold, and a cent either side, is among the drawn amounts."""
    cent = Decimal("0.01")
    for name in ("example", "synthetic-100"):
        ontology, _ = models(name)
        amounts = set(vocabulary(ontology).amounts)
        for c in ontology.controls:
            if c.amount_threshold is not None:
                t = c.amount_threshold
                assert {format(t, "f"), format(t + cent, "f"), format(t - cent, "f")} <= amounts
