"""The decision plan (runtime/plan.py): what it compiles, and what it refuses at import."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from mu.generator.compile.render import render_package
from tests.fixtures_ir import load_package, sample_package_ir, sample_transaction


@pytest.fixture(scope="module")
def pkg(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load_package(render_package(sample_package_ir()), tmp_path_factory.mktemp("enforcers"))


def copies(pkg: ModuleType, **changes: dict[str, Any]) -> list[ModuleType]:
    """Copies of the package's control modules, `changes[control_id]` applied to one."""
    out = []
    for control in pkg.dispatch.CONTROLS:
        copy = ModuleType(control.__name__)
        copy.__dict__.update(vars(control))
        copy.__dict__.update(changes.get(control.CONTROL_ID, {}))
        out.append(copy)
    return out


def engine(pkg: ModuleType, controls: list[ModuleType]) -> Any:
    return pkg.runtime.Engine(
        types=pkg.schema.TYPES,
        authorities=pkg.schema.AUTHORITIES,
        controls=controls,
        restrictions=pkg.schema.RESTRICTIONS,
    )


def guarded(pkg: ModuleType) -> ModuleType:
    found = [c for c in pkg.dispatch.CONTROLS if getattr(c, "GUARD", None) is not None]
    assert found, "the sample package has no guarded condition"
    return found[0]


def test_every_condition_with_a_first_test_is_indexed(pkg: ModuleType) -> None:
    for plan in pkg.dispatch.ENGINE.plans.values():
        indexed = {entry[0] for index in plan.ranges for entry in index.entries}
        indexed |= {entry[0] for index in plan.members for entry in index.entries}
        called = {entry[0] for entry in plan.unguarded}
        assert indexed | called == plan.conditional_ids
        assert not indexed & called


@pytest.mark.parametrize(
    "guard",
    [
        ("range", "amount", "~", "5"),
        ("range", "amount", ">"),
        ("member", "currency", ()),
        ("member", "currency", ([],)),
        ("other", "amount", ">", "5"),
        "amount > 5",
    ],
)
def test_a_malformed_guard_fails_at_import(pkg: ModuleType, guard: object) -> None:
    control = guarded(pkg)
    with pytest.raises(pkg.EnforcementError, match="GUARD"):
        engine(pkg, copies(pkg, **{control.CONTROL_ID: {"GUARD": guard}}))


def test_a_guard_on_an_unknown_field_fails_at_import(pkg: ModuleType) -> None:
    control = guarded(pkg)
    bad = {"GUARD": ("member", "no.such.field", ("x",))}
    with pytest.raises(pkg.EnforcementError, match="unknown field"):
        engine(pkg, copies(pkg, **{control.CONTROL_ID: bad}))


def test_a_guard_without_a_condition_fails_at_import(pkg: ModuleType) -> None:
    control = guarded(pkg)
    bad = {"CONDITION_TEXT": None}
    with pytest.raises(pkg.EnforcementError, match="GUARD"):
        engine(pkg, copies(pkg, **{control.CONTROL_ID: bad}))


def test_the_trace_is_made_on_first_use_and_compares_like_a_field(pkg: ModuleType) -> None:
    decision = pkg.evaluate(sample_transaction())
    assert "trace" not in decision.to_dict(trace=False)
    assert decision._trace is None  # not made yet, not even for `to_dict(trace=False)`
    trace = decision.trace
    assert decision.trace is trace and trace
    same = pkg.Decision(
        decision.outcome,
        decision.reasons,
        decision.actions,
        trace,
        decision.transaction_id,
        decision.transaction_type,
    )
    assert same == decision and hash(same) == hash(decision)
    assert pkg.evaluate(sample_transaction()) == decision
    with pytest.raises(AttributeError, match="immutable"):
        decision.outcome = "APPROVE"


def test_the_cache_of_action_lists_is_bounded(pkg: ModuleType) -> None:
    plan = next(iter(pkg.dispatch.ENGINE.plans.values()))
    limit = pkg.runtime._ACTIONS_SEEN_LIMIT
    for n in range(limit + 10):
        plan.actions_for("APPROVE", frozenset({f"c{n}"}))
    assert len(plan._actions_seen) <= limit


def test_a_guard_that_is_the_whole_condition_is_not_called(pkg: ModuleType) -> None:
    control = pkg.dispatch.CONTROLS[pkg.dispatch.CONTROL_IDS.index("sanctioned_country")]
    assert control.GUARD_IS_CONDITION is True

    def never(tx: object) -> bool:
        raise AssertionError("called")

    plain = engine(pkg, copies(pkg, sanctioned_country={"when": never}))
    decision = plain.evaluate(sample_transaction(counterparty={"country": "IR"}))
    assert [r.control_id for r in decision.reasons] == ["sanctioned_country"]
    assert plain.evaluate(sample_transaction()).outcome == "APPROVE"
    # Without the field, its condition is called after all, to say what is missing.
    with pytest.raises(pkg.EnforcementError, match="AssertionError: called"):
        plain.evaluate({**sample_transaction(), "counterparty": {}})


@pytest.mark.parametrize(
    "changes",
    [{"GUARD_IS_CONDITION": 1}, {"GUARD_IS_CONDITION": True, "GUARD": None}],
)
def test_a_malformed_guard_is_condition_fails_at_import(
    pkg: ModuleType, changes: dict[str, Any]
) -> None:
    with pytest.raises(pkg.EnforcementError, match="GUARD"):
        engine(pkg, copies(pkg, sanctioned_country=changes))


def test_once_the_guard_holds_only_the_rest_of_the_condition_is_called(pkg: ModuleType) -> None:
    control = pkg.dispatch.CONTROLS[pkg.dispatch.CONTROL_IDS.index("board_review")]
    calls: list[str] = []

    def when(tx: object) -> bool:
        calls.append("when")
        return bool(control.when(tx))

    def rest(tx: object) -> bool:
        calls.append("rest")
        return bool(control.rest(tx))

    plain = engine(pkg, copies(pkg, **{control.CONTROL_ID: {"when": when, "rest": rest}}))
    senior = {"id": "bob", "authority": "L5"}
    for amount in ("5000.00", "2000000.00"):
        decision = plain.evaluate(
            sample_transaction(type="wire_transfer", amount=amount, approver=senior)
        )
        assert ("board_review" in [r.control_id for r in decision.reasons]) is (amount != "5000.00")
    assert calls == ["rest", "rest"]


@pytest.mark.parametrize(
    "changes",
    [{"GUARD": None}, {"GUARD_IS_CONDITION": True}, {"rest": "not a function"}],
)
def test_a_misplaced_rest_fails_at_import(pkg: ModuleType, changes: dict[str, Any]) -> None:
    with pytest.raises(pkg.EnforcementError, match="rest"):
        engine(pkg, copies(pkg, board_review=changes))
