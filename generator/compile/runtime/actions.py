"""The side-effecting half of the enforcer runtime: delivering a decision's actions.

`run_actions` calls the caller's handlers with isolation, bounded retries and a
dead-letter record, after `decision.py` has decided without side effects; it
never changes the decision.

This docstring and the imports below are not rendered: in `enforcers/runtime.py`
everything after the imports here follows the body of `decision.py`, in the same
module, so the import of `Action` and `Decision` is dropped there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from mu.generator.compile.runtime.decision import Action, Decision

# --------------------------------------------------------------------------
# Running actions
# --------------------------------------------------------------------------


Handler = Callable[[Action, Decision], None]


@dataclass(frozen=True)
class DeadLetter:
    """An action that could not be delivered: how often it was tried, the last error, and
    when it was given up (UTC, ISO 8601).

    `attempts` is 0 when there was no handler for the action's kind, or when the
    action was held because an action it depends on was not delivered (SPEC §3:
    never delivered ahead of its dependency).
    """

    action: Action
    attempts: int
    error: str
    at: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data."""
        return {
            "action": self.action.to_dict(),
            "attempts": self.attempts,
            "error": self.error,
            "at": self.at,
        }


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class ActionReport:
    """What `run_actions` did: delivered actions and dead letters, both in action order.

    `dead_letter_error` says why the dead-letter file could not be written, if
    it could not; the dead letters are in this report either way.
    """

    delivered: tuple[Action, ...]
    dead_letters: tuple[DeadLetter, ...]
    dead_letter_error: str | None = None


def run_actions(
    decision: Decision,
    handlers: Mapping[str, Handler],
    *,
    max_attempts: int = 3,
    backoff_seconds: float = 0.0,
    dead_letter_path: str | os.PathLike[str] | None = None,
    after: Mapping[str, Collection[str]] | None = None,
) -> ActionReport:
    """Deliver the decision's actions, each through `handlers[action.kind]`.

    Each action is tried up to `max_attempts` times (at least once), waiting
    `backoff_seconds`, doubled after each failure, between attempts. A handler
    that raises only affects its own action. An action still failing after its
    last attempt, or without a handler, becomes a dead letter: it is listed in
    the report and, if `dead_letter_path` is given, appended there as one JSON
    line. `after` maps a control id to the controls whose actions must be
    delivered first (the package's own `run_actions` passes its `dependsOn`
    closure): an action whose dependency was not delivered is held, as a dead
    letter, never delivered ahead of it. This function never raises (except
    for `BaseException`s such as KeyboardInterrupt) and never changes the
    decision.
    """
    attempts_allowed = max(1, max_attempts)
    delivered: list[Action] = []
    dead: list[DeadLetter] = []
    failed: set[str] = set()  # control ids whose action was not delivered
    for action in decision.actions:
        waits = sorted(failed.intersection((after or {}).get(action.control_id, ())))
        if waits:
            failed.add(action.control_id)
            shown = ", ".join(f"`{w}`" for w in waits)
            dead.append(DeadLetter(action, 0, f"held: {shown} was not delivered", _now()))
            continue
        handler = handlers.get(action.kind)
        if handler is None:
            failed.add(action.control_id)
            dead.append(
                DeadLetter(action, 0, f"no handler for action kind `{action.kind}`", _now())
            )
            continue
        error = ""
        for attempt in range(1, attempts_allowed + 1):
            try:
                handler(action, decision)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if attempt < attempts_allowed and backoff_seconds > 0:
                    time.sleep(backoff_seconds * 2 ** (attempt - 1))
                continue
            delivered.append(action)
            break
        else:
            failed.add(action.control_id)
            dead.append(DeadLetter(action, attempts_allowed, error, _now()))

    write_error = None
    if dead and dead_letter_path is not None:
        write_error = _append_dead_letters(dead_letter_path, decision, dead)
    return ActionReport(tuple(delivered), tuple(dead), write_error)


def _append_dead_letters(
    path: str | os.PathLike[str], decision: Decision, dead: Sequence[DeadLetter]
) -> str | None:
    """Append one JSON line per dead letter; return an error message instead of raising."""
    lines = [
        json.dumps(
            {
                "transaction_id": decision.transaction_id,
                "transaction_type": decision.transaction_type,
                "outcome": decision.outcome,
                **letter.to_dict(),
            },
            sort_keys=True,
        )
        + "\n"
        for letter in dead
    ]
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.writelines(lines)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
