"""Shared test data for the outbox: decision records and delivery configurations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mu.generator.outbox import DeliveryConfig, LedgerConfig, SmtpConfig, WebhookConfig


@dataclass(frozen=True)
class Record:
    """A committed decision as the outbox sees one (duck-typed `DecisionRecord`)."""

    decision_id: str = "d-1"
    seq: int = 1
    time: str = "2025-01-02T03:04:05.000Z"
    release: str = "ab" * 32
    transaction: Any = field(default_factory=lambda: {"id": "tx-1", "type": "payment"})
    outcome: str = "REJECT"
    actions: Sequence[Mapping[str, Any]] = ()


LEDGER = {"kind": "ledger", "control_id": "audit_reject", "targets": ["audit"], "after": []}
NOTIFY = {
    "kind": "notify",
    "control_id": "notify_compliance",
    "targets": ["compliance@example.com"],
    "after": ["audit_reject"],
}


def config(
    tmp: Path | None = None,
    *,
    smtp: bool = True,
    webhook: bool = True,
    **delivery: Any,
) -> DeliveryConfig:
    """A configuration with SMTP and a webhook (unreachable), a ledger `audit` under `tmp`."""
    return DeliveryConfig(
        smtp=SmtpConfig(host="127.0.0.1", sender="mu@example.com", port=1) if smtp else None,
        webhook=WebhookConfig(url="http://127.0.0.1:1/hook") if webhook else None,
        ledgers={"audit": LedgerConfig("audit", (tmp or Path("/nonexistent")) / "audit.jsonl")},
        **delivery,
    )
