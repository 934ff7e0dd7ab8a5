"""The decision plan's index of conditions changes nothing but the speed.

The same control modules decide twice: through the package (guards indexed,
the rest of a condition called only when its guard holds, and nothing called
when the guard is the whole condition) and through an engine built from
copies of the modules without their GUARD (every condition called, as a plain
loop would). Every decision, trace and problem must be the same.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given

from tests.property.conftest import Built, runs
from tests.property.strategies import transactions, vocabulary


def unguarded(module: ModuleType) -> Any:
    """An engine over copies of the package's control modules without GUARD."""
    copies = []
    for control in module.dispatch.CONTROLS:
        copy = ModuleType(control.__name__)
        copy.__dict__.update(
            {
                k: v
                for k, v in vars(control).items()
                if k not in ("GUARD", "GUARD_IS_CONDITION", "rest")
            }
        )
        copies.append(copy)
    return module.runtime.Engine(
        types=module.schema.TYPES,
        authorities=module.schema.AUTHORITIES,
        controls=copies,
        restrictions=module.schema.RESTRICTIONS,
    )


def outcome(decide: Callable[[Any], Any], module: ModuleType, tx: Any) -> object:
    try:
        decision = decide(tx)
    except module.InvalidTransaction as exc:
        return ("INVALID", sorted((p.field, p.message) for p in exc.problems))
    except module.EnforcementError as exc:
        return ("ERROR", str(exc))
    return decision.to_dict()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "examples"),
    [
        ("example", 200),
        pytest.param("example", 3000, marks=pytest.mark.slow),
        pytest.param("synthetic-100", 3000, marks=pytest.mark.slow),
    ],
)
def test_the_index_decides_as_calling_every_condition(
    models: Callable[[str], Built], name: str, examples: int
) -> None:
    ontology, module = models(name)
    plain = unguarded(module)
    guards = [c for c in module.dispatch.CONTROLS if getattr(c, "GUARD", None) is not None]
    assert guards, "the model has no guarded condition: the test would prove nothing"

    @runs(examples)
    @given(tx=transactions(ontology, vocabulary(ontology)))
    def same(tx: dict[str, object]) -> None:
        assert outcome(module.evaluate, module, tx) == outcome(plain.evaluate, module, tx)

    same()
