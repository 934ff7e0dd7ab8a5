"""Job 3, "my operations team is never surprised by a control failure": scenarios 3.1
(diagnosis) and 3.2 (graceful degradation of the decision service, on the kit of
`tests/servicekit.py` that `tests/integration/service/test_degradation.py` also uses)."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from tests.chain import Built
from tests.conftest import mu_process, run_mu
from tests.e2e.kit import TX_105K_L2, Stopwatch, mu_json, mu_ok, statement, write_transaction
from tests.servicekit import (
    MuServer,
    SmtpCatcher,
    action_keys,
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


def test_3_1_a_wrong_production_decision_is_traced_to_its_layer(
    built: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 3.1, control failure diagnosis.

    Given receipt 0001 deployed to production, whose rule says a vendor payment over
    100,000.00 USD needs an L3+ approver, and an alert that production APPROVED
    105,000.00 approved by an L2; when operations takes the receipt of the deployed
    release, replays it against the deployed bytes, runs the golden case
    `transaction_105k_L2_actor` and the transaction itself against the deployed A, and
    asks `mu diagnose --receipt R --transaction TX --observed APPROVE --deployed PROD`;
    then:

    - "the enforcer is correct, the failure is not in generated code": the replay
      passes against the deployed bytes, the golden case passes on them, and the
      deployed A, the A replayed from the receipt and the ontology's reference
      evaluator all REJECT, with no drifted file;
    - escalation names the layer, not a person: mu tells four layers apart (ontology,
      generator, deployment, runtime); here every evaluator agrees, so the verdict is
      `runtime` (the integration called something else or ignored the answer) with its
      escalation path and the control's owners — the generated code and the
      deployment are cleared by evidence;
    - Fault Containment: mu's equivalent is that verdict: exactly one layer, chosen by
      comparing evaluators, not by debugging control logic;
    - root-cause search, "did O or the generator change?": the replay's ontology
      digest comparison passes and the receipt pins the generator (name, version,
      source sha256) that the running mu reports;
    - the auditor's "operated as designed": the same diagnosis with what production
      should have said (REJECT) is `ontology` — the policy says so.
    """
    root = built.root
    receipt = built.receipt
    production = tmp_path / "srv" / "production"
    mu_json("deploy", "--receipt", str(receipt), "--target", str(production), cwd=root)
    # Step 1: the receipt of what runs there, from the deployment record.
    record = json.loads((production.parent / "production.deploy.json").read_text())
    assert Path(record["current"]["receipt"]) == receipt
    tx = write_transaction(tmp_path / "tx.json", TX_105K_L2)

    with stopwatch("diagnosis"):
        replay = mu_json("replay", "--receipt", str(receipt), "--deployed", str(production),
                         cwd=root).json
        golden = mu_process("test", "--enforcers", str(production), "--scenario",
                            "transaction_105k_L2_actor", cwd=root)
        decided = mu_json("decide", str(tx), "--enforcers", str(production), cwd=root).json
        diagnosis = mu_json("diagnose", "--receipt", str(receipt), "--transaction", str(tx),
                            "--observed", "APPROVE", "--deployed", str(production),
                            cwd=root).json
    assert replay["ok"] is True
    comparisons = {c["name"]: c["ok"] for c in replay["comparisons"]}
    assert comparisons["ontology digest"] is True and all(comparisons.values())
    assert golden.code == 0 and "1 passed, 0 failed" in golden.out, golden.out + golden.err
    assert decided["outcome"] == "REJECT"
    assert [r["control_id"] for r in decided["reasons"]] == ["approval_over_100k"]

    evidence = diagnosis["evidence"]
    assert evidence["drifted_files"] == []
    for evaluator in ("deployed", "replayed", "reference"):
        assert evidence[evaluator]["outcome"] == "REJECT", evaluator
    assert diagnosis["cause"] == "runtime"
    assert "integration" in diagnosis["escalate_to"]
    assert diagnosis["control_owners"] == ["accounts-payable"]

    generator = statement(receipt)["predicate"]["generator"]
    version = mu_ok("--version", cwd=root).out
    assert generator["name"] == "mu" and generator["version"] in version
    assert len(generator["source_sha256"]) == 64

    as_designed = mu_json("diagnose", "--receipt", str(receipt), "--transaction", str(tx),
                          "--observed", "REJECT", "--deployed", str(production),
                          cwd=root).json
    assert as_designed["cause"] == "ontology"


def _status(root: Path, log_dir: Path) -> dict[str, Any]:
    """`mu actions status --format json` of the service's outbox (exit 1: dead letters)."""
    answer = mu_json("actions", "status", "--log", str(log_dir), cwd=root, codes=(0, 1))
    status: dict[str, Any] = answer.json
    return status


def test_3_2_decisions_continue_while_the_mail_server_is_down(
    built: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 3.2, graceful degradation (the original's supervisor restarting a
    crashed notification process; mu's equivalent is `mu serve`: decisions are answered
    from the deployed A and logged, actions go to a durable outbox whose workers retry).

    Given receipt 0001 deployed and served with its ledgers working and its mail server
    down, when transactions of every outcome arrive, then the mail server comes back:

    - approval decisions are not blocked: every request is answered 200 with the
      outcome the golden suite expects, while notifications are still undelivered
      (latency is reported, not asserted);
    - degrades safely, notifications queue and retry: during the outage the outbox
      holds the mail deliveries pending, none delivered and none dead;
    - Fault Containment: the ledger channel is isolated from the mail failure: every
      ledger entry is written during the outage;
    - Operational gate, no cascade: after the mail server returns every notification
      arrives exactly once and the outbox settles with nothing pending or dead;
    - documented "degraded but safe, recovered after N attempts": `mu actions status`
      lists recovered mail deliveries with their attempt counts (> 1) and lateness, and
      `mu decisions verify` proves the signed decision log intact, holding one final
      decision per answer.
    """
    s = served(tmp_path, built, run_mu)
    smtp = SmtpCatcher()  # its port is reserved; nothing listens: the mail server is down
    config = write_config(tmp_path / "serve.toml", runtime_key=s.runtime_key,
                          ledgers=s.ledgers, smtp_port=smtp.port)
    samples = sample_transactions()
    seconds: list[float] = []
    with MuServer.of(s, config) as server:
        answers = []
        for n, sample in enumerate(samples * 2):
            started = time.perf_counter()
            answer = post_json(server.url + "/v1/decide", numbered(sample.transaction, n))
            seconds.append(time.perf_counter() - started)
            assert answer.status == 200, answer.text
            assert answer.json["outcome"] == sample.outcome, (sample.name, answer.json)
            answers.append(answer)
        notify, ledger = action_keys(answers, "notify"), action_keys(answers, "ledger")
        assert notify and ledger
        assert smtp.mails == []  # answered while not one notification got out

        ledger_files = list(s.ledgers.values())
        wait_until(
            lambda: set().union(*(ledger_keys(p) for p in ledger_files)) >= ledger, 30,
            lambda: "the ledger entries were not written during the mail outage",
        )

        def queued() -> bool:
            return bool(_status(s.root, s.log_dir)["counts"]["pending"].get("smtp", 0))

        wait_until(queued, 30, lambda: json.dumps(_status(s.root, s.log_dir))[:2000])
        time.sleep(2)  # several rounds of back-off against the closed port
        during = _status(s.root, s.log_dir)
        assert during["counts"]["pending"].get("smtp", 0) > 0, during["counts"]
        assert during["counts"]["delivered"].get("smtp", 0) == 0, during["counts"]
        assert during["totals"]["dead"] == 0, during["counts"]

        with stopwatch("recovery_after_mail_returns"):
            smtp.start()
            smtp.wait_for(len(notify), timeout=60)
            wait_until(
                lambda: all(_status(s.root, s.log_dir)["totals"][state] == 0
                            for state in ("pending", "inflight", "held")),
                60, lambda: "the outbox did not settle",
            )
        after = _status(s.root, s.log_dir)
    smtp.stop()
    for name, value in (("p50", statistics.median(seconds)), ("max", max(seconds))):
        stopwatch.record(f"seconds_decision_{name}_while_degraded", round(value, 4))
    print(f"\n[scenario 3.2] decision latency while degraded: p50 "
          f"{statistics.median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms")

    assert set(smtp.keys()) == notify and set(smtp.keys().values()) == {1}
    assert after["totals"]["dead"] == 0 and after["totals"]["delivered"] > 0
    recovered = [r for r in after["recovered"] if r["channel"] == "smtp"]
    assert recovered and all(r["attempts"] > 1 for r in recovered), recovered
    assert all(r["late_seconds"] > 0 for r in recovered), recovered
    text = mu_process("actions", "status", "--log", str(s.log_dir), cwd=s.root)
    assert "attempts" in text.out, text.out + text.err

    verify = mu_process("decisions", "verify", str(s.log_dir), cwd=s.root)
    assert verify.code == 0, verify.out + verify.err
    logged = logged_decisions(s.log_dir)
    assert {r["decision_id"] for r in logged} == {a.json["decision_id"] for a in answers}
