"""The writer: group commit, rotation, checkpoints, recovery after a crash, failures."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from mu.generator.decisionlog import (
    Committed,
    LogClosed,
    LogWriter,
    canonical_json,
    read_records,
    verify_log,
)
from mu.generator.decisionlog import writer as writer_module
from mu.generator.errors import CheckFailed
from tests.unit.decisionlog.conftest import (
    Trust,
    all_lines,
    entry,
    lines,
    make_log,
    record,
    write_lines,
)


def test_round_trip(tmp_path: Path, trust: Trust) -> None:
    log = tmp_path / "log"
    writer = LogWriter(log, signer=trust.signer())
    recovery = writer.open()
    assert recovery.created and recovery.clean and recovery.last_seq == 0
    results = [writer.submit(entry(n)).result(timeout=10) for n in range(5)]
    writer.close()
    assert [r.seq for r in results] == [1, 2, 3, 4, 5]
    assert results[0].decision_id == f"{writer.log_id}-1"
    assert not writer.alive
    read = list(read_records(log))
    assert read == results
    assert list(read_records(log, after_seq=3)) == results[3:]
    kinds = [(line["kind"], line.get("reason")) for line in all_lines(log)]
    assert kinds[0] == ("genesis", None) and kinds[-1] == ("checkpoint", "shutdown")
    verdict = verify_log(log, trust.history)
    assert verdict.ok, verdict.problems
    assert (verdict.records, verdict.decisions, verdict.checkpoints) == (7, 5, 1)
    assert verdict.covered_seq == 5 and verdict.first_bad_seq is None


def test_decimals_are_logged_exactly(tmp_path: Path, trust: Trust) -> None:
    amounts = [Decimal("105000.10"), Decimal("1E+5"), Decimal("-0.0"), 10**30]
    log = tmp_path / "log"
    writer = LogWriter(log, signer=trust.signer())
    writer.open()
    committed = writer.submit(entry(1, amount=amounts)).result(timeout=10)
    writer.close()
    assert committed.transaction["amount"] == amounts
    (back,) = read_records(log)
    assert [str(a) for a in back.transaction["amount"]] == [str(a) for a in amounts]
    assert b'"amount":[105000.10,1E+5,-0.0,1000000000000000000000000000000]' in lines(log)[1]
    assert verify_log(log, trust.history).ok


def test_group_commit_keeps_order_under_concurrent_submitters(tmp_path: Path) -> None:
    batches: list[list[int]] = []

    def on_commit(batch: Sequence[Committed]) -> None:
        batches.append([r.seq for r in batch])

    writer = LogWriter(tmp_path / "log", signer=None, on_commit=on_commit)
    writer.open()
    per_thread: dict[int, list[int]] = {}

    def submitter(index: int) -> None:
        futures = [writer.submit(entry(n)) for n in range(150)]
        per_thread[index] = [f.result(timeout=20).seq for f in futures]

    threads = [threading.Thread(target=submitter, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    seqs = sorted(s for got in per_thread.values() for s in got)
    assert seqs == list(range(1, 8 * 150 + 1))
    for got in per_thread.values():
        assert got == sorted(got)  # each thread's records in the order it submitted them
    flat = [s for batch in batches for s in batch]
    assert flat == seqs and len(batches) < len(seqs)  # grouped, in order, each once
    assert [line["seq"] for line in all_lines(tmp_path / "log")] == list(range(len(seqs) + 1))


def test_checkpoints_every_n_and_after_an_interval(tmp_path: Path, trust: Trust) -> None:
    log = tmp_path / "log"
    writer = make_log(
        log, trust.signer(), 7, close=False, checkpoint_every=3, checkpoint_seconds=0.05
    )
    deadline = time.monotonic() + 5
    while all_lines(log)[-1]["kind"] != "checkpoint" and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.close()
    kinds = [line.get("reason", line["kind"]) for line in all_lines(log)]
    # The 7th decision is covered by time; none waits for more than 3 others.
    assert kinds[-3:] == ["decision", "interval", "shutdown"]
    runs = "".join("d" if k == "decision" else "|" for k in kinds).split("|")
    assert max(len(run) for run in runs) <= 3 and kinds.count("decision") == 7
    assert verify_log(log, trust.history).ok


def test_rotation_keeps_the_chain(tmp_path: Path, trust: Trust) -> None:
    log = tmp_path / "log"
    make_log(log, trust.signer(), 20, segment_records=6)
    segments = sorted(p.name for p in (log / "segments").iterdir())
    assert segments == [f"{n:06d}.jsonl" for n in range(1, 5)]  # 5 + 6 + 6 + 3 decisions
    for n in range(1, 4):
        last = record(lines(log, n)[-1])
        assert (last["kind"], last["reason"]) == ("checkpoint", "rotation")
        assert len(lines(log, n)) == 7
    verdict = verify_log(log, trust.history)
    assert verdict.ok, verdict.problems
    assert verdict.segments == 4 and verdict.decisions == 20
    assert next(r.seq for r in read_records(log, after_seq=15)) > 15
    assert len(list(read_records(log, after_seq=0))) == 20


def test_rotation_without_a_signer(tmp_path: Path) -> None:
    log = tmp_path / "log"
    make_log(log, None, 9, segment_records=4)
    assert [line["seq"] for line in all_lines(log)] == list(range(10))
    assert len(lines(log, 1)) == 4
    assert len(list(read_records(log))) == 9


def test_reopening_a_clean_log_continues_it(tmp_path: Path, trust: Trust) -> None:
    log = tmp_path / "log"
    first = make_log(log, trust.signer(), 3)
    writer = LogWriter(log, signer=trust.signer())
    recovery = writer.open()
    assert recovery.clean and not recovery.created and recovery.checkpoint is None
    assert writer.log_id == first.log_id and recovery.decisions == 3
    assert writer.submit(entry(9)).result(timeout=10).seq == recovery.last_seq + 1
    writer.close()
    assert verify_log(log, trust.history).ok


def crashed_copy(tmp_path: Path, writer: LogWriter) -> Path:
    """The log as a crash would leave it: a copy taken while `writer` is running."""
    copy = tmp_path / "crashed"
    shutil.copytree(writer.directory / "segments", copy / "segments")
    return copy


def test_recovery_after_a_crash(tmp_path: Path, trust: Trust) -> None:
    writer = make_log(tmp_path / "log", trust.signer(), 10, close=False, checkpoint_every=4)
    log = crashed_copy(tmp_path, writer)
    writer.close()
    before = verify_log(log, trust.history)
    assert not before.ok and before.first_bad_seq == 11  # 8 decisions + 2 checkpoints covered
    assert "not covered by a signed checkpoint" in before.problems[0].message
    assert verify_log(log, trust.history, live=True).ok
    with (log / "segments" / "000001.jsonl").open("ab") as handle:
        handle.write(b'{"actions":[],"decision_id":"half a reco')
    reopened = LogWriter(log, signer=trust.signer())
    recovery = reopened.open()
    assert not recovery.clean
    assert (recovery.uncovered_from, recovery.uncovered_records) == (11, 2)
    assert recovery.dropped_bytes == 40 and recovery.checkpoint == 13
    reopened.submit(entry(1)).result(timeout=10)
    reopened.close()
    verdict = verify_log(log, trust.history)
    assert verdict.ok, verdict.problems
    assert any("recovery checkpoint" in note for note in verdict.notes)
    predicate = all_lines(log)[13]
    assert predicate["reason"] == "recovery"


def test_recovery_after_a_crash_right_after_rotation(tmp_path: Path, trust: Trust) -> None:
    log = tmp_path / "log"
    make_log(log, trust.signer(), 12, segment_records=5)
    # The crash came after the rotation checkpoint ending segment 2, before segment 3.
    (log / "segments" / "000003.jsonl").unlink()
    ended = verify_log(log, trust.history)
    assert (
        not ended.ok and "segment `000003.jsonl` after it is missing" in ended.problems[0].message
    )
    assert ended.first_bad_seq == ended.last_seq + 1
    writer = LogWriter(log, signer=trust.signer())
    recovery = writer.open()
    writer.close()
    assert recovery.segment == 3 and recovery.uncovered_from is None and not recovery.clean
    first = record(lines(log, 3)[0])
    assert (first["kind"], first["reason"]) == ("checkpoint", "recovery")
    assert verify_log(log, trust.history).ok


def test_recovery_without_a_signer_writes_no_checkpoint(tmp_path: Path) -> None:
    writer = make_log(tmp_path / "log", None, 3, close=False)
    log = crashed_copy(tmp_path, writer)
    writer.close()
    with (log / "segments" / "000001.jsonl").open("ab") as handle:
        handle.write(b"{")
    reopened = LogWriter(log, signer=None)
    recovery = reopened.open()
    reopened.close()
    assert recovery.dropped_bytes == 1 and recovery.checkpoint is None
    assert recovery.uncovered_from == 0 and recovery.uncovered_records == 3
    assert [line["kind"] for line in all_lines(log)] == ["genesis"] + ["decision"] * 3


def test_a_torn_genesis_starts_a_new_log(tmp_path: Path) -> None:
    log = tmp_path / "log"
    (log / "segments").mkdir(parents=True)
    (log / "segments" / "000001.jsonl").write_bytes(b'{"format":1,"ki')
    writer = LogWriter(log, signer=None)
    recovery = writer.open()
    writer.close()
    assert recovery.created and recovery.dropped_bytes == 15
    assert all_lines(log)[0]["kind"] == "genesis"


def test_a_broken_tail_is_refused(tmp_path: Path, trust: Trust) -> None:
    log = tmp_path / "log"
    make_log(log, trust.signer(), 4)
    data = lines(log)
    data[2] = data[2].replace(b'"outcome":"REJECT"', b'"outcome":"APPROVE"')
    write_lines(log, data)
    with pytest.raises(CheckFailed, match="is broken") as caught:
        LogWriter(log, signer=trust.signer()).open()
    assert "mu decisions verify" in caught.value.hint
    # The refusal released the lock: after moving the log aside, a new one starts there.
    shutil.move(log, tmp_path / "aside")
    assert LogWriter(log, signer=None).open().created


def test_a_missing_middle_segment_is_refused(tmp_path: Path, trust: Trust) -> None:
    log = tmp_path / "log"
    make_log(log, trust.signer(), 12, segment_records=5)
    (log / "segments" / "000002.jsonl").unlink()
    with pytest.raises(CheckFailed, match=r"000002\.jsonl"):
        LogWriter(log, signer=trust.signer()).open()


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "log", signer=None)
    writer.open()
    with pytest.raises(CheckFailed, match="another process is writing"):
        LogWriter(tmp_path / "log", signer=None).open()
    writer.close()
    writer.close()  # idempotent
    future = writer.submit(entry(1))
    with pytest.raises(LogClosed):
        future.result(timeout=1)


def test_a_failing_fsync_fails_the_batch_and_stops_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = LogWriter(tmp_path / "log", signer=None)
    writer.open()
    assert writer.alive

    def broken(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer_module, "sync", broken)
    with pytest.raises(LogClosed, match="No space left"):
        writer.submit(entry(1)).result(timeout=10)
    assert not writer.alive and isinstance(writer.failure, OSError)
    with pytest.raises(LogClosed):
        writer.submit(entry(2)).result(timeout=1)
    writer.close()


def test_a_failing_on_commit_fails_the_batch(tmp_path: Path) -> None:
    def refuse(batch: Sequence[Committed]) -> None:
        raise RuntimeError("outbox down")

    writer = LogWriter(tmp_path / "log", signer=None, on_commit=refuse)
    writer.open()
    with pytest.raises(LogClosed, match="outbox down"):
        writer.submit(entry(1)).result(timeout=10)
    assert not writer.alive
    writer.close()


def test_submit_refuses_a_broken_entry(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "log", signer=None)
    writer.open()
    bad = entry(1)
    with pytest.raises(ValueError, match="canonical"):
        writer.submit(type(bad)(bad.release, '{"b":1,"a":2}', "APPROVE", (), ()))
    writer.close()
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_on_commit_sees_durable_records_before_anyone_is_answered(
    tmp_path: Path, trust: Trust
) -> None:
    seen: set[int] = set()
    holder: list[LogWriter] = []

    def on_commit(batch: Sequence[Committed]) -> None:
        assert holder[0].last_seq >= max(r.seq for r in batch)  # written and fsynced first
        assert all(r.decision_id.endswith(f"-{r.seq}") for r in batch)
        seen.update(r.seq for r in batch)

    writer = LogWriter(
        tmp_path / "log", signer=trust.signer(), checkpoint_every=5, on_commit=on_commit
    )
    holder.append(writer)
    writer.open()

    def submitter() -> None:
        for n in range(40):
            record = writer.submit(entry(n)).result(timeout=10)
            assert record.seq in seen

    threads = [threading.Thread(target=submitter) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert len(seen) == 160
    verdict = verify_log(tmp_path / "log", trust.history)
    assert verdict.ok and verdict.decisions == 160 and verdict.checkpoints >= 32


def test_read_records_refuses_a_damaged_line(tmp_path: Path) -> None:
    log = tmp_path / "log"
    make_log(log, None, 3)
    data = lines(log)
    write_lines(log, [*data[:2], b"{not json\n", *data[3:]])
    with pytest.raises(CheckFailed, match="line 3 is not JSON"):
        list(read_records(log))
    write_lines(log, [*data, b'{"seq":4,"kind":"dec'])  # a write in progress ends the records
    assert [r.seq for r in read_records(log)] == [1, 2, 3]
