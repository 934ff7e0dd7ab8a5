"""The SQLite outbox: idempotent enqueue, ready and held deliveries, batches, retry, status,
the heartbeat."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.outbox import HEARTBEAT_STALE_SECONDS, Heartbeat, Outbox, Outcome, deliveries_for
from mu.generator.outbox import store as store_module
from mu.generator.outbox.plan import Delivery
from tests.unit.outbox.helpers import LEDGER, NOTIFY, Record, config

T0 = 1_700_000_000.0


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox.open(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def planned(decision_id: str = "d-1", seq: int = 1) -> list[Delivery]:
    record = Record(decision_id=decision_id, seq=seq, actions=(LEDGER, NOTIFY))
    return deliveries_for(record, config())


def claim_all(box: Outbox, now: float) -> list[str]:
    keys = []
    while (claim := box.claim(now=now)) is not None:
        assert claim.delivery is not None
        keys.append(claim.delivery.key)
    return sorted(keys)


def test_new_outbox_is_private_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox.open(path)
    assert path.stat().st_mode & 0o077 == 0
    assert box.high_water() == 0
    assert box.counts() == {"pending": 0, "inflight": 0, "delivered": 0, "dead": 0, "held": 0}
    box.close()
    assert Outbox.open(path, create=False).high_water() == 0


def test_missing_outbox_without_create(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no outbox"):
        Outbox.open(tmp_path / "outbox.sqlite3", create=False)
    assert not (tmp_path / "outbox.sqlite3").exists()


def test_enqueue_is_idempotent_and_raises_the_high_water(outbox: Outbox) -> None:
    outbox.enqueue(planned(), 1, now=T0)
    outbox.enqueue(planned(), 1, now=T0 + 5)  # a replay after a crash
    outbox.enqueue([], 7, now=T0)  # decisions without actions move the mark too
    outbox.enqueue([], 3, now=T0)  # never back
    assert outbox.high_water() == 7
    counts = outbox.counts()
    assert counts["pending"] == 3 and counts["held"] == 2


def test_dependants_are_held_until_their_dependency_is_delivered(outbox: Outbox) -> None:
    outbox.enqueue(planned(), 1, now=T0)
    first = outbox.claim(now=T0)
    assert first is not None and first.delivery is not None
    assert first.delivery.key == "d-1:audit_reject/ledger" and first.attempt == 1
    assert outbox.claim(now=T0) is None  # the notifications wait for the ledger
    outbox.succeed(first.rowid, now=T0 + 1)
    assert claim_all(outbox, T0 + 1) == [
        "d-1:notify_compliance/smtp",
        "d-1:notify_compliance/webhook",
    ]


def test_a_dead_dependency_holds_its_dependants_until_retried(outbox: Outbox) -> None:
    outbox.enqueue(planned(), 1, now=T0)
    claim = outbox.claim(now=T0)
    assert claim is not None
    outbox.fail(claim.rowid, "disk full", retry_at=None, now=T0 + 1)
    assert outbox.claim(now=T0 + 1000) is None  # held, never ahead of the dead ledger write
    status = outbox.status()
    assert status.dead_total == 1 and status.held_total == 2
    (dead,) = status.dead
    assert (dead.key, dead.error, dead.attempts, dead.dead_at) == (
        "d-1:audit_reject/ledger", "disk full", 1, T0 + 1)
    assert {w.state for h in status.held for w in h.waits} == {"dead"}
    assert outbox.retry(None, now=T0 + 2) == 1
    again = outbox.claim(now=T0 + 2)
    assert again is not None and again.attempt == 1  # a fresh round
    outbox.succeed(again.rowid, now=T0 + 3)
    assert len(claim_all(outbox, T0 + 3)) == 2


def test_failed_attempts_wait_for_their_time(outbox: Outbox) -> None:
    outbox.enqueue(planned()[:1], 1, now=T0)
    claim = outbox.claim(now=T0)
    assert claim is not None
    outbox.fail(claim.rowid, "connection refused", retry_at=T0 + 10, now=T0)
    assert outbox.claim(now=T0 + 9) is None
    again = outbox.claim(now=T0 + 10)
    assert again is not None and again.attempt == 2
    outbox.succeed(again.rowid, now=T0 + 40)
    (recovered,) = outbox.status().recovered
    assert recovered.total_attempts == 2 and recovered.late_seconds == 40.0
    assert recovered.last_error == "connection refused"


def test_inflight_rows_are_requeued_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox.open(path)
    box.enqueue(planned()[:1], 1, now=T0)
    assert box.claim(now=T0) is not None
    box.close()
    reader = Outbox.open(path, create=False)  # `mu actions status` must not steal it
    assert reader.counts()["inflight"] == 1
    assert reader.requeue_inflight(now=T0 + 1) == 1
    again = reader.claim(now=T0 + 1)
    assert again is not None and again.attempt == 2
    reader.close()


def test_retry_by_key_and_idempotency_key(outbox: Outbox) -> None:
    deliveries = [d for d in planned() if d.kind == "notify"]
    outbox.enqueue([Delivery(**{**d.__dict__, "after": ()}) for d in deliveries], 1, now=T0)
    for _ in range(2):
        claim = outbox.claim(now=T0)
        assert claim is not None
        outbox.fail(claim.rowid, "boom", retry_at=None, now=T0)
    assert outbox.retry(["d-1:notify_compliance/smtp"], now=T0) == 1
    assert outbox.retry(["d-1:notify_compliance/smtp"], now=T0) == 0  # not dead any more
    assert outbox.retry(["d-1:notify_compliance"], now=T0) == 1  # the webhook one
    with pytest.raises(InputError, match="no delivery"):
        outbox.retry(["d-9:nothing/smtp"])
    status = outbox.status()
    assert status.total("pending") == 2 and status.dead_total == 0


def test_status_counts_by_state_and_channel(outbox: Outbox) -> None:
    outbox.enqueue(planned("d-1", 1) + planned("d-2", 2), 2, now=T0)
    claim = outbox.claim(now=T0)
    assert claim is not None
    outbox.succeed(claim.rowid, now=T0)
    status = outbox.status()
    assert status.high_water == 2
    assert status.counts["pending"] == {"ledger": 1, "smtp": 2, "webhook": 2}
    assert status.counts["delivered"] == {"ledger": 1}
    assert status.held_total == 2  # d-2's notifications
    assert status.oldest_pending_at == T0
    assert outbox.counts() == {"pending": 5, "inflight": 0, "delivered": 1, "dead": 0, "held": 2}


def test_two_connections_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    a, b = Outbox.open(path), Outbox.open(path)
    a.enqueue(planned()[:1], 1, now=T0)
    first, second = b.claim(now=T0), a.claim(now=T0)
    assert first is not None and second is None
    a.close()
    b.close()


def test_retry_by_idempotency_key_is_exact(outbox: Outbox) -> None:
    notify = {**NOTIFY, "after": []}
    other = {**notify, "control_id": "notify_compliance_x"}
    outbox.enqueue(deliveries_for(Record(actions=(notify, other)), config()), 1, now=T0)
    while (claim := outbox.claim(now=T0)) is not None:
        outbox.fail(claim.rowid, "boom", retry_at=None, now=T0)
    assert outbox.counts()["dead"] == 4
    assert outbox.retry(["d-1:notify_compliance"], now=T0) == 2
    assert outbox.counts()["dead"] == 2


def test_checkpoint_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox.open(path)
    box.enqueue(planned(), 1, now=T0)
    box.checkpoint()
    box.close()
    assert Outbox.open(path, create=False).counts()["pending"] == 3


def many(count: int, *, first: int = 1) -> list[Delivery]:
    """The deliveries of `count` decisions: a ledger write and two notifications after it."""
    return [d for n in range(first, first + count) for d in planned(f"d-{n}", n)]


def test_a_batch_is_of_one_channel_oldest_first_and_ready_only(outbox: Outbox) -> None:
    outbox.enqueue(many(3), 3, now=T0)
    outbox.enqueue(many(2, first=4), 5, now=T0 + 1)
    # Only the ledger writes are ready: the notifications wait for them.
    assert outbox.claim_batch(10, channels=("smtp", "webhook"), now=T0 + 1) == []
    claims = outbox.claim_batch(4, now=T0 + 1)
    keys = [c.delivery.key for c in claims if c.delivery is not None]
    assert keys == [f"d-{n}:audit_reject/ledger" for n in (1, 2, 3, 4)]
    assert all(c.attempt == 1 for c in claims)
    assert outbox.claim_batch(4, now=T0) == []  # d-5's is not due yet at T0
    assert outbox.counts()["inflight"] == 4


def test_finish_records_a_whole_batch_in_one_go(outbox: Outbox) -> None:
    outbox.enqueue(many(4), 4, now=T0)
    a, b, c, d = outbox.claim_batch(10, now=T0)
    outbox.finish([Outcome(a.rowid), Outcome(b.rowid, "refused", T0 + 5),
                   Outcome(c.rowid, "gone", None), Outcome(d.rowid, attempted=False)],
                  now=T0 + 1)
    status = outbox.status()
    assert status.counts["delivered"] == {"ledger": 1}
    assert status.counts["dead"] == {"ledger": 1}
    assert status.dead[0].error == "gone" and status.dead[0].dead_at == T0 + 1
    # a's notifications are released at once; d is ready again as if never claimed.
    ready = outbox.claim_batch(10, channels=("smtp",), now=T0 + 1)
    assert [r.delivery.key for r in ready if r.delivery] == ["d-1:notify_compliance/smtp"]
    (again,) = outbox.claim_batch(10, channels=("ledger",), now=T0 + 1)
    assert again.rowid == d.rowid and again.attempt == 1
    (retried,) = outbox.claim_batch(10, channels=("ledger",), now=T0 + 5)
    assert retried.rowid == b.rowid and retried.attempt == 2
    outbox.finish([Outcome(again.rowid)])  # a row no longer inflight is left alone
    outbox.finish([Outcome(again.rowid, "late", None)])
    assert outbox.counts()["dead"] == 1


def test_channels_are_tried_in_the_order_given(outbox: Outbox) -> None:
    notify = {**NOTIFY, "after": []}
    outbox.enqueue(deliveries_for(Record(actions=(LEDGER, notify)), config()), 1, now=T0)
    channels = [outbox.claim_batch(5, channels=order, now=T0)[0].delivery
                for order in (("webhook", "smtp", "ledger"), ("smtp", "ledger"), ("ledger",))]
    assert [d.channel for d in channels if d] == ["webhook", "smtp", "ledger"]


def test_share_spreads_a_short_queue(outbox: Outbox) -> None:
    outbox.enqueue(many(8), 8, now=T0)
    sizes = []
    while claims := outbox.claim_batch(64, channels=("ledger",), share=4, now=T0):
        sizes.append(len(claims))
        assert claims == sorted(claims, key=lambda c: c.rowid)  # a run of neighbours
    assert sum(sizes) == 8 and sizes[0] == 2


def test_heartbeat_is_written_read_and_cleared(outbox: Outbox) -> None:
    assert outbox.heartbeat() is None
    outbox.write_heartbeat(now=T0, pid=4242)
    beat = outbox.heartbeat()
    assert beat == Heartbeat(T0, 4242)
    assert beat.age(now=T0 + 3) == 3.0 and beat.fresh(now=T0 + 3)
    assert not beat.fresh(now=T0 + HEARTBEAT_STALE_SECONDS)
    outbox.clear_heartbeat(pid=1)  # another process's is left alone
    assert outbox.heartbeat() == Heartbeat(T0, 4242)
    outbox.clear_heartbeat(pid=4242)
    assert outbox.heartbeat() is None


@pytest.mark.parametrize("value", ["", "soon 12", "1700000000.0", "1e300 12", "1.0 -4",
                                   "nan 3", "1.0 12 13"])
def test_a_damaged_heartbeat_is_named(tmp_path: Path, value: str) -> None:
    path = tmp_path / "outbox.sqlite3"
    Outbox.open(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO meta VALUES ('heartbeat', ?)", (value,))
    db.commit()
    db.close()
    box = Outbox.open(path, create=False)
    with pytest.raises(InputError, match=r"damaged.*`heartbeat`"):
        box.heartbeat()
    box.close()


def test_checkpoint_empties_a_grown_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox.open(path)
    box.enqueue(many(50), 50, now=T0)
    wal = tmp_path / "outbox.sqlite3-wal"
    assert wal.stat().st_size > 0
    monkeypatch.setattr(store_module, "WAL_LIMIT_BYTES", 0)
    box.checkpoint()
    assert wal.stat().st_size == 0
    assert box.counts()["pending"] == 150
    box.close()
