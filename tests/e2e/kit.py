"""Helpers shared by the scenario tests: `mu` as a user runs it (a subprocess) with its
JSON parsed, receipts decoded, trees hashed, and the extra controls the scenarios add
to the shipped example. Nothing here asserts a time: scenario times are reported."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu.generator.files import read_tree
from tests.conftest import Run, mu_process


class Stopwatch:
    """Times steps of one scenario: `with stopwatch("generation"): ...` records the
    property `seconds_generation` in the JUnit report and prints a line (`pytest -s`)."""

    def __init__(self, scenario: str, record: Callable[[str, object], None]) -> None:
        self.scenario = scenario
        self.record = record

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        """Time the block; report it even when it fails, as far as it got."""
        started = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            self.record(f"seconds_{step}", round(seconds, 3))
            print(f"\n[scenario {self.scenario}] {step}: {seconds:.2f} s")


@dataclass(frozen=True)
class Answer:
    """A `mu --format json` run: its exit code, parsed output and standard error."""

    code: int
    json: Any
    err: str


def mu_json(*args: str, cwd: Path, codes: tuple[int, ...] = (0,), seed: str = "0",
            extra_env: dict[str, str] | None = None) -> Answer:
    """`mu ARGS --format json` in a subprocess; fails the test on an exit code not in
    `codes` (the output and standard error shown) or on output that is not JSON."""
    run = mu_process(*args, "--format", "json", cwd=cwd, seed=seed, extra_env=extra_env)
    assert run.code in codes, f"mu {' '.join(args)} exited {run.code}:\n{run.out}{run.err}"
    return Answer(run.code, json.loads(run.out), run.err)


def mu_ok(*args: str, cwd: Path, extra_env: dict[str, str] | None = None) -> Run:
    """`mu ARGS` in a subprocess that must exit 0."""
    run = mu_process(*args, cwd=cwd, extra_env=extra_env)
    assert run.code == 0, f"mu {' '.join(args)} exited {run.code}:\n{run.out}{run.err}"
    return run


def statement(path: Path) -> dict[str, Any]:
    """The in-toto statement inside a DSSE envelope (receipt, rejection, approval...)."""
    envelope = json.loads(path.read_bytes())
    decoded: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return decoded


def payload_bytes(path: Path) -> bytes:
    """The exact signed payload bytes of a DSSE envelope."""
    return base64.b64decode(json.loads(path.read_bytes())["payload"])


def subjects(path: Path) -> dict[str, str]:
    """A receipt's subjects: `enforcers/<file>` -> sha256."""
    return {s["name"]: s["digest"]["sha256"] for s in statement(path)["subject"]}


def tree_digests(directory: Path) -> dict[str, str]:
    """Every file of an enforcer directory as `enforcers/<file>` -> sha256, hashed here
    (not by mu), so a comparison with a receipt is an independent check."""
    return {
        f"enforcers/{name}": hashlib.sha256(data).hexdigest()
        for name, data in read_tree(directory).items()
    }


def trust_pin(root: Path, handed: Path) -> str:
    """What compliance hands an auditor: a copy of trust-root version 1, kept at
    `handed` (outside the repository); the value of `--trust-root`."""
    handed.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "receipts" / "trust" / "1.json", handed)
    return str(handed)


def write_environments(root: Path, **targets: Path) -> Path:
    """`mu.toml` declaring each named deploy environment (issue 14's configuration)."""
    lines = [f'[environments.{name}]\ntarget = "{path}"\n' for name, path in targets.items()]
    config = root / "mu.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


def write_transaction(path: Path, transaction: dict[str, Any]) -> Path:
    """A transaction as JSON at `path` (money as strings, as mu wants it)."""
    path.write_text(json.dumps(transaction), encoding="utf-8")
    return path


# The transaction of scenario 3.1 (and of the README): 105,000.00 USD approved by an L2.
TX_105K_L2: dict[str, Any] = {
    "id": "tx-105k", "type": "vendor_payment", "amount": "105000.00", "currency": "USD",
    "initiator": {"id": "alice"}, "approver": {"id": "bob", "authority": "L2"},
    "executor": {"id": "carol"},
    "counterparty": {"country": "DE", "is_new": False, "risk_score": 10},
    "invoice": {"id": "INV-100231"},
}

# Scenario 1.1's ΔO: a control the shipped example lacks, and the golden cases that
# pin it (an L3 at 105,000.00 is approved by the shipped rules: only the new one rejects).
NEW_EXPENSE_RULE = """
ex:ExpenseApprovalOver100k a mu:ApprovalRule ;
    mu:controlId "expense_approval_over_100k" ;
    rdfs:label "expense refunds over 100,000.00 USD need an L4+ approver" ;
    mu:owner "accounts-payable" ;
    mu:appliesTo ex:ExpenseRefund ;
    mu:amountThreshold "100000.00"^^xsd:decimal ;
    mu:currency "USD" ;
    mu:requiredAuthority ex:L4 .
"""


def _expense(tx_id: str, authority: str) -> str:
    return (
        f'{{ id = "{tx_id}", type = "expense_refund", amount = "105000.00", '
        f'currency = "USD", initiator = {{ id = "dave" }}, approver = {{ id = "erin", '
        f'authority = "{authority}" }}, executor = {{ id = "frank" }}, '
        f'employee = {{ id = "dave" }}, expense = {{ category = "travel" }}, '
        f"receipt = {{ attached = true }} }}"
    )


NEW_EXPENSE_GOLDEN = f"""
[[case]]
id = "e2e_expense_105k_L3"
description = "over the new 100,000.00 threshold, approved by an L3"
transaction = {_expense("tx-e2e-1", "L3")}
expect = {{ outcome = "REJECT", controls = ["expense_approval_over_100k"] }}

[[case]]
id = "e2e_expense_105k_L4"
description = "over the new 100,000.00 threshold, approved by an L4"
transaction = {_expense("tx-e2e-2", "L4")}
expect = {{ outcome = "APPROVE" }}
"""

# Scenario 1.2's ΔO: three interdependent controls in one file; the alert waits for
# the ledger entry it points at (`mu:dependsOn`).
PREFIXES = (
    "@prefix ex: <https://acme.example/policy#> .\n@prefix mu: <urn:mu:v1#> .\n"
    "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
    "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n"
)
RECIPIENT = '    mu:recipient "finance@acme.example" ;\n'
CASCADE = PREFIXES + f"""
ex:ApprovalOver500k a mu:ApprovalRule ;
    mu:controlId "approval_over_500k" ;
    rdfs:label "vendor payments over 500,000.00 USD need an L4+ approver" ;
    mu:owner "accounts-payable" ;
    mu:appliesTo ex:VendorPayment ;
    mu:amountThreshold "500000.00"^^xsd:decimal ;
    mu:currency "USD" ;
    mu:requiredAuthority ex:L4 .

ex:AuditVendorRejections a mu:AuditLogRule ;
    mu:controlId "audit_vendor_rejections" ;
    rdfs:label "rejected vendor payments go to the finance ledger" ;
    mu:owner "internal-audit" ;
    mu:appliesTo ex:VendorPayment ;
    mu:ledger "finance-ledger" ;
    mu:onOutcome mu:Reject .

ex:NotifyFinanceOnVendorReject a mu:NotificationRule ;
    mu:controlId "notify_finance_on_vendor_reject" ;
    rdfs:label "finance hears of a rejected vendor payment once it is on the ledger" ;
    mu:owner "finance-operations" ;
    mu:appliesTo ex:VendorPayment ;
{RECIPIENT}    mu:onOutcome mu:Reject ;
    mu:dependsOn ex:AuditVendorRejections .
"""
CASCADE_CONTROLS = ("approval_over_500k", "audit_vendor_rejections",
                    "notify_finance_on_vendor_reject")

# Scenario 4.1's ΔO: the engineer's new transaction type, and the fraud check the
# compliance team requires before it may ship.
NEW_TYPE = PREFIXES + """
ex:PayrollAdvance a mu:TransactionType ;
    mu:typeId "payroll_advance" ;
    rdfs:label "payroll advance" ;
    mu:hasField
        [ a mu:Field ; mu:path "employee.id" ; mu:datatype xsd:string ; mu:required true ] ,
        [ a mu:Field ; mu:path "employee.months_employed" ; mu:datatype xsd:integer ;
          mu:required true ] .
"""
FRAUD_CHECK = """
ex:FraudAdvanceNewHire a mu:ConditionRule ;
    mu:controlId "fraud_advance_new_hire" ;
    rdfs:label "payroll advances to employees of under 3 months are rejected" ;
    mu:owner "fraud-operations" ;
    mu:appliesTo ex:PayrollAdvance ;
    mu:when "employee.months_employed < 3" ;
    mu:effect mu:Reject ;
    mu:message "employee joined less than 3 months ago" .
"""


def _advance(tx_id: str, months: int) -> str:
    return (
        f'{{ id = "{tx_id}", type = "payroll_advance", amount = "2000.00", currency = "USD", '
        f'initiator = {{ id = "dave" }}, approver = {{ id = "erin", authority = "L2" }}, '
        f'executor = {{ id = "frank" }}, '
        f'employee = {{ id = "dave", months_employed = {months} }} }}'
    )


# The golden cases that cover the fraud check on both sides: without them the build
# refuses it (issue 15: the coverage gate).
FRAUD_GOLDEN = f"""
[[case]]
id = "e2e_advance_new_hire"
description = "a payroll advance to an employee of one month"
transaction = {_advance("adv-g1", 1)}
expect = {{ outcome = "REJECT", controls = ["fraud_advance_new_hire"] }}

[[case]]
id = "e2e_advance_tenured"
description = "a payroll advance to an employee of two years"
transaction = {_advance("adv-g2", 24)}
expect = {{ outcome = "APPROVE" }}
"""
