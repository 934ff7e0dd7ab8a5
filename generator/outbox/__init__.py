"""Supervised actions (SPEC §3, §10): a durable outbox and the workers that drain it.

The service turns each committed decision into deliveries (`deliveries_for`),
enqueues them in the same step as the log's group commit (`Outbox.enqueue`),
and wakes the `Supervisor`, whose worker threads deliver through the sinks
(SMTP, webhook, ledger files) in batches, with a timeout per attempt,
back-off with jitter, idempotency keys and dependency order, keeping dead
letters with their times and errors; its heartbeat in the outbox
(`Outbox.heartbeat()`) shows another process that it runs. `mu actions
status|retry` read and revive the same outbox from another process.

Modules: `config` (the delivery tables of the service TOML), `plan` (decision
→ deliveries), `store` (the SQLite outbox) with `schema` (opening and
checking the file), `reading` (rows read back) and `status` (what status
shows, checks of what is read back), `render` (the wire formats), `sinks`
(the channels: `protocol` says what a sink is, `network` has SMTP and the
webhook, `ledger` the ledger files), `workers` (the supervisor) with
`attempts` (a worker's batch, with timeouts), `checks` (can a release's
actions be delivered?). This package never imports the decision log: a
decision record is duck-typed (`DecisionRecord`).
"""

from __future__ import annotations

from mu.generator.outbox.checks import check_sinks, exercise
from mu.generator.outbox.config import (
    DeliveryConfig,
    LedgerConfig,
    SmtpConfig,
    WebhookConfig,
    delivery_config,
)
from mu.generator.outbox.plan import DecisionRecord, Delivery, deliveries_for
from mu.generator.outbox.sinks import (
    BatchSink,
    DeliveryError,
    LedgerSink,
    Recorded,
    RecordingSink,
    Sink,
    SmtpSink,
    WebhookSink,
    default_sinks,
)
from mu.generator.outbox.status import (
    HEARTBEAT_SECONDS,
    HEARTBEAT_STALE_SECONDS,
    DeadLetter,
    Heartbeat,
    Held,
    OutboxStatus,
    Recovered,
    Wait,
    iso_time,
)
from mu.generator.outbox.store import Claim, Outbox, Outcome
from mu.generator.outbox.workers import BATCH_SIZE, Attempt, Supervisor

OUTBOX_FILE = "outbox.sqlite3"  # in the decision log directory

__all__ = [
    "BATCH_SIZE",
    "HEARTBEAT_SECONDS",
    "HEARTBEAT_STALE_SECONDS",
    "OUTBOX_FILE",
    "Attempt",
    "BatchSink",
    "Claim",
    "DeadLetter",
    "DecisionRecord",
    "Delivery",
    "DeliveryConfig",
    "DeliveryError",
    "Heartbeat",
    "Held",
    "LedgerConfig",
    "LedgerSink",
    "Outbox",
    "OutboxStatus",
    "Outcome",
    "Recorded",
    "RecordingSink",
    "Recovered",
    "Sink",
    "SmtpConfig",
    "SmtpSink",
    "Supervisor",
    "Wait",
    "WebhookConfig",
    "WebhookSink",
    "check_sinks",
    "default_sinks",
    "deliveries_for",
    "delivery_config",
    "exercise",
    "iso_time",
]
