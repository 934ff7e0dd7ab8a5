"""`mu diagnose` classifies each of the four causes, each situation built for
real: a deployed module edited by hand; a generator that mis-compiles a
comparison; an ontology whose threshold is wrong; a correct setup with a wrong
observed outcome."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mu.generator.run.golden import load_suite
from tests.chain import Built, Signed, build, change_threshold
from tests.conftest import Run, mu_process

Mu = Callable[..., Run]

TX: dict[str, Any] = {
    "id": "tx-105k",
    "type": "vendor_payment",
    "amount": "105000.00",
    "currency": "USD",
    "initiator": {"id": "alice"},
    "approver": {"id": "bob", "authority": "L2"},
    "executor": {"id": "carol"},
    "counterparty": {"country": "DE", "is_new": False, "risk_score": 10},
    "invoice": {"id": "INV-1"},
}
ONE_CASE = """[[case]]
id = "smoke"
transaction = { id = "t", type = "vendor_payment", amount = "10.00", currency = "USD", \
initiator = { id = "a" }, approver = { id = "b", authority = "L1" }, executor = { id = "c" }, \
counterparty = { country = "DE", is_new = false, risk_score = 1 }, invoice = { id = "i" } }
expect = { outcome = "APPROVE" }
"""


def minimal_golden(root: Path) -> None:
    """A suite too small to catch the defect under test (that is how defects ship), in a
    repository that lowered its coverage bar to let it build."""
    shutil.rmtree(root / "golden")
    (root / "golden").mkdir()
    (root / "golden" / "smoke.toml").write_text(ONE_CASE, encoding="utf-8")
    (root / "mu.toml").write_text("[build]\nmin_coverage = 0\n", encoding="utf-8")


def diagnose(
    mu: Mu, s: Signed, receipt: Path, tx: dict[str, Any], observed: str, *extra: str
) -> dict[str, Any]:
    path = s.root / "tx.json"
    path.write_text(json.dumps(tx), encoding="utf-8")
    run = mu(
        "diagnose",
        "--receipt",
        str(receipt),
        "--transaction",
        str(path),
        "--observed",
        observed,
        "--format",
        "json",
        *extra,
        root=s.root,
    )
    assert run.code == 0, run.out + run.err
    return dict(json.loads(run.out))


def test_hand_edited_deployed_module_is_a_deployment_problem(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    receipt = built.receipt
    deployed = tmp_path / "deployed"
    shutil.copytree(built.root / "enforcers", deployed)
    module = deployed / "controls" / "approval_over_100k.py"
    module.write_text(module.read_text().replace("'100000.00'", "'200000.00'"))
    result = diagnose(mu, built, receipt, TX, "APPROVE", "--deployed", str(deployed))
    assert result["cause"] == "deployment"
    assert result["evidence"]["deployed"]["outcome"] == "APPROVE"
    assert result["evidence"]["replayed"]["outcome"] == "REJECT"
    assert "enforcers/controls/approval_over_100k.py" in result["evidence"]["drifted_files"]
    assert "mu deploy" in result["escalate_to"]


def test_deployed_code_that_crashes_is_a_deployment_problem(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    receipt = built.receipt
    deployed = tmp_path / "deployed"
    shutil.copytree(built.root / "enforcers", deployed)
    # A condition the decision plan calls for this transaction (its guard,
    # `counterparty.is_new`, holds); a control without one is never called.
    module = deployed / "controls" / "fraud_new_vendor_large_payment.py"
    text = module.read_text()
    assert "    return (\n" in text
    # Both `when` and `rest` (called once the guard holds) crash.
    crash = "    raise RuntimeError('boom')\n    return (\n"
    module.write_text(text.replace("    return (\n", crash))
    tx = {**TX, "counterparty": {**TX["counterparty"], "is_new": True}}
    result = diagnose(mu, built, receipt, tx, "REVIEW", "--deployed", str(deployed))
    assert result["cause"] == "deployment"
    assert result["evidence"]["deployed"]["outcome"] == "ERROR"
    assert "boom" in result["evidence"]["deployed"]["error"]


def test_miscompiled_comparison_is_a_generator_defect(
    signed: Signed, mutant_install: dict[str, str]
) -> None:
    minimal_golden(signed.root)
    # Today's build catches this defect at its reference gate (issue 15); a mu made before
    # that gate did not. The defective copy is such a mu: its gate checks no case.
    crosscheck = Path(mutant_install["PYTHONPATH"], "mu", "generator", "build", "crosscheck.py")
    text = crosscheck.read_text(encoding="utf-8")
    assert "\nBUDGET = 150_000\n" in text
    crosscheck.write_text(text.replace("\nBUDGET = 150_000\n", "\nBUDGET = 0\n"), "utf-8")
    # The defect ships: compliance approves under the defective mu (an approval binds the
    # generator), which builds, and the small suite does not catch it.
    approved = mu_process(
        "approve", "--key", str(signed.compliance[0]), cwd=signed.root, extra_env=mutant_install
    )
    assert approved.code == 0, approved.out + approved.err
    built = mu_process(
        "build",
        "--sign-key",
        str(signed.key),
        "--format",
        "json",
        cwd=signed.root,
        extra_env=mutant_install,
    )
    assert built.code == 0, built.out + built.err
    receipt = signed.root / json.loads(built.out)["receipt"]
    (signed.root / "tx.json").write_text(json.dumps({**TX, "amount": "100000.00"}))
    run = mu_process(
        "diagnose",
        "--receipt",
        str(receipt),
        "--transaction",
        "tx.json",
        "--observed",
        "REJECT",
        "--format",
        "json",
        cwd=signed.root,
        extra_env=mutant_install,
    )
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["cause"] == "generator"
    assert result["evidence"]["replayed"]["outcome"] == "REJECT"
    assert result["evidence"]["reference"]["outcome"] == "APPROVE"
    assert "maintainers" in result["escalate_to"]


def test_wrong_threshold_in_the_ontology_is_an_ontology_problem(mu: Mu, signed: Signed) -> None:
    minimal_golden(signed.root)
    change_threshold(signed.root, '"100000.00"^^xsd:decimal', '"1000000.00"^^xsd:decimal')
    receipt = build(mu, signed)
    result = diagnose(mu, signed, receipt, TX, "APPROVE")
    assert result["cause"] == "ontology"
    assert {e["outcome"] for e in result["evidence"].values() if isinstance(e, dict)} == {"APPROVE"}
    assert "accounts-payable" in result["control_owners"]
    assert "compliance" in result["escalate_to"]


def test_correct_setup_with_a_wrong_observation_is_runtime(mu: Mu, built: Built) -> None:
    receipt = built.receipt
    result = diagnose(mu, built, receipt, TX, "APPROVE")
    assert result["cause"] == "runtime"
    evidence = result["evidence"]
    assert evidence["replayed"] == evidence["deployed"] == evidence["reference"]
    assert evidence["reference"]["outcome"] == "REJECT"
    assert evidence["drifted_files"] == []
    text = mu(
        "diagnose",
        "--receipt",
        str(receipt),
        "--transaction",
        str(built.root / "tx.json"),
        "--observed",
        "APPROVE",
        root=built.root,
    )
    assert text.out.startswith("cause: runtime")


def test_write_case_adds_a_passing_golden_case(mu: Mu, built: Built) -> None:
    receipt = built.receipt
    result = diagnose(mu, built, receipt, TX, "APPROVE", "--write-case")
    assert result["golden_case_written"].endswith("golden/diagnosed.toml")
    case = next(
        c for c in load_suite(built.root / "golden").cases if c.case_id == "diagnosed_tx-105k"
    )
    assert case.expect_outcome == "REJECT"
    assert mu("test", "--scenario", "diagnosed_tx-105k", root=built.root).code == 0


@pytest.mark.parametrize("observed", ["MAYBE", ""])
def test_unknown_observed_outcome_is_exit_2(mu: Mu, built: Built, observed: str) -> None:
    receipt = built.receipt
    (built.root / "tx.json").write_text(json.dumps(TX))
    run = mu(
        "diagnose",
        "--receipt",
        str(receipt),
        "--transaction",
        str(built.root / "tx.json"),
        "--observed",
        observed,
        root=built.root,
    )
    assert run.code == 2
