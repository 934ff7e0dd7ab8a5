"""The control modules as the runtime reads them: checked constants, and their order.

`ControlSpec.from_module` reads one generated control module's constants,
checking each (a malformed module fails at import, before anything is
decided); `topological_order` orders controls by `dependsOn`.

This docstring and the imports below are not rendered (see `decision.py`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from types import ModuleType
from typing import Any, Final, NoReturn

from .decision import (
    _ABSENT,
    ACTION_KINDS,
    OUTCOMES,
    PARTIES,
    Effect,
    EnforcementError,
    Tx,
)


@dataclass(frozen=True)
class FieldSpec:
    """A field the runtime checks: dotted path, datatype, required flag."""

    path: str
    datatype: str
    required: bool


@dataclass(frozen=True)
class ControlSpec:
    """One control, read and checked from the constants of its module.

    Fields that do not apply to the control's kind hold None or ().
    """

    control_id: str
    kind: str
    label: str
    owner: str
    applies_to: tuple[str, ...]
    depends_on: tuple[str, ...]
    condition_text: str | None
    when: Callable[[Tx], object]
    threshold: Decimal | None = None
    currency: str | None = None
    required_authority: str | None = None
    separates: tuple[str, ...] = ()
    effect: Effect | None = None
    message: str | None = None
    recipients: tuple[str, ...] = ()
    on_outcome: tuple[str, ...] = ()
    ledger: str | None = None
    guard: tuple[object, ...] | None = None
    guard_is_condition: bool = False
    # The condition without its guarded first test, called once the guard holds.
    rest: Callable[[Tx], object] | None = None

    @classmethod
    def from_module(cls, module: ModuleType) -> ControlSpec:
        """Read a control module's constants, checking each; raise `EnforcementError`."""
        name = module.__name__.rpartition(".")[2]
        control_id = _constant(module, "CONTROL_ID", str)
        if control_id != name:
            _broken(name, f"its CONTROL_ID is `{control_id}`")
        kind = _constant(module, "KIND", str)
        when = getattr(module, "when", None)
        if not callable(when):
            _broken(name, "it has no `when` function")
        spec = cls(
            control_id=control_id,
            kind=kind,
            label=_constant(module, "LABEL", str),
            owner=_constant(module, "OWNER", str),
            applies_to=_strings(module, "APPLIES_TO"),
            depends_on=_strings(module, "DEPENDS_ON"),
            condition_text=_constant(module, "CONDITION_TEXT", (str, type(None))),
            when=when,
            guard=_guard(module),
            guard_is_condition=_guard_is_condition(module),
            rest=_rest(module),
        )
        if kind == "approval":
            threshold = _constant(module, "THRESHOLD", Decimal)
            if not threshold.is_finite() or threshold < 0:
                _broken(name, f"its THRESHOLD `{threshold}` is not a finite amount >= 0")
            return replace(
                spec,
                threshold=threshold,
                currency=_constant(module, "CURRENCY", str),
                required_authority=_constant(module, "REQUIRED_AUTHORITY", str),
            )
        if kind == "segregation":
            separates = _strings(module, "SEPARATES")
            if len(separates) < 2 or not set(separates) <= set(PARTIES):
                _broken(name, f"SEPARATES must name two or more of {', '.join(PARTIES)}")
            return replace(spec, separates=separates)
        if kind == "condition":
            effect = _constant(module, "EFFECT", str)
            if effect == "REJECT" or effect == "REVIEW":
                return replace(spec, effect=effect, message=_constant(module, "MESSAGE", str))
            _broken(name, f"its EFFECT `{effect}` is not REJECT or REVIEW")
        if kind in ACTION_KINDS:
            on_outcome = _strings(module, "ON_OUTCOME")
            if not set(on_outcome) <= set(OUTCOMES):
                _broken(name, f"ON_OUTCOME must be among {', '.join(OUTCOMES)}")
            if kind == "notification":
                recipients = _strings(module, "RECIPIENTS")
                if not recipients:
                    _broken(name, "it has no RECIPIENTS")
                return replace(spec, recipients=recipients, on_outcome=on_outcome)
            ledger = _constant(module, "LEDGER", str)
            return replace(spec, ledger=ledger, on_outcome=on_outcome)
        _broken(name, f"its KIND `{kind}` is unknown")


_RANGE_OPS: Final[tuple[str, ...]] = ("<", "<=", ">", ">=")


def _guard(module: ModuleType) -> tuple[object, ...] | None:
    """The module's GUARD, checked for the shapes the plan indexes; None if it has none."""
    guard = getattr(module, "GUARD", None)
    if guard is None:
        return None
    name = module.__name__.rpartition(".")[2]
    scalar = (str, int, bool)
    if (
        isinstance(guard, tuple)
        and len(guard) == 4
        and guard[0] == "range"
        and isinstance(guard[1], str)
        and guard[2] in _RANGE_OPS
        and isinstance(guard[3], (str, int))
        and not isinstance(guard[3], bool)
    ) or (
        isinstance(guard, tuple)
        and len(guard) == 3
        and guard[0] == "member"
        and isinstance(guard[1], str)
        and isinstance(guard[2], tuple)
        and guard[2]
        and all(isinstance(v, scalar) for v in guard[2])
    ):
        if getattr(module, "CONDITION_TEXT", None) is None:
            _broken(name, "it has a GUARD but no condition")
        return guard
    _broken(name, f"its GUARD {guard!r} is malformed")


def _guard_is_condition(module: ModuleType) -> bool:
    """The module's GUARD_IS_CONDITION: False when absent; only with a GUARD."""
    whole = getattr(module, "GUARD_IS_CONDITION", False)
    if type(whole) is not bool:
        _broken(module.__name__.rpartition(".")[2], "its GUARD_IS_CONDITION is not a bool")
    if whole and getattr(module, "GUARD", None) is None:
        _broken(module.__name__.rpartition(".")[2], "it has GUARD_IS_CONDITION but no GUARD")
    return whole


def _rest(module: ModuleType) -> Callable[[Tx], object] | None:
    """The module's `rest` function: only beside a GUARD that is not the whole condition."""
    rest = getattr(module, "rest", None)
    if rest is None:
        return None
    name = module.__name__.rpartition(".")[2]
    if not callable(rest):
        _broken(name, "its `rest` is not a function")
    if getattr(module, "GUARD", None) is None or getattr(module, "GUARD_IS_CONDITION", False):
        _broken(name, "it has a `rest` function but no GUARD, or a GUARD that is the condition")
    return rest  # type: ignore[no-any-return]


def _broken(control_id: str, why: str) -> NoReturn:
    raise EnforcementError(f"control module `{control_id}` is broken: {why}")


def _constant(module: ModuleType, name: str, kind: type[Any] | tuple[type[Any], ...]) -> Any:
    value = getattr(module, name, _ABSENT)
    if value is _ABSENT or not isinstance(value, kind):
        _broken(module.__name__.rpartition(".")[2], f"{name} is missing or of the wrong type")
    return value


def _strings(module: ModuleType, name: str) -> tuple[str, ...]:
    value = _constant(module, name, tuple)
    if not all(isinstance(item, str) for item in value):
        _broken(module.__name__.rpartition(".")[2], f"{name} must be a tuple of strings")
    return tuple(value)


def topological_order(controls: Sequence[ControlSpec]) -> tuple[str, ...]:
    """All control ids, each after the controls it depends on; ties by control id.

    Kahn's algorithm with a heap of ready ids, so the order is unique. Raises
    `EnforcementError` on an unknown dependency or a cycle.
    """
    ids = {c.control_id for c in controls}
    waiting_on: dict[str, int] = {}
    dependents: dict[str, list[str]] = {cid: [] for cid in ids}
    for c in controls:
        deps = set(c.depends_on)
        unknown = sorted(deps - ids)
        if unknown:
            raise EnforcementError(
                f"control `{c.control_id}` depends on unknown control(s) "
                + ", ".join(f"`{u}`" for u in unknown)
            )
        waiting_on[c.control_id] = len(deps)
        for dep in deps:
            dependents[dep].append(c.control_id)
    ready = [cid for cid, count in waiting_on.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        cid = heapq.heappop(ready)
        order.append(cid)
        for dependent in dependents[cid]:
            waiting_on[dependent] -= 1
            if waiting_on[dependent] == 0:
                heapq.heappush(ready, dependent)
    if len(order) != len(ids):
        stuck = sorted(ids - set(order))
        raise EnforcementError(
            "controls depend on each other in a cycle: " + ", ".join(f"`{s}`" for s in stuck)
        )
    return tuple(order)


def dependency_closure(
    controls: Sequence[ControlSpec], order: Sequence[str]
) -> dict[str, frozenset[str]]:
    """Per control id, every control it depends on, directly or through others.

    Built along `order` (dependencies first), so each control's set is its own
    dependencies and theirs, already complete. An action is delivered only after
    the actions of all of these (SPEC §3).
    """
    direct = {c.control_id: c.depends_on for c in controls}
    after: dict[str, frozenset[str]] = {}
    for cid in order:
        found: set[str] = set()
        for dep in direct[cid]:
            found.add(dep)
            found |= after[dep]
        after[cid] = frozenset(found)
    return after
