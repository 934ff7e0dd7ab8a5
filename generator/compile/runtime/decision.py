"""The values of the enforcer runtime: errors, `Decision` and `Tx`.

Deciding reads only the transaction and the constants of the generated schema
and control modules: no I/O, no clock, no randomness, so a transaction always
gets the same decision. The control modules are read in `specs.py`; how a
decision is reached is `plan.py` and `engine.py`; delivering its actions,
which has side effects, is `actions.py`.

This docstring and the imports below are not rendered: `enforcers/runtime.py`
starts with the docstring of the runtime package and the merged imports of its
parts, then the body of each part after its imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

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


def _reason(control_id: str, effect: Effect, message: str) -> Reason:
    """`Reason(control_id, effect, message)`, made the fast way.

    A frozen dataclass sets each field through `object.__setattr__`, which is
    most of the cost of a rejection. Filling the instance's `__dict__` gives an
    equal object (same fields, equality, hash and repr) in a third of the time.
    """
    reason: Reason = _new(Reason)
    fields = reason.__dict__
    fields["control_id"] = control_id
    fields["effect"] = effect
    fields["message"] = message
    return reason


_new: Final = object.__new__


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


class Decision:
    """The result of `evaluate`: an immutable value.

    `reasons` and `trace` are sorted by control id; `actions` are in
    `dependsOn` order, ties broken by control id. `trace` lists every control
    that applies to the transaction's type.

    `trace` may be given as a tuple or as a function that makes it: the engine
    passes a function, because most callers never read the trace and building
    ~200 entries per decision would cost more than deciding. It is made at
    most once, on first use, and equality compares it like any other field.
    """

    __slots__ = (
        "_trace",
        "_trace_source",
        "actions",
        "outcome",
        "reasons",
        "transaction_id",
        "transaction_type",
    )

    outcome: Outcome
    reasons: tuple[Reason, ...]
    actions: tuple[Action, ...]
    transaction_id: str
    transaction_type: str
    _trace: tuple[ControlTrace, ...] | None
    _trace_source: Callable[[], tuple[ControlTrace, ...]] | None

    def __init__(
        self,
        outcome: Outcome,
        reasons: tuple[Reason, ...],
        actions: tuple[Action, ...],
        trace: tuple[ControlTrace, ...] | Callable[[], tuple[ControlTrace, ...]] = (),
        transaction_id: str = "",
        transaction_type: str = "",
    ) -> None:
        # The slots' own setters: `__setattr__` refuses, and this runs per decision.
        _set_outcome(self, outcome)
        _set_reasons(self, reasons)
        _set_actions(self, actions)
        _set_transaction_id(self, transaction_id)
        _set_transaction_type(self, transaction_type)
        if callable(trace):
            _set_trace(self, None)
            _set_trace_source(self, trace)
        else:
            _set_trace(self, tuple(trace))
            _set_trace_source(self, None)

    @property
    def trace(self) -> tuple[ControlTrace, ...]:
        """What every control applying to the transaction's type did, by control id."""
        made: tuple[ControlTrace, ...] | None = self._trace
        if made is None:
            source = self._trace_source
            assert source is not None  # one of the two is always set
            made = source()
            object.__setattr__(self, "_trace", made)
            object.__setattr__(self, "_trace_source", None)
        return made

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Decision is immutable; cannot set `{name}`")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Decision is immutable; cannot delete `{name}`")

    def _key(self) -> tuple[object, ...]:
        return (
            self.outcome,
            self.reasons,
            self.actions,
            self.trace,
            self.transaction_id,
            self.transaction_type,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Decision(outcome={self.outcome!r}, reasons={self.reasons!r}, "
            f"actions={self.actions!r}, trace={self.trace!r}, "
            f"transaction_id={self.transaction_id!r}, "
            f"transaction_type={self.transaction_type!r})"
        )

    def to_dict(self, *, trace: bool = True) -> dict[str, object]:
        """Plain JSON-able data (lists and strings only).

        `trace=False` leaves the trace out, and then it is never made: a
        stream of decisions (`mu decide --batch`) has no use for ~200 entries
        a line.
        """
        data: dict[str, object] = {
            "outcome": self.outcome,
            "transaction_id": self.transaction_id,
            "transaction_type": self.transaction_type,
            "reasons": [r.to_dict() for r in self.reasons],
            "actions": [a.to_dict() for a in self.actions],
        }
        if trace:
            data["trace"] = [t.to_dict() for t in self.trace]
        return data


# The setters of Decision's slots (a decision sets each once, in `__init__`).
_SLOTS: Final[dict[str, Any]] = dict(vars(Decision))
_set_outcome: Final = _SLOTS["outcome"].__set__
_set_reasons: Final = _SLOTS["reasons"].__set__
_set_actions: Final = _SLOTS["actions"].__set__
_set_transaction_id: Final = _SLOTS["transaction_id"].__set__
_set_transaction_type: Final = _SLOTS["transaction_type"].__set__
_set_trace: Final = _SLOTS["_trace"].__set__
_set_trace_source: Final = _SLOTS["_trace_source"].__set__


# --------------------------------------------------------------------------
# The validated transaction
# --------------------------------------------------------------------------


class Tx(dict[str, Any]):
    """A validated transaction, as compiled conditions see it.

    `tx[path]` (or `tx.get(path)`) gives the typed value of a field of the
    transaction's type: `Decimal` for decimals, `int`, `str`, `bool`, the code
    (a `str`) for authority fields and the normal form for party ids.
    `rank(code)` gives an authority code's rank. It is a dict so that a
    compiled condition reads a field at the speed of a dict lookup; an absent
    key is not a default but an error (`__missing__`).
    """

    __slots__ = ("_authorities", "_paths", "_type_id")

    def __init__(
        self,
        type_id: str,
        values: Mapping[str, object],
        paths: Iterable[str] | frozenset[str],
        authorities: Mapping[str, int],
    ) -> None:
        super().__init__(values)
        self._type_id = type_id
        self._paths = paths if isinstance(paths, frozenset) else frozenset(paths)
        self._authorities = authorities

    @property
    def type_id(self) -> str:
        """The transaction type id (the `type` field)."""
        return self._type_id

    def __missing__(self, path: str) -> Any:
        """Raise `MissingValue` for an absent optional field, `EnforcementError` for no field.

        Typed `Any` because a field's type depends on its datatype, which the
        condition compiler has already checked against the schema.
        """
        if path in self._paths:
            raise MissingValue(path)
        raise EnforcementError(
            f"transaction type `{self._type_id}` has no field `{path}`; "
            "the enforcer package does not match its schema"
        )

    def get(self, path: str, default: object = None) -> Any:
        """The validated value at `path`, exactly as `tx[path]`; `default` is ignored.

        An absent field is never silently replaced by a default: that would
        let a missing value decide. The parameter exists only for the
        signature of `dict.get`.
        """
        return self[path]

    def rank(self, code: str) -> int:
        """The rank of authority `code`; an unknown code raises `EnforcementError`."""
        rank = self._authorities.get(code)
        if rank is None:
            raise EnforcementError(f"unknown authority code `{code}`")
        return rank

    def __repr__(self) -> str:
        return f"Tx(type_id={self._type_id!r}, values={dict(self)!r})"


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


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
