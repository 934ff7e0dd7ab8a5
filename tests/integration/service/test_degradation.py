"""Runbook scenario 3.2 against a real `mu serve`: the mail server is down for a while and
the ledger cannot be written. Decisions keep their latency, an alert waits for the
ledger entry it points at (SPEC §3), everything is delivered after recovery, and
`mu actions status` says how late and after how many attempts."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.chain import Built
from tests.conftest import Run
from tests.servicekit import (
    MuServer,
    SmtpCatcher,
    WebhookCatcher,
    action_keys,
    ledger_keys,
    numbered,
    post_json,
    sample_transactions,
    served,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow
ALERT = "notify_compliance_on_reject"  # dependsOn audit_rejections, a ledger write


def _status(mu: Callable[..., Run], root: Path, log_dir: Path) -> dict:  # type: ignore[type-arg]
    run = mu("actions", "status", "--log", str(log_dir), "--format", "json", root=root)
    assert run.code in (0, 1), run.out + run.err
    return json.loads(run.out)  # type: ignore[no-any-return]


def test_outages_never_slow_a_decision_and_every_action_arrives_in_order(
    tmp_path: Path, built: Built, mu: Callable[..., Run]
) -> None:
    s = served(tmp_path, built, mu)
    # The ledger's directory is missing: every append fails until it exists.
    broken = {name: tmp_path / "ledgers-down" / path.name for name, path in s.ledgers.items()}
    ledger_file = next(iter(broken.values()))
    smtp = SmtpCatcher()  # reserves a port, but nothing listens yet: the mail server is down
    with WebhookCatcher() as hook:
        config = write_config(
            tmp_path / "serve.toml", runtime_key=s.runtime_key, ledgers=broken,
            smtp_port=smtp.port, webhook_url=hook.url,
        )
        with MuServer.of(s, config) as server:
            # Baseline: one answer before anything failed to deliver.
            answers = []
            seconds = []
            for n, sample in enumerate(sample_transactions() * 5):
                started = time.perf_counter()
                answer = post_json(server.url + "/v1/decide", numbered(sample.transaction, n))
                seconds.append(time.perf_counter() - started)
                assert answer.status == 200, answer.text
                answers.append(answer)
            # Deliveries time out and fail behind the answers, never in front of them.
            # Not a benchmark: a decision blocked by a 2 s SMTP timeout would take seconds.
            assert max(seconds) < 1.0, seconds
            print(f"latency while degraded: p50 {statistics.median(seconds) * 1000:.1f} ms, "
                  f"max {max(seconds) * 1000:.1f} ms over {len(seconds)} decisions")

            alerts = {k for k in action_keys(answers, "notify") if k.endswith(":" + ALERT)}
            assert alerts
            time.sleep(3)  # several attempts of every failing delivery
            status = _status(mu, s.root, s.log_dir)
            held = {h["key"].split("/")[0] for h in status["held"]}
            # The alerts point at ledger entries that do not exist yet: held, not sent.
            assert alerts <= held, status["held"]
            assert not alerts & set(hook.keys())
            # Notifications that depend on nothing failing went out by webhook already.
            independent = action_keys(answers, "notify") - alerts
            assert independent <= set(hook.keys())

            # Recovery: the mail server comes back, the ledger directory is created.
            smtp.start()
            ledger_file.parent.mkdir()
            notify, ledger = action_keys(answers, "notify"), action_keys(answers, "ledger")
            smtp.wait_for(len(notify), timeout=60)
            hook.wait_for(len(notify), timeout=60)
            wait_until(
                lambda: set(ledger_keys(ledger_file)) >= ledger, 60,
                lambda: f"ledger holds {len(ledger_keys(ledger_file))} of {len(ledger)}",
            )
            status = _status(mu, s.root, s.log_dir)
        smtp.stop()

    assert set(smtp.keys()) == notify and set(smtp.keys().values()) == {1}
    assert set(hook.keys()) == notify and set(hook.keys().values()) == {1}
    assert set(ledger_keys(ledger_file).values()) == {1}
    assert status["totals"]["pending"] == 0
    assert status["totals"]["dead"] == 0 and status["totals"]["held"] == 0
    recovered = {r["key"]: r for r in status["recovered"]}
    # The records say how: more than one attempt, and how late.
    assert any(r["channel"] == "ledger" and r["attempts"] > 1 for r in recovered.values())
    assert any(r["channel"] == "smtp" and r["late_seconds"] > 1 for r in recovered.values())
    # Each alert was delivered after the ledger entry it depends on.
    for alert in alerts:
        decision = alert.rsplit(":", 1)[0]
        ledger_at = recovered[f"{decision}:audit_rejections/ledger"]["delivered_at"]
        for channel in ("smtp", "webhook"):
            alert_at = recovered.get(f"{alert}/{channel}")
            if alert_at is not None:
                assert alert_at["delivered_at"] >= ledger_at
    text = mu("actions", "status", "--log", str(s.log_dir), root=s.root)
    assert "attempts" in text.out
