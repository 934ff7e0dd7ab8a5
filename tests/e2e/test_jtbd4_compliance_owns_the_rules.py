"""Job 4, "my compliance team wrote the rules, not my engineers": scenarios 4.1 and 4.2.
Who may approve is the signed trust root: compliance identities `alice` and `bob`; the
engineer holds only the `release` key (`release-bot`) that signs builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chain import Built
from tests.conftest import mu_process
from tests.e2e.kit import (
    FRAUD_CHECK,
    FRAUD_GOLDEN,
    NEW_TYPE,
    Stopwatch,
    mu_json,
    mu_ok,
    statement,
    trust_pin,
    write_transaction,
)

pytestmark = pytest.mark.slow


def test_4_1_the_compliance_approved_change_is_what_gets_built(
    built: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 4.1, compliance team ownership of O.

    Given the policy repository (receipt 0001), a trust root in which only `alice` and
    `bob` hold the compliance role, and an engineer who adds a transaction type
    (`payroll_advance`) with no fraud check; when the organisation's invariant in Σ
    (every transaction type has a fraud check) stops it, the engineer adds the fraud
    check compliance requires, tries to ship without compliance, and compliance then
    approves; then:

    - the generated system enforces compliance's decision: the engineer's change alone
      fails `mu validate` naming the fraud-coverage shape; the engineer can neither
      approve (the release key is not trusted for compliance, nothing written) nor
      build without an approval (the approvals gate fails, no receipt); after alice
      approves, a build without golden cases for the fraud check is refused naming it
      (issue 15's coverage gate: a signed rejection, no receipt); with them, the receipt
      holds the new type's fraud check and the built A rejects a payroll advance to a new
      hire by it;
    - the change is auditable, approval in the history: `mu log` shows alice's
      Approval before the new Receipt, which names her as approver;
    - the receipt binds A to the approved ΔO, not to the engineer's later preference:
      the receipt's approval is alice's statement of exactly the built ontology digest;
      an edit after her approval makes the next build fail the approvals gate;
    - Correct-by-Construction, O is the source of truth: `mu generate --check` passes
      on the built A (it is exactly what O compiles to);
    - the auditor verifies "a faithful rendering": `mu verify-receipt` with the pinned
      trust root passes for the receipt.
    """
    root = built.root
    engineer_key = built.key  # the release key: it signs builds, never approvals
    alice = built.compliance[0]
    types = root / "ontology" / "controls" / "payroll.ttl"
    types.write_text(NEW_TYPE, encoding="utf-8")
    uncovered = mu_process("validate", cwd=root)
    assert uncovered.code == 1
    assert "FraudCheckCoverageShape" in uncovered.out + uncovered.err
    assert "payroll_advance" in uncovered.out + uncovered.err

    types.write_text(NEW_TYPE + FRAUD_CHECK, encoding="utf-8")
    mu_ok("validate", cwd=root)
    approvals = root / "receipts" / "approvals"
    before = sorted(approvals.iterdir())
    refused = mu_process("approve", "--key", str(engineer_key), cwd=root)
    assert refused.code == 1 and "not trusted for compliance" in refused.err
    assert sorted(approvals.iterdir()) == before
    unapproved = mu_json("build", "--sign-key", str(engineer_key), cwd=root, codes=(1,)).json
    assert unapproved["receipt"] is None
    assert unapproved["gates"]["approvals"]["status"] == "FAIL"

    approval = mu_json("approve", "--key", str(alice), cwd=root).json
    assert approval["identity"] == "alice"
    untested = mu_json("build", "--sign-key", str(engineer_key), cwd=root, codes=(1,)).json
    assert untested["receipt"] is None and untested["rejection"] is not None
    assert untested["gates"]["coverage"]["detail"].startswith("golden coverage ")
    assert "`fraud_advance_new_hire` no case applies to it" in (
        untested["gates"]["coverage"]["detail"]
    )
    (root / "golden" / "e2e_payroll_advance.toml").write_text(FRAUD_GOLDEN, encoding="utf-8")
    with stopwatch("approved_build"):
        result = mu_json("build", "--sign-key", str(engineer_key), cwd=root).json
    receipt = root / result["receipt"]
    predicate = statement(receipt)["predicate"]
    assert predicate["change"]["added"] == ["fraud_advance_new_hire"]
    assert [a["identity"] for a in predicate["approvals"]["by"]] == ["alice"]
    assert predicate["approvals"]["by"][0]["statement"] == approval["statement_digest"]
    assert predicate["ontology"]["digest"] == approval["ontology_digest"]
    approved = statement(root / approval["approval"])
    assert approved["predicateType"] == "urn:mu:v1#Approval"

    tx = write_transaction(tmp_path / "advance.json", {
        "id": "adv-1", "type": "payroll_advance", "amount": "2000.00", "currency": "USD",
        "initiator": {"id": "dave"}, "approver": {"id": "erin", "authority": "L2"},
        "executor": {"id": "frank"}, "employee": {"id": "dave", "months_employed": 1},
    })
    decision = mu_json("decide", str(tx), cwd=root).json
    assert decision["outcome"] == "REJECT"
    assert [r["control_id"] for r in decision["reasons"]] == ["fraud_advance_new_hire"]
    mu_ok("generate", "--check", cwd=root)

    pin = trust_pin(root, tmp_path / "handed" / "trust-root-1.json")
    verified = mu_json("verify-receipt", str(receipt), "--trust-root", pin, cwd=root).json
    assert verified["kind"] == "Receipt" and verified["signers"] == ["release-bot"]
    events = mu_json("log", "--trust-root", pin, cwd=root).json["events"]
    kinds = [(e["kind"], e.get("file")) for e in events]
    approval_at = next(i for i, e in enumerate(events)
                       if e["kind"] == "Approval" and e["signers"] == ["alice"]
                       and approval["approval"] in str(e.get("file")))
    receipt_at = next(i for i, e in enumerate(events)
                      if e["kind"] == "Receipt" and receipt.name in str(e.get("file")))
    assert approval_at < receipt_at, kinds
    assert events[receipt_at]["approvers"] == ["alice"]

    # The approval binds the digest: the engineer's later edit is not approved.
    types.write_text(NEW_TYPE + FRAUD_CHECK.replace("< 3", "< 1"), encoding="utf-8")
    mu_ok("validate", cwd=root)
    edited = mu_json("build", "--sign-key", str(engineer_key), cwd=root, codes=(1,)).json
    assert edited["receipt"] is None
    assert edited["gates"]["approvals"]["status"] == "FAIL"


def test_4_2_a_segregation_of_duties_violation_stops_the_line(
    built: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 4.2, constraint violation detection.

    Given the organisation's segregation-of-duties invariant in Σ (a role may not both
    approve and execute a transaction type whose approver and executor a control
    separates) and an engineer's ΔO letting the treasury operator approve the wire
    transfers it executes; when `mu build --sign-key` runs; then:

    - generation does not proceed: the build exits 1, writes no receipt, and
      `enforcers/` keeps exactly the bytes of receipt 0001;
    - a receipt is produced with {error, O attempted, violated rule, override
      required}: a signed rejection under `receipts/rejected/` whose statement holds
      the failed gate, the attempted ontology digest, each violated shape with its
      focus node and file, and `compliance_override_required: true`;
    - compliance is alerted, manual approval required: `mu log` lists the Rejection;
      the engineer's key cannot override it (nothing written), and only after alice's
      signed override does the next build proceed, its receipt naming the override;
    - Jidoka, the line stops: between rejection and override the chain has no new
      link, so there is nothing `mu deploy` could ship;
    - Ontology gate failed, no code generation: `mu validate` exits 1 naming the SoD
      shape, and the rejection records the ontology gate FAIL and no other gate run.
    """
    root = built.root
    enforcers_before = {p.name: p.read_bytes() for p in (root / "enforcers").rglob("*.py")}
    roles = root / "ontology" / "controls" / "roles.ttl"
    operator = '    rdfs:label "treasury operator" ;\n'
    text = roles.read_text(encoding="utf-8")
    assert operator in text
    roles.write_text(text.replace(operator, operator + "    mu:mayApprove ex:WireTransfer ;\n"),
                     encoding="utf-8")
    invalid = mu_process("validate", cwd=root)
    assert invalid.code == 1
    assert "RoleApproverExecutorSeparationShape" in invalid.out + invalid.err

    with stopwatch("line_stop"):
        failed = mu_json("build", "--sign-key", str(built.key), cwd=root, codes=(1,)).json
    assert failed["receipt"] is None and failed["overridable"] is True
    assert {p.name: p.read_bytes() for p in (root / "enforcers").rglob("*.py")} == (
        enforcers_before
    )
    assert sorted((root / "receipts").glob("0*.json")) == list(built.receipts)
    rejection = root / failed["rejection"]
    assert rejection.parent.name == "rejected"
    rejected = statement(rejection)
    assert rejected["predicateType"] == "urn:mu:v1#Rejection"
    predicate = rejected["predicate"]
    assert predicate["compliance_override_required"] is True
    assert predicate["failed_gates"] == ["ontology"] and predicate["gates"] == {"ontology": "FAIL"}
    assert predicate["ontology"]["digest"] == failed["ontology_digest"]
    assert {(v["shape"], v["focus"], v["file"]) for v in predicate["violations"]} == {
        ("ex:RoleApproverExecutorSeparationShape", "ex:TreasuryOperator", "controls/roles.ttl")
    }

    pin = trust_pin(root, tmp_path / "handed" / "trust-root-1.json")
    events = mu_json("log", "--trust-root", pin, cwd=root).json["events"]
    assert any(e["kind"] == "Rejection" for e in events)
    overrides = root / "receipts" / "approvals"
    engineer = mu_process("approve", "--override", str(rejection), "--key", str(built.key),
                          cwd=root)
    assert engineer.code == 1 and "not trusted for compliance" in engineer.err
    assert not list(overrides.glob("override-*"))

    override = mu_json("approve", "--override", str(rejection), "--key",
                       str(built.compliance[0]), cwd=root).json
    assert override["kind"] == "override" and override["identity"] == "alice"
    result = mu_json("build", "--sign-key", str(built.key), cwd=root).json
    assert result["override"]["by"][0]["identity"] == "alice"
    assert result["override"]["rejection"].startswith(rejection.stem)
    assert sorted((root / "receipts").glob("0*.json")) == [*built.receipts,
                                                            root / result["receipt"]]
