"""Before a release is served: can its actions be delivered with this configuration?

`check_sinks` compares what a release's actions need with what the service
configures (`mu serve` at start, and `mu deploy`'s health check before a
switch): every ledger an audit-log rule names must be configured and its
directory writable, a notification needs SMTP or a webhook, and every
environment variable a secret is read from must be set. `exercise` then
delivers one synthetic delivery of each action on each channel through the
given sinks — recording sinks, so nothing leaves the machine — so the code
that renders mails, webhook bodies and ledger lines runs before promotion.

Actions are taken as plain data, `{"kind", "control_id", "targets"}`
(`Action.to_dict()` of the enforcer runtime); `after` is not needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mu.generator.errors import Problem
from mu.generator.jsonshape import preview
from mu.generator.layout import shown_path
from mu.generator.outbox.config import DeliveryConfig
from mu.generator.outbox.plan import KINDS, plan_deliveries
from mu.generator.outbox.sinks import Sink

HEALTH_CHECK_ID = "health-check"
EXERCISE_TIMEOUT_SECONDS = 5.0


def _where(action: Mapping[str, Any]) -> str:
    control = action.get("control_id")
    return f"control `{preview(control, 64)}`" if isinstance(control, str) else "an action"


def check_sinks(
    actions: Iterable[Mapping[str, Any]],
    config: DeliveryConfig,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every reason the configuration cannot deliver `actions` (empty: it can).

    `environ` defaults to the process environment.
    """
    env = os.environ if environ is None else environ
    problems: list[Problem] = []
    for action in actions:
        kind, raw = action.get("kind"), action.get("targets")
        targets = [t for t in raw if isinstance(t, str)] if isinstance(raw, list | tuple) else []
        if kind not in KINDS:
            problems.append(Problem(_where(action), f"has the unknown action kind "
                                                    f"`{preview(str(kind), 40)}`"))
        elif kind == "notify" and not config.channels("notify"):
            problems.append(Problem(
                _where(action),
                "sends notifications, but neither `[smtp]` nor `[webhook]` is configured",
                hint="add an `[smtp]` or a `[webhook]` table to the service configuration",
            ))
        elif kind == "ledger":
            for name in targets:
                if name not in config.ledgers:
                    shown = preview(str(name), 64)
                    problems.append(Problem(
                        _where(action),
                        f"writes to the ledger `{shown}`, which is not configured",
                        hint=f'add `[ledgers.{shown}]` with `path = "..."` to the service '
                        "configuration",
                    ))
    for table, variable in (
        ("smtp", config.smtp.password_env if config.smtp else None),
        ("webhook", config.webhook.secret_env if config.webhook else None),
    ):
        if variable is not None and not env.get(variable):
            problems.append(Problem(
                f"[{table}]", f"the environment variable `{variable}` is not set",
                hint=f"set `{variable}` in the service's environment (secrets never go in "
                "the configuration file)",
            ))
    for ledger in config.ledgers.values():
        directory = ledger.path.parent
        if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK) or (
            ledger.path.exists() and not os.access(ledger.path, os.W_OK)
        ):
            problems.append(Problem(
                f"[ledgers.{preview(ledger.name, 64)}]",
                f"the ledger `{shown_path(ledger.path)}` cannot be written",
                hint="create its directory and let the service's user write there",
            ))
    return problems


@dataclass(frozen=True)
class _Synthetic:
    """A made-up decision carrying the actions to exercise (a `DecisionRecord`)."""

    actions: tuple[Mapping[str, Any], ...]
    seq: int = 0
    decision_id: str = HEALTH_CHECK_ID
    time: str = ""
    release: str = HEALTH_CHECK_ID
    transaction: Any = None
    outcome: str = "REVIEW"


def exercise(actions: Iterable[Mapping[str, Any]], sinks: Mapping[str, Sink]) -> list[Problem]:
    """Deliver one synthetic delivery of each action on each channel of `sinks`; every
    failure, and every action no sink takes, is a problem (empty: all went through).

    Meant for recording sinks: real ones would really send.
    """
    chosen = tuple(
        {"kind": a.get("kind"), "control_id": a.get("control_id"),
         "targets": list(a.get("targets") or []), "after": []}
        for a in actions
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = _Synthetic(chosen, time=now, transaction={"id": HEALTH_CHECK_ID,
                                                       "type": HEALTH_CHECK_ID})

    def channels(kind: str) -> tuple[str, ...]:
        wanted = ("smtp", "webhook") if kind == "notify" else ("ledger",)
        return tuple(c for c in wanted if c in sinks)

    problems: list[Problem] = []
    try:
        deliveries = plan_deliveries(record, channels)
    except Exception as exc:  # an action the outbox could not plan
        return [Problem("actions", str(getattr(exc, "message", exc)))]
    for action in chosen:
        if not channels(str(action["kind"])):
            problems.append(Problem(_where(action), f"no test sink takes `{action['kind']}` "
                                                    "actions"))
    for delivery in deliveries:
        try:
            sinks[delivery.channel].deliver(delivery, EXERCISE_TIMEOUT_SECONDS)
        except Exception as exc:
            problems.append(Problem(
                f"control `{preview(delivery.control_id, 64)}` by {delivery.channel}",
                f"the test delivery failed: {preview(str(exc), 200)}",
            ))
    return problems
