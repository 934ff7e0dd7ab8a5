"""The reference evaluator prepared once per ontology (`Reference`) decides exactly as
`reference_decide`, and its action order is the definition's, at any size."""

from __future__ import annotations

import random

import pytest

from mu.generator.compile.model import Control, Ontology
from mu.generator.compile.pipeline import Compiled
from mu.generator.run.boundary import boundary_cases
from mu.generator.run.golden import load_suite
from mu.generator.run.reference import Reference, action_order, reference_decide
from tests.conftest import REPO
from tests.unit.run.test_reference import tiny, tx


def by_definition(controls: list[Control]) -> tuple[str, ...]:
    """SPEC §3 read literally: repeatedly place the smallest id whose dependencies are placed."""
    waiting = {c.control_id: set(c.depends_on) for c in controls}
    order: list[str] = []
    while waiting:
        ready = [cid for cid, deps in waiting.items() if deps <= set(order)]
        if not ready:
            raise ValueError(
                "dependsOn has a cycle or names an unknown control: " + ", ".join(sorted(waiting))
            )
        order.append(min(ready))
        del waiting[order[-1]]
    return tuple(order)


def audit(control_id: str, *depends_on: str) -> Control:
    return Control(f"urn:t:{control_id}", control_id, "audit_log", control_id, "o", ("pay",),
                   depends_on=tuple(sorted(depends_on)), ledger="l")  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_action_order_is_the_definitions(seed: int) -> None:
    rng = random.Random(seed)
    ids = [f"c{i:03d}" for i in rng.sample(range(1000), rng.randint(1, 60))]
    rank = {cid: rng.random() for cid in ids}  # edges follow a random order: acyclic
    controls = [
        audit(cid, *(d for d in ids if rank[d] < rank[cid] and rng.random() < 0.1))
        for cid in ids
    ]
    if seed % 4 == 3:  # a cycle, or a dependency on a control that does not exist
        controls.append(audit("zz_loop", "zz_loop") if seed % 8 == 3 else audit("zz_x", "nope"))
    try:
        expected: tuple[str, ...] | str = by_definition(controls)
    except ValueError as exc:
        expected = str(exc)
    try:
        found: tuple[str, ...] | str = action_order(controls)
    except ValueError as exc:
        found = str(exc)
    assert found == expected


def test_a_prepared_reference_decides_as_reference_decide(example_compiled: Compiled) -> None:
    ontology = example_compiled.ontology
    reference = Reference.of(ontology)
    transactions = [c.transaction for c in load_suite(REPO / "golden").cases]
    transactions += [c.transaction for c in boundary_cases(ontology)]
    for transaction in transactions:
        assert reference.decide(transaction) == reference_decide(ontology, transaction)


def test_a_dependency_cycle_does_not_stop_an_invalid_transaction_being_invalid() -> None:
    o: Ontology = tiny(audit("p", "q"), audit("q", "p"))
    reference = Reference.of(o)
    assert reference.decide(tx(amount="-1")).outcome == "INVALID"
    with pytest.raises(ValueError, match="cycle"):
        reference.decide(tx())
