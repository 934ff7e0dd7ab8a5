"""The service test kit's own parts that need no `mu serve`: the configuration it
writes, its receivers, its keep-alive client, its samples and its raw log reader."""

from __future__ import annotations

import json
import smtplib
import tomllib
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from mu.generator.run.enforcers import load_enforcers
from tests.conftest import REPO
from tests.servicekit import (
    SmtpCatcher,
    WebhookCatcher,
    ledger_keys,
    ledger_names,
    logged_decisions,
    numbered,
    post_json,
    sample_transactions,
    write_config,
)


def test_config_is_the_toml_the_service_reads(tmp_path: Path) -> None:
    ledger = tmp_path / "ledgers" / "sox-ledger.jsonl"
    path = write_config(
        tmp_path / "conf" / "serve.toml",
        runtime_key=tmp_path / "keys" / "runtime.pem",
        ledgers={"sox-ledger": ledger},
        smtp_port=2525,
        webhook_url="http://127.0.0.1:9/hook",
        checkpoint_every=7,
        delivery={"workers": 3},
        extra={"log": {"checkpoint_seconds": 0.5}},
    )
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    assert document["server"] == {"runtime_key": str(tmp_path / "keys" / "runtime.pem")}
    assert document["log"] == {"checkpoint_every": 7, "checkpoint_seconds": 0.5}
    assert document["delivery"]["workers"] == 3
    assert document["delivery"]["backoff_seconds"] == 0.05
    assert document["smtp"] == {
        "host": "127.0.0.1",
        "port": 2525,
        "sender": "mu-serve@acme.example",
    }
    assert document["webhook"] == {"url": "http://127.0.0.1:9/hook"}
    assert document["ledgers"] == {"sox-ledger": {"path": str(ledger)}}


def test_config_without_channels_has_no_channel_tables(tmp_path: Path) -> None:
    path = write_config(tmp_path / "serve.toml", runtime_key=tmp_path / "k.pem", ledgers={})
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    assert set(document) == {"server", "log", "delivery", "ledgers"}


def test_the_shipped_example_names_one_ledger() -> None:
    assert ledger_names(REPO) == ["sox-ledger"]


@pytest.mark.slow  # starts an SMTP server
def test_smtp_catcher_survives_an_outage_on_its_port() -> None:
    with SmtpCatcher() as catcher:
        port = catcher.port
        _send(port, "first")
        assert [m.message["Subject"] for m in catcher.wait_for(1, timeout=5)] == ["first"]
        assert catcher.mails[0].recipients == ("compliance-alerts@acme.example",)
        assert catcher.keys() == Counter({"d-1:first": 1})

        catcher.failing = True
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(port, "refused")
        assert refused.value.smtp_code == 451
        catcher.failing = False

        catcher.stop()
        with pytest.raises(ConnectionRefusedError):
            _send(port, "while down")
        catcher.start()
        _send(port, "after")
        assert catcher.port == port
        assert [m.message["Subject"] for m in catcher.wait_for(2, timeout=5)] == ["first", "after"]


def _send(port: int, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"] = "mu@acme.example", "compliance-alerts@acme.example"
    message["Subject"] = subject
    message["X-Mu-Idempotency-Key"] = f"d-1:{subject}"
    message.set_content("body")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(message)


@pytest.mark.slow  # starts an HTTP server
def test_webhook_catcher_and_the_keep_alive_client() -> None:
    with WebhookCatcher() as catcher:
        first = post_json(catcher.url, {"n": 1}, headers={"Idempotency-Key": "d-1:c"})
        assert first.status == 200
        assert catcher.wait_for(1, timeout=5)[0].json == {"n": 1}
        assert catcher.hooks[0].header("content-type") == "application/json"
        assert catcher.keys() == Counter({"d-1:c": 1})

        catcher.status = 500
        assert post_json(catcher.url, {"n": 2}).status == 500
        catcher.status = 200

        # An outage closes kept-alive connections too; after it the client notices its
        # connection is gone before sending, and opens a new one.
        catcher.stop()
        catcher.start()
        assert post_json(catcher.url, b'{"n": 3}').status == 200
        catcher.stop()
        with pytest.raises(ConnectionRefusedError):
            post_json(catcher.url, {"n": "lost"})
        catcher.start()
        assert post_json(catcher.url, '{"n": 4}').status == 200
        assert [h.json for h in catcher.wait_for(3, timeout=5)] == [{"n": 1}, {"n": 3}, {"n": 4}]


def test_samples_decide_as_the_golden_suite_says() -> None:
    samples = sample_transactions()
    assert {s.outcome for s in samples} == {"APPROVE", "REJECT", "REVIEW"}
    rejected = next(s for s in samples if s.outcome == "REJECT")
    assert "notify:notify_compliance_on_reject" in rejected.actions
    assert "ledger:audit_rejections" in rejected.actions
    module = load_enforcers(REPO / "enforcers")
    for sample in samples:
        decision = module.evaluate(numbered(sample.transaction, 3))
        assert decision.outcome == sample.outcome, sample.name
        assert {r.control_id for r in decision.reasons} >= set(sample.controls)
        assert [f"{a.kind}:{a.control_id}" for a in decision.actions] == list(sample.actions)
    assert numbered(samples[0].transaction, 3)["id"].endswith("-3")
    assert not samples[0].transaction["id"].endswith("-3")  # a copy


def test_ledger_keys_counts_repeats(tmp_path: Path) -> None:
    ledger = tmp_path / "sox-ledger.jsonl"
    assert ledger_keys(ledger) == Counter()
    lines = [{"idempotency_key": k, "ledger": "sox-ledger"} for k in ("a:x", "b:x", "a:x")]
    ledger.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    assert ledger_keys(ledger) == Counter({"a:x": 2, "b:x": 1})


def test_raw_log_reader_skips_only_a_torn_last_line(tmp_path: Path) -> None:
    segments = tmp_path / "segments"
    segments.mkdir()
    lines = [
        {"kind": "decision", "decision_id": "a"},
        {"kind": "checkpoint"},
        {"kind": "decision", "decision_id": "b"},
    ]
    (segments / "000001.jsonl").write_text(json.dumps(lines[0]) + "\n", encoding="utf-8")
    (segments / "000002.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in lines[1:]) + '{"kind": "deci', encoding="utf-8"
    )
    assert [r["decision_id"] for r in logged_decisions(tmp_path)] == ["a", "b"]
    (segments / "000001.jsonl").write_text("garbage\n" + json.dumps(lines[0]), encoding="utf-8")
    with pytest.raises(AssertionError, match="line 1"):
        logged_decisions(tmp_path)
