"""`mu serve` end to end, as an operator runs it (issue 12's first "done when").

A real `mu serve` child on 127.0.0.1, a real SMTP server (aiosmtpd) and a real
webhook receiver: decisions are posted over HTTP, answered with their release,
logged, and their actions delivered once per idempotency key.
"""

from __future__ import annotations

import json
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
    get,
    ledger_keys,
    logged_decisions,
    numbered,
    post_json,
    sample_transactions,
    served,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow


def test_decisions_are_answered_logged_and_their_actions_delivered_once(
    tmp_path: Path, built: Built, mu: Callable[..., Run]
) -> None:
    s = served(tmp_path, built, mu)
    with SmtpCatcher() as smtp, WebhookCatcher() as hook:
        config = write_config(
            tmp_path / "serve.toml",
            runtime_key=s.runtime_key,
            ledgers=s.ledgers,
            smtp_port=smtp.port,
            webhook_url=hook.url,
        )
        with MuServer.of(s, config) as server:
            health = get(server.url + "/v1/health")
            assert health.status == 200, health.text
            assert health.json["release"] == s.release

            answers = []
            for n, sample in enumerate(sample_transactions() * 2):
                answer = post_json(server.url + "/v1/decide", numbered(sample.transaction, n))
                assert answer.status == 200, answer.text
                assert answer.json["outcome"] == sample.outcome
                assert answer.json["release"] == s.release
                got = [f"{a['kind']}:{a['control_id']}" for a in answer.json["actions"]]
                assert got == list(sample.actions)
                answers.append(answer)

            invalid = post_json(server.url + "/v1/decide", {"id": "tx-bad", "type": "wire"})
            assert invalid.status == 422
            assert invalid.json["problems"]
            # A duplicate key is refused, not resolved (SPEC §3).
            dup = post_json(server.url + "/v1/decide", b'{"id": "a", "id": "b"}')
            assert dup.status == 422

            notify = action_keys(answers, "notify")
            ledger = action_keys(answers, "ledger")
            assert notify and ledger
            smtp.wait_for(len(notify))
            hook.wait_for(len(notify))
            ledger_file = next(iter(s.ledgers.values()))
            wait_until(
                lambda: set(ledger_keys(ledger_file)) >= ledger,
                30,
                lambda: f"ledger holds {sorted(ledger_keys(ledger_file))}",
            )
            metrics = get(server.url + "/metrics")
            assert metrics.status == 200
            assert 'mu_decisions_total{outcome="REJECT"}' in metrics.text
            assert "mu_decision_seconds_bucket" in metrics.text
        # Stopped gracefully: the log closes with a signed checkpoint.

    mail_keys, hook_keys = smtp.keys(), hook.keys()
    assert set(mail_keys) == notify and set(mail_keys.values()) == {1}
    assert set(hook_keys) == notify and set(hook_keys.values()) == {1}
    assert set(ledger_keys(ledger_file)) == ledger
    assert set(ledger_keys(ledger_file).values()) == {1}

    logged = {r["decision_id"]: r for r in logged_decisions(s.log_dir)}
    for answer in answers:
        record = logged[answer.json["decision_id"]]
        assert record["outcome"] == answer.json["outcome"]
        assert record["release"] == s.release
    verified = mu("decisions", "verify", str(s.log_dir), "--format", "json", root=s.root)
    assert verified.code == 0, verified.out + verified.err
    assert json.loads(verified.out)["ok"] is True
    status = mu("actions", "status", "--log", str(s.log_dir), root=s.root)
    assert status.code == 0, status.out + status.err
