"""From a committed decision to the deliveries its actions need (SPEC §3, §10).

One `Delivery` per action and channel: a `notify` action goes out by SMTP and
by webhook, each when configured; a `ledger` action is appended to its
ledger. A delivery's `key` is `<decision_id>:<control_id>/<channel>` and its
idempotency key `<decision_id>:<control_id>` (SPEC §10): the same for every
channel of one action, so a receiver can recognise a repeat whichever way it
arrives.

An action's `after` names the control ids (of other actions in the same
decision) whose delivery must come first; the service computes it from the
release's transitive `dependsOn`, so this module never needs the release. A
delivery waits for *every* delivery of those actions, on every channel: an
alert that points at a ledger entry goes out only once the entry is written.
Control ids in `after` that the decision did not emit are ignored (SPEC §3:
the order is over the actions emitted).

The decision is taken duck-typed (`DecisionRecord`), so the outbox does not
depend on the decision log's package.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mu.generator.errors import InputError
from mu.generator.jsonshape import preview
from mu.generator.outbox.config import DeliveryConfig

KINDS = ("notify", "ledger")


class DecisionRecord(Protocol):
    """What the outbox reads of a committed decision (`generator.decisionlog.Committed`)."""

    @property
    def seq(self) -> int: ...  # the record's sequence number in the decision log
    @property
    def decision_id(self) -> str: ...
    @property
    def time(self) -> str: ...  # when it was decided, as logged
    @property
    def release(self) -> str: ...  # receipt digest of the release that decided
    @property
    def transaction(self) -> Any: ...  # the parsed transaction JSON
    @property
    def outcome(self) -> str: ...
    @property
    def actions(self) -> Sequence[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class Delivery:
    """One action on one channel: what a sink delivers, and what it must wait for.

    `payload` is plain JSON data (the same for every channel of an action):
    `decision_id`, `idempotency_key`, `control_id`, `kind`, `targets`,
    `outcome`, `transaction` (`id` and `type`), `release` and `decided_at`.
    """

    key: str
    idempotency_key: str
    seq: int
    channel: str
    kind: str
    control_id: str
    targets: tuple[str, ...]
    after: tuple[str, ...]  # keys of the deliveries that must be delivered first
    payload: Mapping[str, Any]

    def payload_json(self) -> str:
        """The payload as compact JSON with sorted keys (ASCII only): what is stored and sent."""
        return json.dumps(self.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def delivery_key(decision_id: str, control_id: str, channel: str) -> str:
    """`<decision_id>:<control_id>/<channel>`."""
    return f"{decision_id}:{control_id}/{channel}"


def idempotency_key(decision_id: str, control_id: str) -> str:
    """`<decision_id>:<control_id>` (SPEC §10)."""
    return f"{decision_id}:{control_id}"


def deliveries_for(record: DecisionRecord, config: DeliveryConfig) -> list[Delivery]:
    """Every delivery of the decision's actions, in action order, channels in config order.

    Raises `InputError` for an action that is not `{"kind", "control_id",
    "targets", "after"}` of the right types, of an unknown kind, or repeating
    another action's control id: the service built it, so this is a defect to
    be reported, not a delivery to be guessed.
    """
    return plan_deliveries(record, config.channels)


def plan_deliveries(
    record: DecisionRecord, channels_of: Callable[[str], tuple[str, ...]]
) -> list[Delivery]:
    """`deliveries_for` with the channels of each action kind given by `channels_of`."""
    actions = [_action(record, index, raw) for index, raw in enumerate(record.actions)]
    channels: dict[str, tuple[str, ...]] = {}
    for index, (kind, control_id, _, _) in enumerate(actions):
        if control_id in channels:
            raise _bad(record, index, f"repeats the control id `{preview(control_id, 64)}`")
        channels[control_id] = channels_of(kind)
    transaction = record.transaction if isinstance(record.transaction, Mapping) else {}
    out: list[Delivery] = []
    for kind, control_id, targets, after in actions:
        waits = tuple(
            delivery_key(record.decision_id, dep, channel)
            for dep in after
            if dep != control_id and dep in channels
            for channel in channels[dep]
        )
        ikey = idempotency_key(record.decision_id, control_id)
        payload = {
            "decision_id": record.decision_id,
            "idempotency_key": ikey,
            "control_id": control_id,
            "kind": kind,
            "targets": list(targets),
            "outcome": record.outcome,
            "transaction": {
                "id": _text(transaction.get("id")),
                "type": _text(transaction.get("type")),
            },
            "release": record.release,
            "decided_at": record.time,
        }
        for channel in channels[control_id]:
            out.append(
                Delivery(
                    key=delivery_key(record.decision_id, control_id, channel),
                    idempotency_key=ikey,
                    seq=record.seq,
                    channel=channel,
                    kind=kind,
                    control_id=control_id,
                    targets=targets,
                    after=waits,
                    payload=payload,
                )
            )
    return out


def _action(
    record: DecisionRecord, index: int, raw: object
) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """(kind, control_id, targets, after) of one logged action, checked."""

    def bad(what: str) -> InputError:
        return _bad(record, index, what)

    if not isinstance(raw, Mapping):
        raise bad("is not an object")
    kind, control_id = raw.get("kind"), raw.get("control_id")
    if kind not in KINDS:
        raise bad(f"has the unknown kind `{preview(str(kind), 40)}`")
    if not isinstance(control_id, str) or not control_id:
        raise bad("has no control id")
    targets, after = raw.get("targets"), raw.get("after", [])
    if not isinstance(targets, list | tuple) or not all(isinstance(t, str) for t in targets):
        raise bad("has `targets` that are not a list of strings")
    if not isinstance(after, list | tuple) or not all(isinstance(a, str) for a in after):
        raise bad("has `after` that is not a list of control ids")
    return str(kind), control_id, tuple(targets), tuple(dict.fromkeys(after))


def _bad(record: DecisionRecord, index: int, what: str) -> InputError:
    where = f"action {index} of decision `{preview(str(record.decision_id), 64)}`"
    return InputError(
        f"{where} {what}",
        hint='an action is {"kind", "control_id", "targets", "after"} as the service logs it',
    )


def _text(value: object) -> str | None:
    """A transaction's id or type as text (a number arrives as Decimal), or None if absent."""
    if value is None or isinstance(value, str):
        return value
    return preview(str(value), 256)
