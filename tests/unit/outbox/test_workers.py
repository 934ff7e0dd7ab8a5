"""The Supervisor with fake sinks: retries with back-off, dead letters, hung handlers, order,
the liveness of its workers."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.outbox import (
    Attempt,
    Outbox,
    Outcome,
    RecordingSink,
    Supervisor,
    deliveries_for,
)
from mu.generator.outbox import workers as workers_module
from tests.unit.outbox.fakes import FakeSink, Journal, enqueue, start, wait_until
from tests.unit.outbox.helpers import LEDGER, NOTIFY, Record, config


def test_retries_with_backoff_then_delivered_and_recorded(path: Path,
                                                          running: list[Supervisor]) -> None:
    journal = Journal()
    attempts: list[Attempt] = []
    supervisor = Supervisor(
        path,
        config(smtp=False, webhook=False, workers=1, backoff_seconds=0.05,
               backoff_max_seconds=0.08),
        {"ledger": FakeSink(journal, failures=3)},
        on_attempt=attempts.append,
    )
    supervisor.start()
    running.append(supervisor)
    assert supervisor.alive
    enqueue(path, supervisor, LEDGER)
    wait_until(lambda: journal.delivered() == ["d-1:audit_reject/ledger"])
    tries = journal.tries("d-1:audit_reject/ledger")
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    # back-off 0.05, 0.08 (capped), 0.08, each times a jitter in [0.5, 1)
    assert len(tries) == 4 and all(g >= 0.02 for g in gaps)
    wait_until(lambda: len(attempts) == 4)
    assert [a.state for a in attempts] == ["pending"] * 3 + ["delivered"]
    assert attempts[0].error == "refused (try 1)"
    box = Outbox.open(path)
    (recovered,) = box.status().recovered
    box.close()
    assert recovered.total_attempts == 4 and recovered.last_error == "refused (try 3)"
    assert 0 < recovered.late_seconds < 2


def test_dead_letter_holds_dependants_until_retried(path: Path,
                                                    running: list[Supervisor]) -> None:
    journal = Journal()
    ledger = FakeSink(journal, failures=2)
    supervisor = start(path, running, {"ledger": ledger, "smtp": FakeSink(journal),
                                       "webhook": FakeSink(journal)}, max_attempts=2)
    enqueue(path, supervisor, LEDGER, NOTIFY)
    box = Outbox.open(path)
    wait_until(lambda: box.counts()["dead"] == 1)
    time.sleep(0.3)  # the notifications stay held: never delivered ahead of the ledger
    assert journal.delivered() == []
    status = box.status()
    (dead,) = status.dead
    assert dead.key == "d-1:audit_reject/ledger" and dead.attempts == 2
    assert dead.error == "refused (try 2)" and dead.dead_at is not None
    assert status.held_total == 2
    assert box.retry(None) == 1  # as `mu actions retry` does, from another connection
    wait_until(lambda: len(journal.delivered()) == 3)
    assert journal.delivered()[0] == "d-1:audit_reject/ledger"
    box.close()


def test_dependency_order_across_channels(path: Path, running: list[Supervisor]) -> None:
    journal = Journal()
    supervisor = start(path, running, {"ledger": FakeSink(journal, sleep=0.2),
                                       "smtp": FakeSink(journal), "webhook": FakeSink(journal)},
                       workers=3)
    enqueue(path, supervisor, LEDGER, NOTIFY)
    wait_until(lambda: len(journal.delivered()) == 3)
    assert journal.delivered()[0] == "d-1:audit_reject/ledger"


def test_a_hanging_sink_does_not_block_another_channel(path: Path,
                                                       running: list[Supervisor]) -> None:
    journal = Journal()
    attempts: list[Attempt] = []
    supervisor = Supervisor(
        path, config(workers=1, timeout_seconds=0.3, max_attempts=1),
        {"smtp": FakeSink(journal, sleep=5.0), "webhook": FakeSink(journal),
         "ledger": FakeSink(journal)},
        on_attempt=attempts.append,
    )
    supervisor.start()
    running.append(supervisor)
    started = time.monotonic()
    enqueue(path, supervisor, {**NOTIFY, "after": []})
    wait_until(lambda: journal.delivered() == ["d-1:notify_compliance/webhook"], 2.0)
    assert time.monotonic() - started < 1.5  # at most one timeout of the one worker
    wait_until(lambda: len(attempts) == 2, 2.0)
    (hung,) = [a for a in attempts if a.channel == "smtp"]
    assert hung.state == "dead" and hung.error == "timed out after 0.3 s"
    assert supervisor.alive  # the worker carried on


def test_hung_attempts_per_channel_are_bounded(path: Path, running: list[Supervisor],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_module, "HUNG_LIMIT", 1)
    journal = Journal()
    attempts: list[Attempt] = []
    supervisor = Supervisor(
        path, config(smtp=False, webhook=False, workers=1, timeout_seconds=0.1, max_attempts=1),
        {"ledger": FakeSink(journal, sleep=3.0)}, on_attempt=attempts.append,
    )
    supervisor.start()
    running.append(supervisor)
    enqueue(path, supervisor, LEDGER, decision_id="d-1")
    enqueue(path, supervisor, LEDGER, decision_id="d-2")
    wait_until(lambda: len(attempts) == 2, 2.0)
    errors = sorted(a.error or "" for a in attempts)
    assert errors[0].startswith("1 earlier attempts on `ledger` are still running")
    assert errors[1] == "timed out after 0.1 s"


def test_a_channel_without_sink_becomes_a_dead_letter(
    path: Path, running: list[Supervisor]
) -> None:
    journal = Journal()
    supervisor = start(path, running, {"ledger": FakeSink(journal)}, max_attempts=1)
    enqueue(path, supervisor, {**NOTIFY, "after": []})
    box = Outbox.open(path)
    wait_until(lambda: box.counts()["dead"] == 2)
    errors = {d.error for d in box.status().dead}
    assert errors == {"no sink for the channel `smtp` (is it configured?)",
                      "no sink for the channel `webhook` (is it configured?)"}
    box.close()


def test_inflight_rows_of_a_crashed_run_are_delivered_at_start(path: Path,
                                                               running: list[Supervisor]) -> None:
    box = Outbox.open(path)
    box.enqueue(deliveries_for(Record(actions=(LEDGER,)), config()), 1)
    assert box.claim() is not None  # a worker took it, then the process died
    box.close()
    sink = RecordingSink()
    supervisor = start(path, running, {"ledger": sink})
    assert supervisor.recovered_inflight == 1
    wait_until(lambda: len(sink.records) == 1)


def test_alive_and_stop(path: Path) -> None:
    supervisor = Supervisor(path, config(workers=2), {"ledger": RecordingSink()})
    assert not supervisor.alive  # not started
    supervisor.start()
    assert supervisor.alive and supervisor.errors == []
    supervisor.stop(2.0)
    assert not supervisor.alive


def test_a_worker_that_stops_heartbeating_is_not_alive(path: Path, running: list[Supervisor],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    supervisor = start(path, running, {"ledger": RecordingSink()})
    assert supervisor.alive
    monkeypatch.setattr(workers_module, "STALE_SECONDS", 0.0)
    assert not supervisor.alive


def test_backoff_is_exponential_capped_and_jittered(path: Path) -> None:
    supervisor = Supervisor(path, config(backoff_seconds=1.0, backoff_max_seconds=10.0), {})
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (999, 10.0)]:
        delays = [supervisor.backoff(attempt) for _ in range(50)]
        assert all(base * 0.5 <= d <= base for d in delays)
        assert len(set(delays)) > 1


def test_a_damaged_row_becomes_a_dead_letter_not_a_dead_worker(path: Path,
                                                              running: list[Supervisor]) -> None:
    box = Outbox.open(path)
    box.enqueue(deliveries_for(Record(actions=(LEDGER,)), config()), 1)
    box.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE deliveries SET payload = '[1]'")
    db.commit()
    db.close()
    supervisor = start(path, running, {"ledger": RecordingSink()})
    box = Outbox.open(path)
    wait_until(lambda: box.counts()["dead"] == 1)
    (dead,) = box.status().dead
    box.close()
    assert dead.error.startswith("damaged outbox row: the outbox")
    assert "`payload`" in dead.error
    assert supervisor.alive


def test_a_result_is_recorded_once_the_outbox_recovers(path: Path, running: list[Supervisor],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_module, "_PAUSE_SECONDS", 0.01)
    real = Outbox.finish
    failures = [2]

    def flaky(self: Outbox, outcomes: Sequence[Outcome], *, now: float | None = None) -> None:
        if failures[0]:
            failures[0] -= 1
            raise InputError("the outbox `x` is busy: database is locked")
        real(self, outcomes, now=now)

    monkeypatch.setattr(Outbox, "finish", flaky)
    supervisor = start(path, running, {"ledger": RecordingSink()})
    enqueue(path, supervisor, LEDGER)
    box = Outbox.open(path)
    wait_until(lambda: box.counts()["delivered"] == 1)
    box.close()
    assert failures == [0] and supervisor.errors
