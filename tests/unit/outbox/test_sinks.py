"""The sinks: the ledger file (idempotent, batched), the recording sink, and what is rendered."""

from __future__ import annotations

import email
import email.policy
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mu.generator.outbox import (
    DeliveryError,
    LedgerConfig,
    LedgerSink,
    RecordingSink,
    default_sinks,
    deliveries_for,
)
from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.render import (
    email_bytes,
    email_message,
    message_id,
    plain_email,
    signature,
    webhook_body,
)
from tests.unit.outbox.helpers import LEDGER, NOTIFY, Record, config


def ledger_delivery(decision_id: str = "d-1", targets: tuple[str, ...] = ("audit",)) -> Delivery:
    action = {**LEDGER, "targets": list(targets)}
    (delivery,) = deliveries_for(Record(decision_id=decision_id, actions=(action,)), config())
    return delivery


def notify_delivery(**record: object) -> Delivery:
    action = {**NOTIFY, "after": []}
    out = deliveries_for(Record(actions=(action,), **record), config())  # type: ignore[arg-type]
    return out[0]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ledger_appends_one_line_per_idempotency_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = LedgerSink({"audit": LedgerConfig("audit", path)})
    sink.deliver(ledger_delivery("d-1"), 1.0)
    sink.deliver(ledger_delivery("d-1"), 1.0)  # a repeat after a crash
    sink.deliver(ledger_delivery("d-2"), 1.0)
    got = lines(path)
    assert [line["idempotency_key"] for line in got] == ["d-1:audit_reject", "d-2:audit_reject"]
    assert got[0]["ledger"] == "audit" and got[0]["outcome"] == "REJECT"
    # A fresh sink (a restarted service) reads the keys back from the file.
    LedgerSink({"audit": LedgerConfig("audit", path)}).deliver(ledger_delivery("d-2"), 1.0)
    assert len(lines(path)) == 2


def test_ledger_follows_appends_by_others_and_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = LedgerSink({"audit": LedgerConfig("audit", path)})
    sink.deliver(ledger_delivery("d-1"), 1.0)
    other = ledger_delivery("d-2")
    with path.open("ab") as out:  # another writer, then a crash mid-line
        out.write(json.dumps({"idempotency_key": other.idempotency_key}).encode() + b"\n")
        out.write(b'{"idempotency_key":"d-3:audit_re')
    sink.deliver(other, 1.0)  # already there: not written again
    sink.deliver(ledger_delivery("d-3"), 1.0)
    text = path.read_text().splitlines()
    assert len(text) == 4 and text[2] == '{"idempotency_key":"d-3:audit_re'
    assert json.loads(text[3])["idempotency_key"] == "d-3:audit_reject"


def test_ledger_rebuilds_its_index_when_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = LedgerSink({"audit": LedgerConfig("audit", path)})
    sink.deliver(ledger_delivery("d-1"), 1.0)
    path.rename(tmp_path / "audit.jsonl.1")  # rotated
    sink.deliver(ledger_delivery("d-1"), 1.0)
    assert len(lines(path)) == 1


def test_ledger_errors(tmp_path: Path) -> None:
    sink = LedgerSink({"audit": LedgerConfig("audit", tmp_path / "missing" / "audit.jsonl")})
    with pytest.raises(DeliveryError, match="cannot open the ledger `audit`"):
        sink.deliver(ledger_delivery(), 1.0)
    with pytest.raises(DeliveryError, match="`sox` is not configured"):
        sink.deliver(ledger_delivery(targets=("sox",)), 1.0)
    with pytest.raises(DeliveryError, match="names no ledger"):
        sink.deliver(ledger_delivery(targets=()), 1.0)


def test_ledger_file_is_not_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    LedgerSink({"audit": LedgerConfig("audit", path)}).deliver(ledger_delivery(), 1.0)
    assert os.stat(path).st_mode & 0o007 == 0


def test_email_rendering() -> None:
    delivery = notify_delivery(transaction={"id": "tx-1\r\nBcc: evil@example.com",
                                            "type": "payment"})
    msg = email_message(delivery, "mu@example.com")
    parsed = email.message_from_bytes(msg.as_bytes())
    assert parsed["From"] == "mu@example.com"
    assert parsed["To"] == "compliance@example.com"
    assert parsed["Bcc"] is None  # the line break was escaped, not obeyed
    assert "REJECT" in parsed["Subject"] and "notify_compliance" in parsed["Subject"]
    assert parsed["X-Mu-Idempotency-Key"] == "d-1:notify_compliance"
    assert parsed["Message-ID"] == message_id(delivery, "mu@example.com")
    assert parsed["Message-ID"].endswith("@example.com>")
    assert "d-1:notify_compliance" in parsed.get_payload()
    # The same action always has the same Message-ID; another action another one.
    other = deliveries_for(Record(decision_id="d-2", actions=({**NOTIFY, "after": []},)),
                           config())[0]
    assert message_id(other, "mu@example.com") != parsed["Message-ID"]


def test_webhook_body_and_signature() -> None:
    delivery = notify_delivery()
    body = webhook_body(delivery)
    data = json.loads(body)
    assert data["channel"] == "smtp" and data["idempotency_key"] == "d-1:notify_compliance"
    assert signature(b"k", body).startswith("sha256=") and len(signature(b"k", body)) == 71


def test_recording_sink_renders_and_records() -> None:
    sink = RecordingSink()
    for delivery in deliveries_for(Record(actions=(LEDGER, NOTIFY)), config()):
        sink.deliver(delivery, 1.0)
    kinds = [(r.delivery.channel, r.rendered[:1]) for r in sink.records]
    assert [k for k, _ in kinds] == ["ledger", "smtp", "webhook"]
    assert sink.records[1].rendered.startswith(b"From:") or b"Subject:" in sink.records[1].rendered
    assert len(sink.deliveries()) == 3
    bad = Delivery(**{**notify_delivery().__dict__, "targets": ("a,b@example.com",)})
    with pytest.raises(DeliveryError):
        sink.deliver(bad, 1.0)


def test_default_sinks_follow_the_configuration() -> None:
    assert sorted(default_sinks(config())) == ["ledger", "smtp", "webhook"]
    assert sorted(default_sinks(config(smtp=False, webhook=False))) == ["ledger"]


def test_ledger_batch_is_one_write_and_one_fsync_per_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit, sox = tmp_path / "audit.jsonl", tmp_path / "sox.jsonl"
    sink = LedgerSink({"audit": LedgerConfig("audit", audit), "sox": LedgerConfig("sox", sox)})
    sink.deliver(ledger_delivery("d-0"), 1.0)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    batch = [ledger_delivery(f"d-{n}") for n in range(5)]  # d-0 is there already
    batch += [ledger_delivery("d-1"), ledger_delivery("d-9", ("audit", "sox")),
              ledger_delivery("d-8", ("nowhere",)), ledger_delivery("d-7", ())]
    errors = sink.deliver_many(batch, 1.0)
    assert [str(e) if e else None for e in errors[:7]] == [None] * 7
    assert "`nowhere` is not configured" in str(errors[7])
    assert "names no ledger" in str(errors[8])
    assert len(synced) == 2  # audit and sox, once each
    keys = [line["idempotency_key"] for line in lines(audit)]
    assert keys == [f"d-{n}:audit_reject" for n in (0, 1, 2, 3, 4, 9)]
    assert [line["ledger"] for line in lines(sox)] == ["sox"]
    assert sink.deliver_many(batch[:5], 1.0) == [None] * 5 and len(synced) == 2  # all there


def test_ledger_batch_write_error_fails_only_that_ledger(tmp_path: Path) -> None:
    sink = LedgerSink({"audit": LedgerConfig("audit", tmp_path / "audit.jsonl"),
                       "gone": LedgerConfig("gone", tmp_path / "missing" / "gone.jsonl")})
    errors = sink.deliver_many([ledger_delivery("d-1"), ledger_delivery("d-2", ("gone",)),
                                ledger_delivery("d-3", ("audit", "gone"))], 1.0)
    assert errors[0] is None
    assert all("cannot open the ledger `gone`" in str(e) for e in errors[1:])
    # d-3 reached audit; its retry finds it there and writes only to `gone`.
    assert len(lines(tmp_path / "audit.jsonl")) == 2


def plain_and_packaged(delivery: Delivery) -> tuple[bytes | None, bytes]:
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    packaged = email_message(delivery, "mu@example.com", now=now).as_bytes(
        policy=email.policy.SMTP)
    return plain_email(delivery, "mu@example.com", now=now), packaged


@pytest.mark.parametrize("transaction", [
    {"id": "tx-1", "type": "payment"},
    {"id": "tx-1\r\nBcc: evil@example.com", "type": "payment"},
    {"id": "123e4567-e89b-12d3-a456-426614174000 " * 4, "type": "wire  transfer"},
    {"id": "x" * 250, "type": "payment"},
])
def test_plain_email_is_the_packaged_message(transaction: dict[str, str]) -> None:
    action = {**NOTIFY, "after": [], "targets": ["a@example.com", "b.c+d@ex-ample.org"]}
    (delivery, _) = deliveries_for(Record(actions=(action,), transaction=transaction), config())
    plain, packaged = plain_and_packaged(delivery)
    assert plain is not None
    lines_ = plain.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines_) and b"\n" not in plain.replace(b"\r\n", b"")
    header_lines = lines_[: lines_.index(b"")]
    assert all(len(line) <= 78 or b" " not in line.strip() for line in header_lines)
    ours = email.message_from_bytes(plain, policy=email.policy.default)
    theirs = email.message_from_bytes(packaged, policy=email.policy.default)
    assert [(k, v) for k, v in ours.items() if k != "Content-Transfer-Encoding"] == [
        (k, v) for k, v in theirs.items() if k != "Content-Transfer-Encoding"]
    assert ours["Bcc"] is None and ours.get_content() == theirs.get_content()
    assert email_bytes(delivery, "mu@example.com").startswith(b"From: mu@example.com\r\n")


@pytest.mark.parametrize(("targets", "transaction"), [
    (["ü@example.com"], {"id": "tx-1", "type": "payment"}),
    (["a@example.com"], {"id": "tëst", "type": "payment"}),
    (["a@example.com"], {"id": "=?utf-8?q?=0D=0ABcc:_x?=", "type": "payment"}),
    (["a@example.com"], {"id": "x" * 1200, "type": "payment"}),
])
def test_what_needs_encoding_is_left_to_the_email_package(
    targets: list[str], transaction: dict[str, str]
) -> None:
    action = {**NOTIFY, "after": [], "targets": targets}
    (delivery, _) = deliveries_for(Record(actions=(action,), transaction=transaction), config())
    plain, packaged = plain_and_packaged(delivery)
    assert plain is None
    assert email.message_from_bytes(email_bytes(delivery, "mu@example.com"))["Subject"]
    assert packaged
