"""`generator.reports.actions`: the status and retry renderers."""

from __future__ import annotations

import json
from pathlib import Path

from mu.generator.outbox import Outbox, deliveries_for
from mu.generator.reports.actions import retry_json, retry_text, status_json, status_text
from tests.unit.outbox.helpers import LEDGER, NOTIFY, Record, config

T0 = 1_700_000_000.0


def sample(tmp_path: Path) -> Outbox:
    box = Outbox.open(tmp_path / "outbox.sqlite3")
    box.enqueue(deliveries_for(Record(actions=(LEDGER, NOTIFY)), config()), 1, now=T0)
    first = box.claim(now=T0)
    assert first is not None and first.delivery is not None
    box.fail(first.rowid, "disk full", retry_at=None, now=T0 + 1)
    box.enqueue(deliveries_for(Record(decision_id="d-2", seq=2, actions=(LEDGER,)), config()),
                2, now=T0)
    second = box.claim(now=T0 + 1)
    assert second is not None
    box.fail(second.rowid, "timeout", retry_at=T0 + 2, now=T0 + 1)
    third = box.claim(now=T0 + 2)
    assert third is not None
    box.succeed(third.rowid, now=T0 + 37)
    return box


def test_status_text(tmp_path: Path) -> None:
    box = sample(tmp_path)
    text = status_text(box.status())
    box.close()
    assert "decisions enqueued up to log record 2" in text
    assert "dead      1 (ledger 1)" in text
    assert "dead letters (1):" in text and "error: disk full" in text
    assert "held for a dependency (2):" in text
    assert "waits for d-1:audit_reject/ledger (dead)" in text
    assert "delivered after 2 attempts, 37.0 s late; last error: timeout" in text
    assert "mu actions retry" in text


def test_status_json(tmp_path: Path) -> None:
    box = sample(tmp_path)
    data = json.loads(status_json(box.status()))
    box.close()
    assert data["totals"] == {"pending": 2, "inflight": 0, "delivered": 1, "dead": 1, "held": 2}
    assert data["counts"]["pending"] == {"smtp": 1, "webhook": 1}
    (dead,) = data["dead_letters"]
    assert dead["error"] == "disk full" and dead["dead_at"] == "2023-11-14T22:13:21.000Z"
    (recovered,) = data["recovered"]
    assert recovered["attempts"] == 2 and recovered["late_seconds"] == 37.0
    assert data["held"][0]["waits_for"] == [{"key": "d-1:audit_reject/ledger", "state": "dead"}]


def test_empty_status(tmp_path: Path) -> None:
    box = Outbox.open(tmp_path / "outbox.sqlite3")
    text = status_text(box.status())
    box.close()
    assert "pending   0" in text and "dead letters" not in text and "hint" not in text


def test_retry_renderers() -> None:
    assert retry_text(0) == "no dead letters to retry"
    assert "3 dead letter(s) pending again" in retry_text(3)
    assert json.loads(retry_json(3)) == {"retried": 3}
