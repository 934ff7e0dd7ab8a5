"""Job 1, "deploy a new control in hours, not quarters": scenarios 1.1 and 1.2, run as an
operator runs them (`mu` in subprocesses) on a scratch policy repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mu.generator.files import read_tree
from tests.chain import Built, approve
from tests.conftest import mu_process, run_mu
from tests.e2e.kit import (
    CASCADE,
    CASCADE_CONTROLS,
    NEW_EXPENSE_GOLDEN,
    NEW_EXPENSE_RULE,
    RECIPIENT,
    TX_105K_L2,
    Stopwatch,
    mu_json,
    mu_ok,
    statement,
    subjects,
    tree_digests,
    write_environments,
    write_transaction,
)

pytestmark = pytest.mark.slow


def test_1_1_a_new_rule_becomes_a_compiled_enforcer(
    built: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 1.1, simple policy → compiled enforcer.

    Given the shipped ontology (receipt 0001 deployed nowhere yet) and a ΔO adding one
    approval rule — expense refunds over 100,000.00 USD need an L4+ approver — for
    which no enforcer exists; when mu validates O ⊨ Σ, compiles it, runs the golden
    case "105,000.00 approved by an L3 is blocked" and signs a receipt; then:

    - generation time (< 2 min in the original): `mu build` is timed and reported;
    - receipt proves A byte-identical to μ(O): the sha256 of every file of
      `enforcers/`, hashed by the test, equals the receipt's subjects; `mu replay`
      regenerates it with every digest matching; `mu verify-hashes` exits 0;
    - available in the test environment (< 3 min): `mu deploy --target test
      --enforcer enforcers` (a named environment of `mu.toml`) passes its health check
      and the deployed A blocks the transaction; timed and reported;
    - available in production (< 30 min, the next epoch): mu has no epochs; the same
      deploy to `production`, and `mu receipt --deployment production` names the
      receipt; timed and reported;
    - Correct-by-Construction, no human edits: `mu generate --check` passes, and once
      a byte of the generated module is edited it fails, `mu verify-hashes` names the
      file and `deploy --enforcer` refuses the edited A (no receipt records it);
    - Determinism (the original's "identical Erlang module"): the receipt's
      determinism gate PASS, and a fresh `mu generate` in another process with
      another hash seed writes the same bytes;
    - Ontology gate: `mu validate --ontology --schema` exits 0 and the receipt's
      ontology gate is PASS.
    """
    root = built.root
    module = root / "enforcers" / "controls" / "expense_approval_over_100k.py"
    assert "expense_approval_over_100k" not in statement(built.receipt)["predicate"]["controls"]
    assert not module.exists()
    with (root / "ontology" / "controls" / "approvals.ttl").open("a", encoding="utf-8") as f:
        f.write(NEW_EXPENSE_RULE)
    (root / "golden" / "e2e_new_rule.toml").write_text(NEW_EXPENSE_GOLDEN, encoding="utf-8")
    # The old A does not block the new case: the rule is what will block it.
    old = mu_process("test", "--scenario", "e2e_expense_105k_L3", cwd=root)
    assert old.code == 1, old.out + old.err

    # Ontology gate, in the runbook's spelling.
    checked = mu_ok("validate", "--ontology", "ontology", "--schema", "ontology/shapes", cwd=root)
    assert "conforms" in checked.out
    approve(run_mu, built)  # compliance approves ΔO (job 4 is tested in its own scenarios)
    with stopwatch("generation"):
        result = mu_json("build", "--sign-key", str(built.key), cwd=root).json
    receipt = root / result["receipt"]
    predicate = statement(receipt)["predicate"]
    assert predicate["gates"] == {
        "approvals": "PASS", "coverage": "PASS", "determinism": "PASS", "golden": "PASS",
        "ontology": "PASS", "reference": "PASS",
    }
    assert predicate["change"]["added"] == ["expense_approval_over_100k"]

    # The receipt proves A = μ(O), byte for byte.
    assert tree_digests(root / "enforcers") == subjects(receipt)
    replay = mu_json("replay", "--receipt", str(receipt), cwd=root).json
    assert replay["ok"] is True
    assert all(c["ok"] for c in replay["comparisons"]), replay["comparisons"]
    mu_ok("verify-hashes", cwd=root)
    mu_ok("test", "--scenario", "e2e_expense_105k_*", cwd=root)

    # Determinism: another process, another hash seed, the same bytes.
    again = tmp_path / "again"
    fresh = mu_process("generate", "--output", str(again), cwd=root, seed="4242")
    assert fresh.code == 0, fresh.out + fresh.err
    assert read_tree(again) == read_tree(root / "enforcers")

    # Test, then production: named environments of the repository's configuration.
    srv = tmp_path / "srv"
    write_environments(root, test=srv / "test", production=srv / "production")
    tx = write_transaction(tmp_path / "tx.json", {
        "id": "tx-e2e", "type": "expense_refund", "amount": "105000.00", "currency": "USD",
        "initiator": {"id": "dave"}, "approver": {"id": "erin", "authority": "L3"},
        "executor": {"id": "frank"}, "employee": {"id": "dave"},
        "expense": {"category": "travel"}, "receipt": {"attached": True},
    })
    for environment in ("test", "production"):
        with stopwatch(f"available_in_{environment}"):
            deployed = mu_json(
                "deploy", "--target", environment, "--enforcer", "enforcers", cwd=root
            ).json
        assert deployed["health"]["ok"] is True
        assert deployed["statement_digest"] == result["statement_digest"]
        decision = mu_json("decide", str(tx), "--enforcers", str(srv / environment), cwd=root)
        assert decision.json["outcome"] == "REJECT"
        assert [r["control_id"] for r in decision.json["reasons"]] == [
            "expense_approval_over_100k"
        ]
    record = mu_ok("receipt", "--deployment", "production", cwd=root)
    assert result["statement_digest"][:12] in record.out

    # No human edits: one edited byte is seen by every check and cannot be deployed.
    mu_ok("generate", "--check", cwd=root)
    module.write_text(module.read_text(encoding="utf-8") + "# hand edit\n", encoding="utf-8")
    stale = mu_process("generate", "--check", cwd=root)
    assert stale.code == 1, stale.out + stale.err
    hashes = mu_process("verify-hashes", cwd=root)
    assert hashes.code == 1 and "expense_approval_over_100k.py" in hashes.out + hashes.err
    refused = mu_process("deploy", "--target", "test", "--enforcer", "enforcers", cwd=root)
    assert refused.code == 1, refused.out + refused.err
    assert read_tree(srv / "test") == read_tree(srv / "production")  # test kept its release


def test_1_2_three_interdependent_controls_ship_together_or_not_at_all(
    built: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 1.2, cascading control → coordinated enforcement.

    Given the shipped example (receipt 0001) and one ΔO of three interdependent
    controls — an approval rule (over 500,000.00 USD needs L4+), an audit rule writing
    rejected vendor payments to a ledger, and a notification to finance that
    `mu:dependsOn` that ledger entry — validated and built together; then:

    - generation time (< 3 min in the original): the successful `mu build` is timed
      and reported;
    - all three or none (the original's supervised processes): with the notification
      incomplete (no recipient) the build fails, writes a rejection and no receipt,
      and `enforcers/` keeps exactly receipt 0001's bytes, with none of the three
      modules; once fixed, one build adds all three;
    - No Partials, the receipt is all-or-none: the failed attempt adds no link to the
      chain; the successful one is a single receipt whose `change.added` lists all
      three controls;
    - Operational gate, healthy before promotion: mu's equivalent of booting the
      processes is `mu deploy`'s health check (golden suite and every action kind on
      the deployed copy), which passes with all three modules added; a transaction
      through the deployed A fires all three, the ledger write before the alert that
      depends on it;
    - one merged proof: the receipt carries one digest of the whole of A
      (`enforcers.sha256`) and names all three controls with their module digests.
    """
    root = built.root
    before = read_tree(root / "enforcers")
    broken = CASCADE.replace(RECIPIENT, "")
    assert broken != CASCADE
    (root / "ontology" / "controls" / "large_vendor.ttl").write_text(broken, encoding="utf-8")
    invalid = mu_process("validate", cwd=root)
    assert invalid.code == 1 and "NotifyFinanceOnVendorReject" in invalid.out + invalid.err
    failed = mu_json("build", "--sign-key", str(built.key), cwd=root, codes=(1,)).json
    assert failed["receipt"] is None and failed["rejection"]
    assert sorted((root / "receipts").glob("0*.json")) == list(built.receipts)
    assert read_tree(root / "enforcers") == before
    for control in CASCADE_CONTROLS:
        assert not (root / "enforcers" / "controls" / f"{control}.py").exists()

    (root / "ontology" / "controls" / "large_vendor.ttl").write_text(CASCADE, encoding="utf-8")
    approve(run_mu, built)
    with stopwatch("generation"):
        result = mu_json("build", "--sign-key", str(built.key), cwd=root).json
    receipt = root / result["receipt"]
    assert sorted((root / "receipts").glob("0*.json")) == [*built.receipts, receipt]
    predicate = statement(receipt)["predicate"]
    assert predicate["change"] == {
        "added": sorted(CASCADE_CONTROLS), "changed": [], "removed": []
    }
    names = subjects(receipt)
    for control in CASCADE_CONTROLS:
        assert predicate["controls"][control]["module"] in names

    target = tmp_path / "srv" / "production"
    with stopwatch("deploy_with_health_check"):
        deployed = mu_json("deploy", "--receipt", str(receipt), "--target", str(target),
                           cwd=root).json
    health = deployed["health"]
    assert health["ok"] is True and health["passed"] == health["total"] > 0
    assert {f"controls/{c}.py" for c in CASCADE_CONTROLS} <= set(deployed["restart"]["added"])
    # The one digest of the receipt is the identity of the release that went live.
    record = json.loads((target.parent / "production.deploy.json").read_text())
    assert record["current"]["tree"] == predicate["enforcers"]["sha256"]

    tx = write_transaction(tmp_path / "tx.json", {
        **TX_105K_L2, "id": "tx-600k", "amount": "600000.00",
        "approver": {"id": "bob", "authority": "L4"},
    })
    decision = mu_json("decide", str(tx), "--enforcers", str(target), cwd=root).json
    # L4 passes the 500k rule and the 100k rule; the 1m rule is not reached: approved.
    assert decision["outcome"] == "APPROVE"
    tx_l3 = write_transaction(tmp_path / "tx-l3.json", {
        **json.loads(tx.read_text()), "approver": {"id": "bob", "authority": "L3"},
    })
    decision = mu_json("decide", str(tx_l3), "--enforcers", str(target), cwd=root).json
    assert decision["outcome"] == "REJECT"
    assert [r["control_id"] for r in decision["reasons"]] == ["approval_over_500k"]
    fired = [a["control_id"] for a in decision["actions"]]
    assert "audit_vendor_rejections" in fired and "notify_finance_on_vendor_reject" in fired
    assert fired.index("audit_vendor_rejections") < fired.index("notify_finance_on_vendor_reject")
