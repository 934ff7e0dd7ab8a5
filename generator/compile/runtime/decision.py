"""The pure half of the enforcer runtime: validation, `Decision` and evaluation.

Deciding reads only the transaction and the constants of the generated schema
and control modules: no I/O, no clock, no randomness, so a transaction always
gets the same decision. Delivering the decision's actions, which has side
effects, is `actions.py`.

This docstring and the imports below are not rendered: `enforcers/runtime.py`
starts with the docstring of this package and the merged imports of its parts,
then everything after the imports here, then the body of `actions.py`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from types import ModuleType
from typing import Any, Final, Literal, NoReturn

GENERATOR_NAME: Final[str] = "unrendered"  # rendered: generator_name
GENERATOR_VERSION: Final[str] = "unrendered"  # rendered: generator_version


Outcome = Literal["APPROVE", "REJECT", "REVIEW"]
Effect = Literal["REJECT", "REVIEW"]
ActionKind = Literal["notify", "ledger"]
TraceStatus = Literal["fired", "passed", "skipped"]

OUTCOMES: Final[tuple[str, ...]] = ("APPROVE", "REJECT", "REVIEW")
EFFECTS: Final[tuple[str, ...]] = ("REJECT", "REVIEW")
DATATYPES: Final[tuple[str, ...]] = ("decimal", "integer", "string", "boolean", "authority")
PARTIES: Final[tuple[str, ...]] = ("initiator", "approver", "executor")
DECISION_KINDS: Final[tuple[str, ...]] = ("approval", "segregation", "condition")
ACTION_KINDS: Final[tuple[str, ...]] = ("notification", "audit_log")

# Plain decimal notation only: no exponent, no sign other than a leading minus,
# no spaces, no NaN/Infinity. `[0-9]` with re.ASCII keeps out other digit scripts.
_DECIMAL_RE: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)

# Marks a field that is absent, distinct from an explicit JSON null.
_ABSENT: Final = object()


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """One problem with a transaction: the dotted path of the field and what is wrong.

    `field` is "" when the problem is the transaction as a whole.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"`{self.field}`: {self.message}" if self.field else self.message


class InvalidTransaction(ValueError):
    """The transaction does not match the schema; `problems` lists every problem.

    The message names every problem, so it can be shown to whoever sent the
    transaction as is.
    """

    def __init__(self, problems: Iterable[FieldProblem]) -> None:
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        details = "; ".join(str(p) for p in self.problems)
        super().__init__(f"invalid transaction ({count} {noun}): {details}")


class EnforcementError(RuntimeError):
    """The enforcer could not decide: an internal failure, never the sender's fault.

    Raised instead of a decision so that a failure can never become an APPROVE.
    """


class MissingValue(Exception):
    """Raised by `Tx.get` for an optional field the transaction does not carry.

    The runtime turns it into an `InvalidTransaction` problem naming the field
    and the control whose condition needed it.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


# --------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """Why a control rejected the transaction or asked for review."""

    control_id: str
    effect: Effect
    message: str

    def to_dict(self) -> dict[str, str]:
        """Plain JSON-able data."""
        return {"control_id": self.control_id, "effect": self.effect, "message": self.message}


@dataclass(frozen=True)
class Action:
    """A side effect the decision asks for: `notify` recipients or write to a `ledger`.

    `targets` are the recipients of a notify action, or `(ledger,)`.
    """

    kind: ActionKind
    control_id: str
    targets: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data."""
        return {"kind": self.kind, "control_id": self.control_id, "targets": list(self.targets)}


@dataclass(frozen=True)
class ControlTrace:
    """What one applicable control did.

    `status` is "fired" (it rejected, asked for review or emitted an action),
    "passed" (it was evaluated and did not fire) or "skipped" (its condition
    was false).
    """

    control_id: str
    status: TraceStatus

    def to_dict(self) -> dict[str, str]:
        """Plain JSON-able data."""
        return {"control_id": self.control_id, "status": self.status}


@dataclass(frozen=True)
class Decision:
    """The result of `evaluate`.

    `reasons` and `trace` are sorted by control id; `actions` are in
    `dependsOn` order, ties broken by control id. `trace` lists every control
    that applies to the transaction's type.
    """

    outcome: Outcome
    reasons: tuple[Reason, ...]
    actions: tuple[Action, ...]
    trace: tuple[ControlTrace, ...]
    transaction_id: str = ""
    transaction_type: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data (lists and strings only)."""
        return {
            "outcome": self.outcome,
            "transaction_id": self.transaction_id,
            "transaction_type": self.transaction_type,
            "reasons": [r.to_dict() for r in self.reasons],
            "actions": [a.to_dict() for a in self.actions],
            "trace": [t.to_dict() for t in self.trace],
        }


# --------------------------------------------------------------------------
# The validated transaction
# --------------------------------------------------------------------------


class Tx:
    """A validated transaction, as compiled conditions see it.

    `get(path)` gives the typed value of a field of the transaction's type:
    `Decimal` for decimals, `int`, `str`, `bool`, and the code (a `str`) for
    authority fields. `rank(code)` gives an authority code's rank.
    """

    __slots__ = ("_authorities", "_paths", "_type_id", "_values")

    def __init__(
        self,
        type_id: str,
        values: Mapping[str, object],
        paths: Iterable[str],
        authorities: Mapping[str, int],
    ) -> None:
        self._type_id = type_id
        self._values = dict(values)
        self._paths = frozenset(paths)
        self._authorities = authorities

    @property
    def type_id(self) -> str:
        """The transaction type id (the `type` field)."""
        return self._type_id

    def get(self, path: str) -> Any:
        """The validated value at `path`.

        Typed `Any` because its type depends on the field's datatype, which
        the condition compiler has already checked against the schema.
        Raises `MissingValue` if the field is optional and absent, and
        `EnforcementError` if the type has no such field at all.
        """
        if path in self._values:
            return self._values[path]
        if path in self._paths:
            raise MissingValue(path)
        raise EnforcementError(
            f"transaction type `{self._type_id}` has no field `{path}`; "
            "the enforcer package does not match its schema"
        )

    def rank(self, code: str) -> int:
        """The rank of authority `code`; an unknown code raises `EnforcementError`."""
        rank = self._authorities.get(code)
        if rank is None:
            raise EnforcementError(f"unknown authority code `{code}`")
        return rank

    def __repr__(self) -> str:
        return f"Tx(type_id={self._type_id!r}, values={self._values!r})"


# --------------------------------------------------------------------------
# Controls, as read from their generated modules
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------


class Engine:
    """The schema and the controls of one enforcer package, checked and ordered.

    `dispatch.py` builds one at import time; construction raises
    `EnforcementError` if the package is inconsistent (an unknown type,
    authority code or dependency, a cycle, a malformed control module), so a
    broken package fails loudly before it decides anything.
    """

    def __init__(
        self,
        *,
        types: Mapping[str, Sequence[tuple[str, str, bool]]],
        authorities: Mapping[str, int],
        controls: Sequence[ModuleType],
    ) -> None:
        self.authorities: dict[str, int] = dict(authorities)
        if len(set(self.authorities.values())) != len(self.authorities):
            raise EnforcementError("authority ranks are not unique")
        self.types: dict[str, tuple[FieldSpec, ...]] = {}
        for type_id, fields in types.items():
            specs = tuple(FieldSpec(path, datatype, req) for path, datatype, req in fields)
            for f in specs:
                if f.datatype not in DATATYPES:
                    raise EnforcementError(f"field `{f.path}` has unknown datatype `{f.datatype}`")
            self.types[type_id] = specs

        specs_by_id: dict[str, ControlSpec] = {}
        for module in controls:
            spec = ControlSpec.from_module(module)
            if spec.control_id in specs_by_id:
                raise EnforcementError(f"control `{spec.control_id}` is loaded twice")
            for type_id in spec.applies_to:
                if type_id not in self.types:
                    _broken(spec.control_id, f"it applies to unknown type `{type_id}`")
            code = spec.required_authority
            if code is not None and code not in self.authorities:
                _broken(spec.control_id, f"it requires unknown authority `{code}`")
            specs_by_id[spec.control_id] = spec
        self.controls: tuple[ControlSpec, ...] = tuple(
            specs_by_id[cid] for cid in sorted(specs_by_id)
        )
        self.order: tuple[str, ...] = topological_order(self.controls)

        # Per type: applicable controls by id, and action controls in action order.
        position = {cid: index for index, cid in enumerate(self.order)}
        self._applicable: dict[str, tuple[ControlSpec, ...]] = {}
        self._actions: dict[str, tuple[ControlSpec, ...]] = {}
        for type_id in self.types:
            applicable = tuple(c for c in self.controls if type_id in c.applies_to)
            self._applicable[type_id] = applicable
            self._actions[type_id] = tuple(
                sorted(
                    (c for c in applicable if c.kind in ACTION_KINDS),
                    key=lambda c: position[c.control_id],
                )
            )
        # Trace entries are immutable: build each one once, not once per decision.
        self._traces: dict[tuple[str, str], ControlTrace] = {
            (c.control_id, status): ControlTrace(c.control_id, status)
            for c in self.controls
            for status in ("fired", "passed", "skipped")
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
        problems: list[FieldProblem] = []
        type_id = transaction.get("type", _ABSENT)
        if type_id is _ABSENT or type_id is None:
            problems.append(FieldProblem("type", "required field is missing"))
        elif not isinstance(type_id, str):
            problems.append(FieldProblem("type", f"expected a string, got {_kind_of(type_id)}"))
        elif type_id not in self.types:
            known = ", ".join(f"`{t}`" for t in sorted(self.types)) or "none"
            problems.append(
                FieldProblem("type", f"unknown transaction type `{type_id}`; known types: {known}")
            )

        if isinstance(type_id, str) and type_id in self.types:
            fields = self.types[type_id]
        else:
            # Without a known type, still check the fields every type shares
            # (the core fields) so the sender learns all problems at once.
            fields = self._common_fields()

        values: dict[str, object] = {}
        for f in fields:
            if f.path == "type":
                continue
            raw, problem = _lookup(transaction, f.path)
            if problem is not None:
                problems.append(FieldProblem(f.path, problem))
                continue
            if raw is _ABSENT or raw is None:
                if f.required:
                    problems.append(FieldProblem(f.path, "required field is missing"))
                continue
            value, problem = self._coerce(f, raw)
            if problem is not None:
                problems.append(FieldProblem(f.path, problem))
            else:
                values[f.path] = value

        if isinstance(type_id, str) and type_id in self.types and "currency" in values:
            problem = self._currency_problem(type_id, values["currency"])
            if problem is not None:
                problems.append(FieldProblem("currency", problem))
        if problems:
            raise InvalidTransaction(problems)
        assert isinstance(type_id, str)
        values["type"] = type_id
        return Tx(type_id, values, (f.path for f in fields), self.authorities)

    def _common_fields(self) -> tuple[FieldSpec, ...]:
        if not self.types:
            return ()
        first, *rest = self.types.values()
        return tuple(f for f in first if all(f in other for other in rest))

    def _coerce(self, f: FieldSpec, raw: object) -> tuple[object, str | None]:
        """The typed value of a present field, or a problem message."""
        if f.datatype == "decimal":
            return _decimal(f.path, raw)
        if f.datatype == "integer":
            # bool is an int subclass in Python but not a number in JSON.
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw, None
            return None, f"expected an integer, got {_kind_of(raw)}"
        if f.datatype == "string":
            if isinstance(raw, str):
                return raw, None
            return None, f"expected a string, got {_kind_of(raw)}"
        if f.datatype == "boolean":
            if isinstance(raw, bool):
                return raw, None
            return None, f"expected true or false, got {_kind_of(raw)}"
        # authority
        known = ", ".join(f"`{code}`" for code in self.authorities) or "none"
        if not isinstance(raw, str):
            return None, f"expected an authority code (one of {known}), got {_kind_of(raw)}"
        if raw not in self.authorities:
            return None, f"unknown authority code `{raw}`; known codes: {known}"
        return raw, None

    def _currency_problem(self, type_id: str, currency: object) -> str | None:
        """A problem if approval rules exist for the type but none covers `currency`.

        Otherwise a payment in an uncovered currency would pass every approval
        rule untouched: the rules exist, so the gap must fail closed.
        """
        covered = sorted(
            {
                c.currency
                for c in self._applicable[type_id]
                if c.kind == "approval" and c.currency is not None
            }
        )
        if not covered or currency in covered:
            return None
        return (
            f"no approval rule for transaction type `{type_id}` covers currency `{currency}`; "
            "covered currencies: " + ", ".join(f"`{c}`" for c in covered)
        )

    # -- evaluation ---------------------------------------------------------

    def evaluate(self, transaction: Mapping[str, object]) -> Decision:
        """Decide `transaction` against every applicable control. No side effects.

        Raises `InvalidTransaction` if the transaction does not match the
        schema or a condition needs an absent optional field, and
        `EnforcementError` if anything else goes wrong; never returns a
        decision it could not fully reach.
        """
        try:
            return self._evaluate(transaction)
        except (InvalidTransaction, EnforcementError):
            raise
        except Exception as exc:
            raise EnforcementError(
                f"internal error while evaluating: {type(exc).__name__}: {exc}"
            ) from exc

    def _evaluate(self, transaction: Mapping[str, object]) -> Decision:
        tx = self.validate(transaction)
        applicable = self._applicable[tx.type_id]

        # 1. Every applicable control's condition, collecting absent fields.
        holds: dict[str, bool] = {}
        missing: dict[str, list[str]] = {}
        for c in applicable:
            try:
                holds[c.control_id] = bool(c.when(tx))
            except MissingValue as exc:
                missing.setdefault(exc.path, []).append(c.control_id)
            except (InvalidTransaction, EnforcementError):
                raise
            except Exception as exc:
                raise EnforcementError(
                    f"control `{c.control_id}`: its condition failed: {type(exc).__name__}: {exc}"
                ) from exc
        if missing:
            raise InvalidTransaction(
                FieldProblem(
                    path,
                    "field is missing but the condition of "
                    + ", ".join(f"control `{cid}`" for cid in controls)
                    + " needs it",
                )
                for path, controls in missing.items()
            )

        # 2. Decision controls, by control id.
        fired: set[str] = set()
        reasons: list[Reason] = []
        for c in applicable:
            if c.kind not in DECISION_KINDS or not holds[c.control_id]:
                continue
            try:
                reason = _decide(c, tx)
            except (InvalidTransaction, EnforcementError):
                raise
            except Exception as exc:
                raise EnforcementError(
                    f"control `{c.control_id}` failed: {type(exc).__name__}: {exc}"
                ) from exc
            if reason is not None:
                reasons.append(reason)
                fired.add(c.control_id)

        effects = {r.effect for r in reasons}
        outcome: Outcome = (
            "REJECT" if "REJECT" in effects else "REVIEW" if "REVIEW" in effects else "APPROVE"
        )

        # 3. Action controls, in dependsOn order.
        actions: list[Action] = []
        for c in self._actions[tx.type_id]:
            if not holds[c.control_id]:
                continue
            if c.on_outcome and outcome not in c.on_outcome:
                continue
            if c.kind == "notification":
                actions.append(Action("notify", c.control_id, c.recipients))
            else:
                assert c.ledger is not None  # checked in ControlSpec.from_module
                actions.append(Action("ledger", c.control_id, (c.ledger,)))
            fired.add(c.control_id)

        traces = self._traces
        trace = tuple(
            traces[
                (
                    c.control_id,
                    "skipped"
                    if not holds[c.control_id]
                    else "fired"
                    if c.control_id in fired
                    else "passed",
                )
            ]
            for c in applicable
        )
        return Decision(
            outcome=outcome,
            reasons=tuple(reasons),
            actions=tuple(actions),
            trace=trace,
            transaction_id=str(tx.get("id")),
            transaction_type=tx.type_id,
        )


def _decide(c: ControlSpec, tx: Tx) -> Reason | None:
    """Evaluate one decision control whose condition holds: a Reason if it fires."""
    if c.kind == "approval":
        assert c.threshold is not None and c.required_authority is not None
        amount: Decimal = tx.get("amount")
        currency: str = tx.get("currency")
        # The rule applies strictly above the threshold, in its own currency.
        if currency != c.currency or amount <= c.threshold:
            return None
        authority: str = tx.get("approver.authority")
        if tx.rank(authority) >= tx.rank(c.required_authority):
            return None
        return Reason(
            c.control_id,
            "REJECT",
            f"amount {amount} {currency} is over {c.threshold} {c.currency}; "
            f"approver authority `{authority}` is below the required `{c.required_authority}`",
        )
    if c.kind == "segregation":
        parties_by_id: dict[str, list[str]] = {}
        for party in c.separates:
            parties_by_id.setdefault(tx.get(f"{party}.id"), []).append(party)
        clashes = [
            f"{_join(parties)} are the same person (`{person}`)"
            for person, parties in parties_by_id.items()
            if len(parties) > 1
        ]
        if not clashes:
            return None
        return Reason(c.control_id, "REJECT", "segregation of duties: " + "; ".join(clashes))
    if c.kind == "condition":
        assert c.effect is not None and c.message is not None
        return Reason(c.control_id, c.effect, c.message)
    raise EnforcementError(f"control `{c.control_id}` has no decision kind")


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _lookup(transaction: Mapping[str, object], path: str) -> tuple[object, str | None]:
    """Walk a dotted path through nested mappings: (value or _ABSENT, problem or None)."""
    current: object = transaction
    walked: list[str] = []
    for part in path.split("."):
        if current is None:
            return _ABSENT, None
        if not isinstance(current, Mapping):
            return _ABSENT, (
                f"expected an object at `{'.'.join(walked)}`, got {_kind_of(current)}"
            )
        if part not in current:
            return _ABSENT, None
        current = current[part]
        walked.append(part)
    return current, None


def _decimal(path: str, raw: object) -> tuple[object, str | None]:
    """A Decimal from a plain decimal string or an int; floats are refused."""
    example = 'such as "105000.00"'
    value: Decimal
    if isinstance(raw, bool):
        return None, f"expected a decimal string {example}, got {_kind_of(raw)}"
    if isinstance(raw, float):
        # A float has already lost exactness; only the sender can fix that.
        return None, (
            f"got the number {raw!r}; floats are not accepted for money: "
            f"send the amount as a string {example}"
        )
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, Decimal) and raw.is_finite():
        # Python callers may already hold a Decimal; it is exact, so accept it.
        value = raw
    elif isinstance(raw, str) and _DECIMAL_RE.fullmatch(raw):
        value = Decimal(raw)
    else:
        return None, f"expected a decimal string in plain notation {example}, got {_kind_of(raw)}"
    if path == "amount" and value < 0:
        return None, f"amount must not be negative, got `{value}`"
    return value, None


def _kind_of(value: object) -> str:
    """A short description of a value for problem messages, e.g. "string `1e5x`"."""
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if value is None:
        return "null"
    for python_type, name in names.items():
        if type(value) is python_type:
            shown = repr(value) if python_type is float else str(value)
            if len(shown) > 40:
                shown = shown[:37] + "..."
            return f"{name} `{shown}`"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a value of type {type(value).__name__}"


def _join(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
