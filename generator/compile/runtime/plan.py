"""The compiled decision plan: per transaction type, the work a careful engineer writes.

`compile_plan` turns the checked control modules that apply to one transaction
type into a `TypePlan`: the conditions indexed by their first test (a guard;
see `conditions/guard.py`) — thresholds sorted for one binary search, values
hashed for one lookup — and a control without a condition never called;
approval rules grouped by currency with thresholds sorted and the highest
required rank over each prefix; segregation rules grouped by the parties they
separate; the ready-made reasons of condition rules; the actions in
`dependsOn` order per outcome; and the trace entries. `engine.py` decides with
it. SPEC §3's meaning is unchanged: the property tests hold the plan to the
reference evaluator and to calling every condition.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from .decision import (
    ACTION_KINDS,
    Action,
    ControlTrace,
    EnforcementError,
    Reason,
    Tx,
)
from .fields import FieldCheck
from .specs import ControlSpec, _broken

_ACTIONS_SEEN_LIMIT: Final[int] = 4096


@dataclass(frozen=True)
class ApprovalRule:
    """An approval rule as the plan needs it: who, above what, which rank.

    `tails` holds, per authority code an approver may have, the end of the
    message this rule gives when it fires, so that a decision formats only
    the amount, once. `conditional` says whether it has a condition.
    """

    control_id: str
    threshold: Decimal
    currency: str
    required_authority: str
    rank: int
    tails: Mapping[str, str]
    conditional: bool


@dataclass(frozen=True)
class ApprovalGroup:
    """The approval rules of one currency, sorted by threshold.

    `prefix_max[i]` is the highest rank required by `rules[: i + 1]`: the rules
    an amount is over form a prefix, so one comparison tells whether any of
    them can fire.
    """

    thresholds: tuple[Decimal, ...]
    rules: tuple[ApprovalRule, ...]
    prefix_max: tuple[int, ...]


@dataclass(frozen=True)
class SegregationGroup:
    """Segregation rules that separate the same parties: their check is made once.

    `always` are the rules without a condition, `conditional` those with one.
    """

    separates: tuple[str, ...]
    always: tuple[str, ...]
    conditional: tuple[str, ...]
    fields: tuple[str, ...] = field(init=False)
    # The two id fields when the rules separate two parties, else None.
    pair: tuple[str, str] | None = field(init=False)

    def __post_init__(self) -> None:
        fields = tuple(party + ".id" for party in self.separates)
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "pair", (fields[0], fields[1]) if len(fields) == 2 else None)


# A conditional control as the condition loop sees it: id, compiled condition,
# and the reason it gives when it holds (condition rules only; else None).
Entry = tuple[str, Callable[[Tx], object], "Reason | None"]


@dataclass(frozen=True)
class RangeIndex:
    """Guards `field op value` of one field and operator, sorted by value.

    For a field value v, the guards that hold are a prefix (`>`, `>=`) or a
    suffix (`<`, `<=`) of `values`: one binary search finds them. `by_rank`
    compares authority codes by rank. When `exact`, every guard is its whole
    condition: the controls in the same positions of `ids` hold, with the
    reasons in `reasons` (None for a control that gives none); otherwise the
    entries in the same positions of `hits` are still to be called, each with
    the rest of its condition (the guard is known to hold). When the
    transaction lacks the field, every one of `entries`, with its whole
    condition, is called (so that they say which field is missing).
    """

    path: str
    op: str
    by_rank: bool
    exact: bool
    values: tuple[object, ...]
    ids: tuple[str, ...]
    reasons: tuple[Reason | None, ...]
    hits: tuple[Entry, ...]
    entries: tuple[Entry, ...]
    # The guards that hold for a value v are `[:cut(values, v)]` when `prefix`,
    # else `[cut(values, v):]`: `>` holds below the first guard >= v
    # (bisect_left), `>=` up to the last guard <= v (bisect_right), and `<`,
    # `<=` the other way round.
    prefix: bool = field(init=False)
    cut: Callable[[Sequence[object], object], int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", self.op in (">", ">="))
        left = self.op in (">", "<=")
        object.__setattr__(self, "cut", bisect_left if left else bisect_right)


@dataclass(frozen=True)
class MemberIndex:
    """Guards `field in {...}` (and `=`, bare booleans) of one field: value -> controls.

    `by_value` gives the conditions still to call for a value (each the rest
    of a condition, its guard being known to hold); `exact_by_value`
    the controls that hold outright (their guard is their whole condition) and
    their reasons (None where a control gives none). `entries` are every
    control with its condition, called when the transaction lacks the field.
    """

    path: str
    by_value: Mapping[object, tuple[Entry, ...]]
    exact_by_value: Mapping[object, tuple[tuple[str, ...], tuple[Reason | None, ...]]]
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class ActionStep:
    """One action control of a type, in action order, with its ready-made action."""

    control_id: str
    action: Action
    conditional: bool


@dataclass(frozen=True)
class TypePlan:
    """Everything `evaluate` needs for one transaction type, computed once."""

    type_id: str
    paths: frozenset[str]
    covered_currencies: tuple[str, ...]
    ranges: tuple[RangeIndex, ...]
    members: tuple[MemberIndex, ...]
    unguarded: tuple[Entry, ...]
    conditional_ids: frozenset[str]
    approvals: Mapping[str, ApprovalGroup]
    segregations: tuple[SegregationGroup, ...]
    actions: Mapping[str, tuple[ActionStep, ...]]
    unconditional_actions: Mapping[str, tuple[Action, ...]]
    conditional_action_ids: frozenset[str]
    applicable: tuple[str, ...]
    traces: Mapping[str, tuple[ControlTrace, ControlTrace, ControlTrace]]
    # (outcome, conditional action controls that hold) -> actions; filled on use.
    # Few such combinations occur, so most decisions reuse a ready tuple.
    _actions_seen: dict[tuple[str, frozenset[str]], tuple[Action, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def actions_for(self, outcome: str, held: frozenset[str]) -> tuple[Action, ...]:
        """The actions of `outcome` when, of the conditional action controls, `held` hold."""
        key = (outcome, held)
        actions = self._actions_seen.get(key)
        if actions is None:
            actions = tuple(
                step.action
                for step in self.actions[outcome]
                if not step.conditional or step.control_id in held
            )
            # Bounded, so hostile input cannot grow it: past the bound, compute each time.
            if len(self._actions_seen) < _ACTIONS_SEEN_LIMIT:
                self._actions_seen[key] = actions
        return actions

    def trace(
        self, held: frozenset[str], reasons: tuple[Reason, ...], actions: tuple[Action, ...]
    ) -> tuple[ControlTrace, ...]:
        """The trace of one decision, from what the decision computed."""
        fired = {r.control_id for r in reasons}
        fired.update(a.control_id for a in actions)
        conditional = self.conditional_ids
        traces = self.traces
        return tuple(
            traces[cid][0 if cid in conditional and cid not in held else 1 if cid in fired else 2]
            for cid in self.applicable
        )


def _approval_groups(
    rules: Sequence[ControlSpec], authorities: Mapping[str, int]
) -> dict[str, ApprovalGroup]:
    by_currency: dict[str, list[ApprovalRule]] = {}
    for c in rules:
        assert c.threshold is not None and c.currency is not None
        assert c.required_authority is not None  # checked in ControlSpec.from_module
        tails = {
            code: f"{c.threshold} {c.currency}; approver authority `{code}` is below "
            f"the required `{c.required_authority}`"
            for code in authorities
        }
        by_currency.setdefault(c.currency, []).append(
            ApprovalRule(
                c.control_id,
                c.threshold,
                c.currency,
                c.required_authority,
                authorities[c.required_authority],
                tails,
                c.condition_text is not None,
            )
        )
    groups: dict[str, ApprovalGroup] = {}
    for currency in sorted(by_currency):
        ordered = sorted(by_currency[currency], key=lambda r: (r.threshold, r.control_id))
        prefix: list[int] = []
        for rule in ordered:
            prefix.append(max(prefix[-1], rule.rank) if prefix else rule.rank)
        groups[currency] = ApprovalGroup(
            tuple(r.threshold for r in ordered), tuple(ordered), tuple(prefix)
        )
    return groups


def _segregation_groups(rules: Sequence[ControlSpec]) -> tuple[SegregationGroup, ...]:
    by_parties: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
    for c in rules:
        always, conditional = by_parties.setdefault(c.separates, ([], []))
        (always if c.condition_text is None else conditional).append(c.control_id)
    return tuple(
        SegregationGroup(separates, tuple(always), tuple(conditional))
        for separates, (always, conditional) in sorted(by_parties.items())
    )


def _action_steps(
    actions: Sequence[ControlSpec],
) -> tuple[dict[str, tuple[ActionStep, ...]], dict[str, tuple[Action, ...]]]:
    """Per outcome: every action step that may fire, and the actions of those without
    a condition (what a decision gives when no conditional action control holds)."""
    steps: dict[str, tuple[ActionStep, ...]] = {}
    ready: dict[str, tuple[Action, ...]] = {}
    for outcome in ("APPROVE", "REJECT", "REVIEW"):
        chosen: list[ActionStep] = []
        for c in actions:
            if c.on_outcome and outcome not in c.on_outcome:
                continue
            if c.kind == "notification":
                action = Action("notify", c.control_id, c.recipients)
            else:
                assert c.ledger is not None  # checked in ControlSpec.from_module
                action = Action("ledger", c.control_id, (c.ledger,))
            chosen.append(ActionStep(c.control_id, action, c.condition_text is not None))
        steps[outcome] = tuple(chosen)
        ready[outcome] = tuple(s.action for s in chosen if not s.conditional)
    return steps, ready


def _guard_value(
    check: FieldCheck, value: object, authorities: Mapping[str, int], *, by_rank: bool
) -> object:
    """A guard literal as the field's typed values compare with it: an authority
    code by rank for a range, as the code itself for membership."""
    if check.datatype == "authority":
        if not isinstance(value, str) or value not in authorities:
            raise EnforcementError(f"a guard on `{check.path}` names unknown code `{value}`")
        return authorities[value] if by_rank else value
    if check.datatype in ("decimal", "integer") and isinstance(value, str):
        return Decimal(value)  # canonical decimal text, written by the compiler
    return value


def _indexes(
    guarded: Sequence[ControlSpec],
    checks: Mapping[str, FieldCheck],
    authorities: Mapping[str, int],
) -> tuple[tuple[RangeIndex, ...], tuple[MemberIndex, ...]]:
    """The guards of `guarded` (by control id) as range and membership indexes."""
    ranges: dict[tuple[str, str, bool], list[tuple[object, str]]] = {}
    members: dict[str, dict[object, list[ControlSpec]]] = {}
    member_ids: dict[str, list[str]] = {}
    entry = {c.control_id: _entry(c) for c in guarded}
    hit = {c.control_id: _hit(c) for c in guarded}
    for c in guarded:
        guard = c.guard
        assert guard is not None
        check = checks.get(str(guard[1]))
        if check is None:
            _broken(c.control_id, f"its GUARD reads unknown field `{guard[1]}`")
        if guard[0] == "range":
            value = _guard_value(check, guard[3], authorities, by_rank=True)
            key = (check.path, str(guard[2]), c.guard_is_condition)
            ranges.setdefault(key, []).append((value, c.control_id))
        else:
            values = guard[2]
            assert isinstance(values, tuple)  # checked in ControlSpec.from_module
            by_value = members.setdefault(check.path, {})
            for item in values:
                value = _guard_value(check, item, authorities, by_rank=False)
                by_value.setdefault(value, []).append(c)
            member_ids.setdefault(check.path, []).append(c.control_id)
    range_indexes = []
    for (path, op, whole), found in sorted(ranges.items()):
        found.sort(key=lambda pair: (pair[0], pair[1]))
        range_indexes.append(
            RangeIndex(
                path,
                op,
                checks[path].datatype == "authority",
                whole,
                tuple(value for value, _ in found),
                tuple(cid for _, cid in found),
                tuple(entry[cid][2] for _, cid in found),
                tuple(hit[cid] for _, cid in found),
                tuple(entry[cid] for _, cid in found),
            )
        )
    member_indexes = []
    for path in sorted(members):
        called: dict[object, tuple[Entry, ...]] = {}
        exact: dict[object, tuple[tuple[str, ...], tuple[Reason | None, ...]]] = {}
        for value, controls in members[path].items():
            unique = list({c.control_id: c for c in controls}.values())
            calls = tuple(hit[c.control_id] for c in unique if not c.guard_is_condition)
            holds = [c.control_id for c in unique if c.guard_is_condition]
            if calls:
                called[value] = calls
            if holds:
                exact[value] = (tuple(holds), tuple(entry[cid][2] for cid in holds))
        member_indexes.append(
            MemberIndex(path, called, exact, tuple(entry[cid] for cid in member_ids[path]))
        )
    return tuple(range_indexes), tuple(member_indexes)


def _entry(c: ControlSpec) -> Entry:
    reason = None
    if c.kind == "condition" and c.effect is not None and c.message is not None:
        reason = Reason(c.control_id, c.effect, c.message)
    return (c.control_id, c.when, reason)


def _hit(c: ControlSpec) -> Entry:
    """The entry of a control whose guard held: the rest of its condition, if it has one."""
    cid, when, reason = _entry(c)
    return (cid, c.rest if c.rest is not None else when, reason)


def compile_plan(
    type_id: str,
    checks: tuple[FieldCheck, ...],
    applicable: Sequence[ControlSpec],
    order: Sequence[str],
    authorities: Mapping[str, int],
) -> TypePlan:
    """The plan of one type from its checked controls (`applicable`, by control id)."""
    position = {cid: index for index, cid in enumerate(order)}
    actions = sorted(
        (c for c in applicable if c.kind in ACTION_KINDS), key=lambda c: position[c.control_id]
    )
    steps, ready = _action_steps(actions)
    approvals = [c for c in applicable if c.kind == "approval"]
    # A control without a condition always applies: there is nothing to call.
    conditional = [c for c in applicable if c.condition_text is not None]
    ranges, members = _indexes(
        [c for c in conditional if c.guard is not None],
        {check.path: check for check in checks},
        authorities,
    )
    return TypePlan(
        type_id=type_id,
        paths=frozenset(c.path for c in checks) | {"type"},
        covered_currencies=tuple(sorted({c.currency for c in approvals if c.currency})),
        ranges=ranges,
        members=members,
        unguarded=tuple(_entry(c) for c in conditional if c.guard is None),
        conditional_ids=frozenset(c.control_id for c in conditional),
        approvals=_approval_groups(approvals, authorities),
        segregations=_segregation_groups([c for c in applicable if c.kind == "segregation"]),
        actions=steps,
        unconditional_actions=ready,
        conditional_action_ids=frozenset(
            c.control_id for c in actions if c.condition_text is not None
        ),
        applicable=tuple(c.control_id for c in applicable),
        traces={
            c.control_id: (
                ControlTrace(c.control_id, "skipped"),
                ControlTrace(c.control_id, "fired"),
                ControlTrace(c.control_id, "passed"),
            )
            for c in applicable
        },
    )
