"""The Supervisor's batches: whole to a batch sink, partly failing, timing out mid-way, handed
back on stop; and its heartbeat in the outbox."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from mu.generator.outbox import Attempt, Outbox, RecordingSink, Supervisor
from mu.generator.outbox import workers as workers_module
from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.sinks import DeliveryError
from tests.unit.outbox.fakes import (
    BatchFake,
    FakeSink,
    Journal,
    enqueue_many,
    start,
    wait_until,
)
from tests.unit.outbox.helpers import LEDGER, config


def test_batches_go_to_a_batch_sink_whole_and_in_order(path: Path,
                                                       running: list[Supervisor]) -> None:
    journal = Journal()
    ledger = BatchFake(journal)
    supervisor = Supervisor(path, config(workers=1), {"ledger": ledger, "smtp": FakeSink(journal),
                                                      "webhook": FakeSink(journal)},
                            batch_size=8)
    enqueue_many(path, supervisor, 20)  # before start: the whole backlog is ready at once
    supervisor.start()
    running.append(supervisor)
    wait_until(lambda: len(journal.delivered()) == 60)
    assert ledger.batches[:2] == [8, 8] and sum(ledger.batches) == 20
    delivered = journal.delivered()
    for n in range(1, 21):  # every alert after its ledger write
        ledger_at = delivered.index(f"d-{n}:audit_reject/ledger")
        assert ledger_at < delivered.index(f"d-{n}:notify_compliance/smtp")
        assert ledger_at < delivered.index(f"d-{n}:notify_compliance/webhook")
    ledger_order = [k for k in delivered if k.endswith("/ledger")]
    assert ledger_order == [f"d-{n}:audit_reject/ledger" for n in range(1, 21)]


def test_some_of_a_batch_fail_and_are_retried_alone(path: Path, running: list[Supervisor]
                                                    ) -> None:
    journal = Journal()
    attempts: list[Attempt] = []

    class Picky(BatchFake):
        def deliver(self, delivery: Delivery, timeout: float) -> None:
            if delivery.key.startswith("d-2:") and journal.tries(delivery.key) == []:
                journal.add(delivery.key, "fail")
                raise DeliveryError("not now")
            super().deliver(delivery, timeout)

    ledger = Picky(journal)
    supervisor = Supervisor(path, config(smtp=False, webhook=False, workers=1,
                                         backoff_seconds=0.05, backoff_max_seconds=0.05),
                            {"ledger": ledger}, on_attempt=attempts.append, batch_size=8)
    enqueue_many(path, supervisor, 3, LEDGER)
    supervisor.start()
    running.append(supervisor)
    wait_until(lambda: len(attempts) == 4)  # observers hear of a batch once it is recorded
    assert ledger.batches[0] == 3 and len(journal.delivered()) == 3
    assert [(a.key, a.state, a.attempt) for a in attempts if a.key.startswith("d-2:")] == [
        ("d-2:audit_reject/ledger", "pending", 1), ("d-2:audit_reject/ledger", "delivered", 2)]


def test_a_delivery_timing_out_mid_batch_does_not_hold_the_rest(
    path: Path, running: list[Supervisor]
) -> None:
    journal = Journal()
    attempts: list[Attempt] = []

    class Stuck(FakeSink):
        def deliver(self, delivery: Delivery, timeout: float) -> None:
            if delivery.key.startswith("d-2:"):
                time.sleep(2.0)
            super().deliver(delivery, timeout)

    supervisor = Supervisor(path, config(smtp=False, webhook=False, workers=1,
                                         timeout_seconds=0.3, max_attempts=1),
                            {"ledger": Stuck(journal)}, on_attempt=attempts.append)
    enqueue_many(path, supervisor, 4, LEDGER)
    supervisor.start()
    running.append(supervisor)
    wait_until(lambda: len(attempts) == 4, 3.0)
    # (d-2's abandoned attempt may still end, later: it is not recorded.)
    done = [k for k in journal.delivered() if not k.startswith("d-2:")]
    assert done == [f"d-{n}:audit_reject/ledger" for n in (1, 3, 4)]
    (stuck,) = [a for a in attempts if a.state == "dead"]
    assert stuck.key == "d-2:audit_reject/ledger" and stuck.error == "timed out after 0.3 s"
    assert supervisor.alive


def test_stop_hands_back_the_untried_rest_of_a_batch(path: Path) -> None:
    journal = Journal()
    started = threading.Event()

    class Slow(FakeSink):
        def deliver(self, delivery: Delivery, timeout: float) -> None:
            started.set()
            super().deliver(delivery, timeout)

    supervisor = Supervisor(path, config(smtp=False, webhook=False, workers=1),
                            {"ledger": Slow(journal, sleep=0.3)}, batch_size=10)
    enqueue_many(path, supervisor, 5, LEDGER)
    supervisor.start()
    assert started.wait(2.0)  # the first delivery of the batch is under way
    supervisor.stop(5.0)
    box = Outbox.open(path)
    counts = box.counts()
    box.close()
    assert counts["inflight"] == 0 and counts["delivered"] == len(journal.delivered()) < 5
    db = sqlite3.connect(path)
    untried = db.execute("SELECT attempts, total_attempts, first_attempt_at FROM deliveries "
                         "WHERE state = 'pending'").fetchall()
    db.close()
    assert untried and all(row == (0, 0, None) for row in untried)


def test_the_heartbeat_shows_another_process_that_delivery_runs(
    path: Path, running: list[Supervisor], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers_module, "HEARTBEAT_SECONDS", 0.05)
    box = Outbox.open(path)
    assert box.heartbeat() is None
    supervisor = start(path, running, {"ledger": RecordingSink()})
    first = box.heartbeat()
    assert first is not None and first.pid == os.getpid() and first.fresh()
    wait_until(lambda: (beat := box.heartbeat()) is not None and beat.time > first.time)
    monkeypatch.setattr(workers_module, "STALE_SECONDS", 0.0)  # the workers look stuck

    def settled() -> bool:
        before = box.heartbeat()
        time.sleep(0.2)  # four beats' time
        return box.heartbeat() == before

    wait_until(settled)  # no longer written
    supervisor.stop(2.0)
    assert box.heartbeat() is None  # stopped
    box.close()
