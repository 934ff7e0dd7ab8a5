"""The decision endpoints in process: a real log, real workers with recording sinks, and
the repository's own enforcer package as the loaded release (no build, so fast).

End to end with a deployed, verified release and a `mu serve` child is
`tests/integration/service/`."""

from __future__ import annotations

import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mu.generator.decisionlog import LogFollower, LogWriter, read_records
from mu.generator.layout import Layout
from mu.generator.outbox import (
    DeliveryConfig,
    LedgerConfig,
    Outbox,
    RecordingSink,
    SmtpConfig,
    Supervisor,
    deliveries_for,
)
from mu.generator.run.enforcers import load_enforcers
from mu.generator.service.app import Service, make_app
from mu.generator.service.metrics import Metrics
from mu.generator.service.release import Release, Releases
from mu.generator.service.server import outbox_path

REPO = Path(__file__).resolve().parents[3]
RELEASE = "ab" * 32


def _cases() -> dict[str, dict[str, Any]]:
    with (REPO / "golden" / "notifications_audit.toml").open("rb") as handle:
        return {c["id"]: c for c in tomllib.load(handle)["case"]}


@dataclass
class Running:
    client: TestClient
    service: Service
    writer: LogWriter
    log_dir: Path
    sinks: dict[str, RecordingSink]
    delivery: DeliveryConfig
    supervisor: Supervisor


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    package = load_enforcers(REPO / "enforcers")
    releases = Releases(Layout(REPO), tmp_path / "nothing-deployed", None)
    releases.current = Release(
        path=REPO / "enforcers", digest=RELEASE, sequence=7, package=package,
        after=package.dispatch.ENGINE.after,
    )
    releases.refusal = None
    log_dir = tmp_path / "log"
    ledger = LedgerConfig("sox-ledger", tmp_path / "sox.jsonl")
    smtp = SmtpConfig("127.0.0.1", "mu@localhost")
    delivery = DeliveryConfig(ledgers={"sox-ledger": ledger}, smtp=smtp)
    writer = LogWriter(log_dir, signer=None)
    writer.open()
    sinks = {"ledger": RecordingSink(), "smtp": RecordingSink()}
    supervisor = Supervisor(outbox_path(log_dir), delivery, sinks=dict(sinks))
    supervisor.start()
    service: Service | None = None
    metrics = Metrics(outbox=lambda: {}, log_seq=lambda: writer.last_seq,
                      healthy=lambda: service is not None and not service.problems())
    service = Service(releases, writer, supervisor, metrics, max_body_bytes=4096)
    try:
        yield Running(TestClient(make_app(service)), service, writer, log_dir, sinks, delivery,
                  supervisor)
    finally:
        writer.close()
        supervisor.stop(timeout=5)


def test_a_decision_names_its_release_and_is_logged_before_the_answer(running: Running) -> None:
    case = _cases()["actions_vendor_reject_ledger_then_alert"]
    answer = running.client.post("/v1/decide", json=case["transaction"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "REJECT" and body["release"] == RELEASE
    # The alert waits for the ledger entry it points at (SPEC §3).
    after = {a["control_id"]: a["after"] for a in body["actions"]}
    assert after["notify_compliance_on_reject"] == ["audit_rejections"]
    (record,) = list(read_records(running.log_dir))
    assert record.decision_id == body["decision_id"]
    assert (record.outcome, record.release) == ("REJECT", RELEASE)
    assert record.transaction == case["transaction"]


def test_an_invalid_transaction_is_a_422_naming_every_problem(running: Running) -> None:
    answer = running.client.post("/v1/decide", json={"id": "tx", "type": "vendor_payment"})
    assert answer.status_code == 422
    fields = {p["field"] for p in answer.json()["problems"]}
    assert {"amount", "currency", "approver.id"} <= fields
    assert list(read_records(running.log_dir)) == []


@pytest.mark.parametrize(
    "body",
    [b'{"id": "a", "id": "b"}', b"[1, 2]", b"not json", b"\xff\xfe", b'{"amount": NaN}'],
)
def test_malformed_bodies_are_refused_never_decided(running: Running, body: bytes) -> None:
    answer = running.client.post("/v1/decide", content=body)
    assert answer.status_code == 422
    assert "outcome" not in answer.json()


def test_a_body_over_the_limit_is_a_413(running: Running) -> None:
    answer = running.client.post("/v1/decide", content=b"{" + b" " * 5000 + b"}")
    assert answer.status_code == 413


def test_without_a_verified_release_nothing_is_decided(running: Running) -> None:
    running.service.releases.current = None
    running.service.releases.refusal = None
    case = _cases()["actions_vendor_approve_audit_only"]
    assert running.client.post("/v1/decide", json=case["transaction"]).status_code == 503
    health = running.client.get("/v1/health")
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"


def test_a_log_that_cannot_write_refuses_the_decision(running: Running) -> None:
    running.writer.close()
    case = _cases()["actions_vendor_approve_audit_only"]
    answer = running.client.post("/v1/decide", json=case["transaction"])
    assert answer.status_code == 503
    assert "outcome" not in answer.json()
    assert running.client.get("/v1/health").status_code == 503


def test_health_and_metrics(running: Running) -> None:
    health = running.client.get("/v1/health")
    assert health.status_code == 200, health.text
    assert health.json()["release"] == RELEASE
    case = _cases()["actions_vendor_approve_audit_only"]
    running.client.post("/v1/decide", json=case["transaction"])
    text = running.client.get("/metrics").text
    assert 'mu_decisions_total{outcome="APPROVE"} 1.0' in text
    assert "mu_ready 1.0" in text


def test_actions_reach_the_sinks_through_the_log(running: Running) -> None:
    """What the delivery process does, in process: follow the log, enqueue, deliver."""
    case = _cases()["actions_vendor_reject_ledger_then_alert"]
    answer = running.client.post("/v1/decide", json=case["transaction"]).json()
    expected = {a["control_id"] for a in answer["actions"]}
    outbox = Outbox.open(outbox_path(running.log_dir))
    follower = LogFollower(running.log_dir, after_seq=outbox.high_water())
    records = follower.poll()
    assert [r.decision_id for r in records] == [answer["decision_id"]]
    outbox.enqueue(
        [d for r in records for d in deliveries_for(r, running.delivery)], records[-1].seq
    )
    outbox.close()
    running.supervisor.wake()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = {r.delivery.control_id for s in running.sinks.values() for r in s.records}
        if got >= expected:
            break
        time.sleep(0.05)
    assert got >= expected
