"""The quick path of validation (schema.py's `QUICK`) changes nothing but the speed.

For generated transactions, valid and invalid, the quick function of the
transaction's type either gives up, or reads exactly the values the careful
path (`FieldChecker.check_fields`) reads and the careful path finds no problem.
It must also not give up on everything: most valid transactions take it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given

from tests.property.conftest import Built, runs
from tests.property.strategies import transactions, vocabulary


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "examples"),
    [
        ("example", 300),
        pytest.param("example", 3000, marks=pytest.mark.slow),
        pytest.param("synthetic-100", 3000, marks=pytest.mark.slow),
    ],
)
def test_the_quick_path_reads_as_the_careful_path(
    models: Callable[[str], Built], name: str, examples: int
) -> None:
    _, module = models(name)
    engine = module.dispatch.ENGINE
    runtime = module.runtime
    assert set(engine.quick) == set(module.schema.TYPES), "every example type has a quick path"
    seen: Counter[str] = Counter()

    @runs(examples)
    @given(tx=transactions(*_model(models, name)))
    def same(tx: Any) -> None:
        type_id = tx.get("type") if isinstance(tx, dict) else None
        if type(tx) is not dict or not isinstance(type_id, str) or type_id not in engine.quick:
            return
        function, store = engine.quick[type_id]
        quick: dict[str, object] = {}
        took = function(tx, quick, runtime.plain_decimal, store)
        careful: dict[str, object] = {}
        problems: list[Any] = []
        engine.fields.check_fields(tx, engine.fields.rows[type_id], careful, problems)
        if took:
            assert problems == [] and quick == careful, tx
            assert all(type(quick[k]) is type(careful[k]) for k in careful)
            seen["quick"] += 1
        else:
            seen["careful, valid" if not problems else "careful, invalid"] += 1

    same()
    # Each way was taken: well-formed ids took the quick path, look-alikes
    # (non-ASCII ids) the careful one, and invalid input was refused.
    assert seen["quick"] and seen["careful, valid"] and seen["careful, invalid"], seen


def test_a_plain_transaction_takes_the_quick_path(models: Callable[[str], Built]) -> None:
    _, module = models("example")
    engine = module.dispatch.ENGINE
    tx = {
        "id": "tx-1",
        "type": "vendor_payment",
        "amount": "105000.00",
        "currency": "USD",
        "initiator": {"id": "Alice"},
        "approver": {"id": "bob", "authority": "L3"},
        "executor": {"id": " carol "},
        "counterparty": {"country": "DE", "is_new": False, "risk_score": 10},
        "invoice": {"id": "INV-1"},
    }
    function, store = engine.quick["vendor_payment"]
    values: dict[str, object] = {}
    assert function(tx, values, module.runtime.plain_decimal, store) is True
    assert values["initiator.id"] == "alice" and values["executor.id"] == "carol"
    assert "invoice.po_number" not in values  # optional and absent
    # A restricted field that breaks its pattern, a negative amount, a party id
    # that is blank or not ASCII: each makes it give up, never decide.
    for path, bad in [
        (("counterparty", "country"), "de"),
        (("amount",), "-1.00"),
        (("approver", "id"), "  "),
        (("approver", "id"), "\uff41lice"),
        (("counterparty", "risk_score"), True),
    ]:
        broken: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in tx.items()}
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = bad.encode().decode("unicode_escape") if isinstance(bad, str) else bad
        assert function(broken, {}, module.runtime.plain_decimal, store) is False, path


def _model(models: Callable[[str], Built], name: str) -> tuple[Any, Any]:
    ontology, _ = models(name)
    return ontology, vocabulary(ontology)
