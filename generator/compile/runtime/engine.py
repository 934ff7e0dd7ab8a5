"""The engine: validate a transaction, then decide it with its type's plan.

`Engine` is built once, at import, by `dispatch.py`: it reads and checks the
control modules, orders them by `dependsOn`, compiles the field checks
(`fields.py`) and one `TypePlan` per type (`plan.py`). `evaluate` is then
validation, the conditions whose guard holds, one binary search per approval
currency, one check per group of segregation rules, and ready-made reasons and
actions; the trace is made when first read.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from itertools import chain
from types import ModuleType
from typing import Final

from .decision import (
    _ABSENT,
    Decision,
    EnforcementError,
    FieldProblem,
    InvalidTransaction,
    MissingValue,
    Outcome,
    Reason,
    Tx,
    _join,
    _kind_of,
    _reason,
)
from .fields import FieldChecker, RestrictionRow, SchemaRow, _type_problem, plain_decimal
from .plan import Entry, SegregationGroup, TypePlan, compile_plan
from .specs import ControlSpec, _broken, dependency_closure, topological_order


class Engine:
    """The schema and the controls of one enforcer package, checked and compiled.

    `dispatch.py` builds one at import time; construction raises
    `EnforcementError` if the package is inconsistent (an unknown type,
    authority code or dependency, a cycle, a malformed control module or
    restriction), so a broken package fails loudly before it decides anything.
    """

    def __init__(
        self,
        *,
        types: Mapping[str, Sequence[SchemaRow]],
        authorities: Mapping[str, int],
        controls: Sequence[ModuleType],
        restrictions: Mapping[str, Sequence[RestrictionRow]] | None = None,
        quick: Mapping[str, Callable[..., bool]] | None = None,
    ) -> None:
        self.authorities: dict[str, int] = dict(authorities)
        if len(set(self.authorities.values())) != len(self.authorities):
            raise EnforcementError("authority ranks are not unique")
        self.fields = FieldChecker(types, self.authorities, restrictions)
        checks = self.fields.checks
        # Per type, schema.py's quick path and the `store` it calls for restricted fields.
        self.quick: dict[str, tuple[Callable[..., bool], Callable[..., bool]]] = {}
        for type_id, function in sorted((quick or {}).items()):
            if type_id not in checks or not callable(function):
                raise EnforcementError(f"the quick path of `{type_id}` is not a known type's")
            self.quick[type_id] = (function, self.fields.storer(type_id))
        specs_by_id: dict[str, ControlSpec] = {}
        for module in controls:
            spec = ControlSpec.from_module(module)
            if spec.control_id in specs_by_id:
                raise EnforcementError(f"control `{spec.control_id}` is loaded twice")
            for type_id in spec.applies_to:
                if type_id not in checks:
                    _broken(spec.control_id, f"it applies to unknown type `{type_id}`")
            code = spec.required_authority
            if code is not None and code not in self.authorities:
                _broken(spec.control_id, f"it requires unknown authority `{code}`")
            specs_by_id[spec.control_id] = spec
        self.controls: tuple[ControlSpec, ...] = tuple(
            specs_by_id[cid] for cid in sorted(specs_by_id)
        )
        self.order: tuple[str, ...] = topological_order(self.controls)
        # Whose actions each control's action waits for (`run_actions`, the service).
        self.after: dict[str, frozenset[str]] = dependency_closure(self.controls, self.order)
        self.plans: dict[str, TypePlan] = {
            type_id: compile_plan(
                type_id,
                type_checks,
                [c for c in self.controls if type_id in c.applies_to],
                self.order,
                self.authorities,
            )
            for type_id, type_checks in checks.items()
        }

    # -- validation ---------------------------------------------------------

    def validate(self, transaction: object) -> Tx:
        """Check `transaction` against the schema; raise `InvalidTransaction` with all problems."""
        if not isinstance(transaction, Mapping):
            raise InvalidTransaction(
                [
                    FieldProblem(
                        "",
                        "the transaction must be an object (a mapping of fields), "
                        f"got {_kind_of(transaction)}",
                    )
                ]
            )
        type_id = transaction.get("type", _ABSENT)
        plan = self.plans.get(type_id) if isinstance(type_id, str) else None
        problems: list[FieldProblem] = []
        if plan is None:
            problems.append(_type_problem(type_id, self.plans))
            self.fields.check_fields(transaction, self.fields.common, {}, problems)
            raise InvalidTransaction(problems)
        values: dict[str, object] = {}
        quick = self.quick.get(plan.type_id)
        if (
            quick is None
            or type(transaction) is not dict
            or not quick[0](transaction, values, plain_decimal, quick[1])
        ):
            # Unusual or wrong somewhere: read again, the careful way, naming every problem.
            values = {}
            self.fields.check_fields(transaction, self.fields.rows[plan.type_id], values, problems)
        covered = plan.covered_currencies
        if covered and "currency" in values and values["currency"] not in covered:
            problems.append(
                FieldProblem(
                    "currency",
                    f"no approval rule for transaction type `{plan.type_id}` covers currency "
                    f"`{values['currency']}`; covered currencies: "
                    + ", ".join(f"`{c}`" for c in covered),
                )
            )
        if problems:
            raise InvalidTransaction(problems)
        values["type"] = plan.type_id
        return Tx(plan.type_id, values, plan.paths, self.authorities)

    # -- evaluation ---------------------------------------------------------

    def evaluate(self, transaction: Mapping[str, object]) -> Decision:
        """Decide `transaction` against every applicable control. No side effects.

        Raises `InvalidTransaction` if the transaction does not match the
        schema or a condition needs an absent optional field, and
        `EnforcementError` if anything else goes wrong; never returns a
        decision it could not fully reach.
        """
        try:
            tx = self.validate(transaction)
            plan = self.plans[tx.type_id]
            reasons: list[Reason] = []
            return self._decide(plan, tx, self._held(plan, tx, reasons), reasons)
        except (InvalidTransaction, EnforcementError):
            raise
        except Exception as exc:
            raise EnforcementError(
                f"internal error while evaluating: {type(exc).__name__}: {exc}"
            ) from exc

    def _held(self, plan: TypePlan, tx: Tx, reasons: list[Reason]) -> frozenset[str]:
        """The conditional controls whose condition holds; their reasons go to `reasons`.

        The indexes rule out every control whose guard (its condition's first
        test) fails; the rest have their compiled condition called, unless the
        guard is the whole condition. An absent
        optional field that any condition needs makes the whole transaction
        undecidable, as calling every condition would.
        """
        candidates: list[Entry] = []
        # Controls whose guard, which held, is their whole condition, and their reasons.
        held: list[str] = []
        found: list[Reason | None] = []
        for r in plan.ranges:
            value = _dict_get(tx, r.path, _ABSENT)
            if value is _ABSENT:
                # Absent: its conditions are called, and say so (MissingValue).
                candidates.extend(r.entries)
                continue
            if r.by_rank:
                value = self.authorities[value]
            cut = r.cut(r.values, value)
            if not r.exact:
                candidates.extend(r.hits[:cut] if r.prefix else r.hits[cut:])
            elif r.prefix:
                held.extend(r.ids[:cut])
                found.extend(r.reasons[:cut])
            else:
                held.extend(r.ids[cut:])
                found.extend(r.reasons[cut:])
        for m in plan.members:
            value = _dict_get(tx, m.path, _ABSENT)
            if value is _ABSENT:
                candidates.extend(m.entries)
                continue
            hit = m.by_value.get(value)
            if hit:
                candidates.extend(hit)
            exact = m.exact_by_value.get(value)
            if exact:
                held.extend(exact[0])
                found.extend(exact[1])
        if found:
            reasons.extend(filter(None, found))
        missing: list[tuple[str, str]] = []
        for cid, when, reason in chain(candidates, plan.unguarded):
            try:
                if when(tx):
                    held.append(cid)
                    if reason is not None:
                        reasons.append(reason)
            except MissingValue as exc:
                missing.append((cid, exc.path))
            except (InvalidTransaction, EnforcementError):
                raise
            except Exception as exc:
                raise EnforcementError(
                    f"control `{cid}`: its condition failed: {type(exc).__name__}: {exc}"
                ) from exc
        if missing:
            raise InvalidTransaction(_missing_problems(missing))
        return frozenset(held) if held else _NO_HELD

    def _decide(
        self, plan: TypePlan, tx: Tx, held: frozenset[str], reasons: list[Reason]
    ) -> Decision:
        """The decision, given the controls whose condition holds and their reasons."""
        group = plan.approvals.get(tx["currency"])
        if group is not None:
            amount: Decimal = tx["amount"]
            # The rules the amount is over, strictly, are a prefix of the sorted thresholds.
            over = bisect_left(group.thresholds, amount)
            authority: str = tx["approver.authority"]
            rank = self.authorities[authority]
            if over and group.prefix_max[over - 1] > rank:
                head = f"amount {amount} {tx['currency']} is over "
                for rule in group.rules[:over]:
                    if rule.rank > rank and (not rule.conditional or rule.control_id in held):
                        reasons.append(
                            _reason(rule.control_id, "REJECT", head + rule.tails[authority])
                        )
        for seg in plan.segregations:
            # Party ids are required, so the check is safe before asking which
            # rules apply; a clash is rare, so that question is rarely asked.
            pair = seg.pair
            if pair is not None and tx[pair[0]] != tx[pair[1]]:
                continue  # two different people: the common case, checked inline
            message = _clash(seg, tx)
            if message is not None:
                for cid in seg.always:
                    reasons.append(_reason(cid, "REJECT", message))
                for cid in seg.conditional:
                    if cid in held:
                        reasons.append(_reason(cid, "REJECT", message))
        if len(reasons) > 1:
            reasons.sort(key=_control_id)

        outcome: Outcome = "APPROVE"
        for reason in reasons:
            if reason.effect == "REJECT":
                outcome = "REJECT"
                break
            outcome = "REVIEW"

        # Action controls, in dependsOn order.
        if held.isdisjoint(plan.conditional_action_ids):
            actions = plan.unconditional_actions[outcome]
        else:
            actions = plan.actions_for(outcome, held & plan.conditional_action_ids)
        reason_tuple = tuple(reasons)
        return Decision(
            outcome,
            reason_tuple,
            actions,
            partial(plan.trace, held, reason_tuple, actions),
            tx["id"],
            plan.type_id,
        )


_NO_HELD: Final[frozenset[str]] = frozenset()
# `dict.get` itself: `Tx.get` refuses defaults, but the index may ask "is it there?".
_dict_get: Final = dict.get


def _missing_problems(missing: list[tuple[str, str]]) -> list[FieldProblem]:
    """One problem per absent field, naming the controls that need it, by control id."""
    by_path: dict[str, list[str]] = {}
    for cid, path in sorted(missing):
        controls = by_path.setdefault(path, [])
        if cid not in controls:
            controls.append(cid)
    return [
        FieldProblem(
            path,
            "field is missing but the condition of "
            + ", ".join(f"control `{cid}`" for cid in controls)
            + " needs it",
        )
        for path, controls in by_path.items()
    ]


def _control_id(reason: Reason) -> str:
    return reason.control_id


def _clash(seg: SegregationGroup, tx: Tx) -> str | None:
    """The segregation message if two of the parties are the same person, else None."""
    fields = seg.fields
    if len(fields) == 2:
        first, second = tx[fields[0]], tx[fields[1]]
        if first != second:
            return None  # the common case, without building the message's table
        ids = [first, second]
    else:
        ids = [tx[f] for f in fields]
        if len(set(ids)) == len(ids):
            return None
    separates = seg.separates
    parties_by_id: dict[str, list[str]] = {}
    for party, person in zip(separates, ids, strict=True):
        parties_by_id.setdefault(person, []).append(party)
    return "segregation of duties: " + "; ".join(
        f"{_join(parties)} are the same person (`{person}`)"
        for person, parties in parties_by_id.items()
        if len(parties) > 1
    )
