"""`LogFollower`: what the delivery process reads of the log — every decision once, in
order, across rotations, never a line still being written."""

from __future__ import annotations

from pathlib import Path

from mu.generator.decisionlog import Entry, LogFollower, canonical_json
from mu.generator.decisionlog.codec import check_entry
from tests.unit.decisionlog.conftest import RELEASE, Trust, entry, make_log


def test_it_catches_up_then_reads_only_what_is_appended(trust: Trust, tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = make_log(log, trust.signer(), 5, close=False)
    follower = LogFollower(log, after_seq=0)
    first = follower.poll()
    assert [r.transaction["id"] for r in first] == [f"tx-{n}" for n in range(5)]
    assert follower.poll() == []
    for future in [writer.submit(entry(n)) for n in range(5, 8)]:
        future.result(timeout=10)
    assert [r.transaction["id"] for r in follower.poll()] == ["tx-5", "tx-6", "tx-7"]
    writer.close()
    assert follower.poll() == []  # the shutdown checkpoint is not a decision


def test_it_starts_after_the_given_record(trust: Trust, tmp_path: Path) -> None:
    log = tmp_path / "log"
    make_log(log, trust.signer(), 6)
    everything = LogFollower(log, after_seq=0).poll()
    later = LogFollower(log, after_seq=everything[2].seq).poll()
    assert [r.seq for r in later] == [r.seq for r in everything[3:]]


def test_it_follows_across_rotations(trust: Trust, tmp_path: Path) -> None:
    log = tmp_path / "log"
    writer = make_log(log, trust.signer(), 3, close=False, segment_records=4)
    follower = LogFollower(log, after_seq=0)
    seen = [r.seq for r in follower.poll()]
    for future in [writer.submit(entry(n)) for n in range(3, 20)]:
        future.result(timeout=10)
    writer.close()
    seen += [r.seq for r in follower.poll()]
    assert len(list((log / "segments").glob("*.jsonl"))) > 3
    assert len(seen) == 20 and seen == sorted(set(seen))


def test_a_line_being_written_waits_for_its_newline(trust: Trust, tmp_path: Path) -> None:
    log = tmp_path / "log"
    make_log(log, trust.signer(), 2)
    follower = LogFollower(log, after_seq=0)
    assert len(follower.poll()) == 2
    segment = sorted((log / "segments").glob("*.jsonl"))[-1]
    whole = segment.read_bytes().splitlines(keepends=True)[1]  # a decision line, re-added
    with segment.open("ab") as out:
        out.write(whole.replace(b'"seq":1', b'"seq":99')[:40])
    assert follower.poll() == []
    with segment.open("ab") as out:
        out.write(whole.replace(b'"seq":1', b'"seq":99')[40:])
    assert [r.seq for r in follower.poll()] == [99]


def test_entry_of_writes_the_text_once() -> None:
    transaction = {"type": "vendor_payment", "id": "tx-1", "amount": "10.00"}
    made = Entry.of(RELEASE, transaction, "APPROVE", (), ())
    assert made.transaction_json == canonical_json(transaction)
    assert made == Entry(RELEASE, canonical_json(transaction), "APPROVE", (), ())
    assert check_entry(made) is transaction
