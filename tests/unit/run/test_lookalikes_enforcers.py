"""Values that look alike, against the shipped example's enforcers (SPEC §3, issue 11).

Each look-alike measured in the issue got past a control before; each test
here fails if it ever does again. They run on the enforcers compiled from the
shipped ontology and on the committed `enforcers/` package alike, loaded as
`mu` loads them (`load_enforcers`), and check the decision itself: a refusal
naming the field, or the control that must fire.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mu.generator.compile.pipeline import Compiled
from mu.generator.run.enforcers import load_enforcers
from mu.generator.run.golden import load_suite, run_case
from tests.conftest import REPO, Run

FULLWIDTH_IR = "\uff29\uff32"  # IR in full-width letters
FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"  # alice in full-width letters
ZWSP = "\u200b"  # zero width space


@pytest.fixture(scope="module", params=["compiled", "committed"])
def enforcers(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    example_compiled: Compiled,
) -> ModuleType:
    """The shipped example's enforcers: freshly compiled, and as committed in `enforcers/`."""
    if request.param == "committed":
        return load_enforcers(REPO / "enforcers")
    directory = tmp_path_factory.mktemp("example") / "enforcers"
    for name, data in example_compiled.files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
    return load_enforcers(directory)


def vendor_payment(**changes: Any) -> dict[str, Any]:
    """A small vendor payment that every control approves, with `changes` applied."""
    tx: dict[str, Any] = {
        "id": "tx-lookalike",
        "type": "vendor_payment",
        "amount": "5000.00",
        "currency": "USD",
        "initiator": {"id": "alice"},
        "approver": {"id": "bob", "authority": "L1"},
        "executor": {"id": "carol"},
        "counterparty": {"country": "DE", "is_new": False, "risk_score": 10},
        "invoice": {"id": "INV-100231"},
    }
    tx.update(changes)
    return tx


def wire_transfer(**changes: Any) -> dict[str, Any]:
    """A small wire transfer that every control approves, with `changes` applied."""
    tx: dict[str, Any] = {
        "id": "tx-lookalike-wire",
        "type": "wire_transfer",
        "amount": "5000.00",
        "currency": "USD",
        "initiator": {"id": "alice"},
        "approver": {"id": "bob", "authority": "L1"},
        "executor": {"id": "carol"},
        "beneficiary": {"country": "DE", "is_new": False, "bank_bic": "DEUTDEFF"},
    }
    tx.update(changes)
    return tx


def refused_fields(enforcers: ModuleType, tx: dict[str, Any]) -> list[str]:
    """The fields `evaluate` names when it refuses `tx`; fails the test if it decides."""
    with pytest.raises(enforcers.InvalidTransaction) as exc:
        decision = enforcers.evaluate(tx)
        pytest.fail(f"decided {decision.outcome} on a look-alike: {tx}")
    return [p.field for p in exc.value.problems]


def control_ids(enforcers: ModuleType, tx: dict[str, Any]) -> tuple[str, list[str]]:
    decision = enforcers.evaluate(tx)
    return decision.outcome, [r.control_id for r in decision.reasons]


# --------------------------------------------------------------------------
# Country codes: `mu:pattern "[A-Z]{2}"` on the shipped example
# --------------------------------------------------------------------------

COUNTRY_LOOKALIKES = [
    pytest.param("ir", id="lower-case"),
    pytest.param(f"I{ZWSP}R", id="zero-width-space"),
    pytest.param(FULLWIDTH_IR, id="fullwidth"),
    pytest.param("IR\n", id="trailing-newline"),
    pytest.param(" IR", id="leading-space"),
    pytest.param("IRN", id="alpha-3"),
    pytest.param("", id="empty"),
]


def test_the_plain_sanctioned_code_is_still_rejected(enforcers: ModuleType) -> None:
    # The baseline: without it, the refusals below could hide a broken control.
    tx = vendor_payment(counterparty={"country": "IR", "is_new": False, "risk_score": 10})
    assert control_ids(enforcers, tx) == ("REJECT", ["fraud_sanctioned_vendor_country"])
    tx = wire_transfer(beneficiary={"country": "IR", "is_new": False, "bank_bic": "DEUTDEFF"})
    assert control_ids(enforcers, tx) == ("REJECT", ["fraud_sanctioned_beneficiary_country"])


@pytest.mark.parametrize("country", COUNTRY_LOOKALIKES)
def test_a_look_alike_vendor_country_is_refused(enforcers: ModuleType, country: str) -> None:
    tx = vendor_payment(counterparty={"country": country, "is_new": False, "risk_score": 10})
    assert refused_fields(enforcers, tx) == ["counterparty.country"]


@pytest.mark.parametrize("country", COUNTRY_LOOKALIKES)
def test_a_look_alike_beneficiary_country_is_refused(enforcers: ModuleType, country: str) -> None:
    tx = wire_transfer(beneficiary={"country": country, "is_new": False, "bank_bic": "DEUTDEFF"})
    assert refused_fields(enforcers, tx) == ["beneficiary.country"]


def test_the_refusal_names_the_pattern_and_the_value(enforcers: ModuleType) -> None:
    tx = vendor_payment(counterparty={"country": "ir", "is_new": False, "risk_score": 10})
    with pytest.raises(enforcers.InvalidTransaction) as exc:
        enforcers.evaluate(tx)
    message = str(exc.value)
    assert "counterparty.country" in message and "[A-Z]{2}" in message


def test_a_restriction_is_enforced_before_any_control_runs(enforcers: ModuleType) -> None:
    # Over every approval tier with an L1 approver, the same person on both
    # sides: two controls would reject it, yet the look-alike country makes
    # the transaction invalid first, never REJECT for some other reason.
    tx = vendor_payment(
        amount="2000000.00",
        approver={"id": "alice", "authority": "L1"},
        counterparty={"country": "ir", "is_new": True, "risk_score": 99},
    )
    assert refused_fields(enforcers, tx) == ["counterparty.country"]


# --------------------------------------------------------------------------
# Party ids: compared in their normal form
# --------------------------------------------------------------------------

APPROVER_LOOKALIKES = [
    pytest.param("Alice", id="capitalised"),
    pytest.param("alice ", id="trailing-space"),
    pytest.param(f"al{ZWSP}ice", id="zero-width-space"),
    pytest.param(FULLWIDTH_ALICE, id="fullwidth"),
    pytest.param("ALI\u00adCE", id="soft-hyphen-upper"),
    pytest.param("\u2060alice\ufeff", id="word-joiner-and-bom"),
    pytest.param("\u3000alice\t", id="ideographic-space-and-tab"),
]


@pytest.mark.parametrize("approver", APPROVER_LOOKALIKES)
def test_a_look_alike_approver_is_the_initiator(enforcers: ModuleType, approver: str) -> None:
    tx = vendor_payment(approver={"id": approver, "authority": "L1"})
    assert control_ids(enforcers, tx) == ("REJECT", ["sod_initiator_approver"])


@pytest.mark.parametrize("approver", APPROVER_LOOKALIKES)
def test_a_look_alike_initiator_is_the_approver(enforcers: ModuleType, approver: str) -> None:
    # The normal form applies to both sides of the comparison.
    tx = vendor_payment(initiator={"id": approver}, approver={"id": "alice", "authority": "L1"})
    assert control_ids(enforcers, tx) == ("REJECT", ["sod_initiator_approver"])


def test_a_look_alike_executor_is_the_approver_on_a_wire(enforcers: ModuleType) -> None:
    tx = wire_transfer(executor={"id": f"B{ZWSP}OB "})
    assert control_ids(enforcers, tx) == (
        "REJECT",
        ["sod_approver_executor", "sod_wire_all_parties"],
    )


def test_different_people_stay_different(enforcers: ModuleType) -> None:
    tx = vendor_payment(initiator={"id": "Alice"}, approver={"id": "ALICIA", "authority": "L1"})
    assert control_ids(enforcers, tx) == ("APPROVE", [])


EMPTY_IDS = [
    pytest.param("", id="empty"),
    pytest.param(" ", id="space"),
    pytest.param("\t\n", id="tab-newline"),
    pytest.param(ZWSP, id="zero-width-space"),
    pytest.param("\u3000\u00ad", id="ideographic-space-soft-hyphen"),
]


@pytest.mark.parametrize("empty", EMPTY_IDS)
@pytest.mark.parametrize("party", ["initiator", "approver", "executor"])
def test_an_id_empty_in_normal_form_is_refused(
    enforcers: ModuleType, party: str, empty: str
) -> None:
    value: dict[str, str] = {"id": empty}
    if party == "approver":
        value["authority"] = "L1"
    assert refused_fields(enforcers, vendor_payment(**{party: value})) == [f"{party}.id"]


def test_an_empty_employee_id_is_refused(enforcers: ModuleType) -> None:
    tx = {
        "id": "tx-refund",
        "type": "expense_refund",
        "amount": "50.00",
        "currency": "USD",
        "initiator": {"id": "alice"},
        "approver": {"id": "bob", "authority": "L1"},
        "executor": {"id": "carol"},
        "employee": {"id": f" {ZWSP} "},
        "expense": {"category": "travel"},
        "receipt": {"attached": True},
    }
    assert refused_fields(enforcers, tx) == ["employee.id"]


def test_every_look_alike_problem_is_named_at_once(enforcers: ModuleType) -> None:
    tx = vendor_payment(
        initiator={"id": " "},
        executor={"id": ZWSP},
        counterparty={"country": FULLWIDTH_IR, "is_new": False, "risk_score": 10},
    )
    fields = refused_fields(enforcers, tx)
    assert sorted(fields) == ["counterparty.country", "executor.id", "initiator.id"]


# --------------------------------------------------------------------------
# Duplicate keys: `parse_transaction` of the generated package, and `mu decide`
# --------------------------------------------------------------------------

DUPLICATED = (
    '{"id": "tx-dup", "type": "vendor_payment", "amount": "5000.00", "currency": "USD",'
    ' "initiator": {"id": "alice"},'
    ' "approver": {"id": "bob", "authority": "L1", "id": "alice"},'
    ' "executor": {"id": "carol"},'
    ' "counterparty": {"country": "DE", "is_new": false, "risk_score": 10},'
    ' "invoice": {"id": "INV-1"}}'
)


def test_json_loads_would_decide_the_duplicate_on_its_last_value(enforcers: ModuleType) -> None:
    # What the issue measured: the last `id` wins, unseen by whoever read the first.
    assert control_ids(enforcers, json.loads(DUPLICATED)) == ("REJECT", ["sod_initiator_approver"])
    last_is_bob = DUPLICATED.replace('"L1", "id": "alice"}', '"L1", "id": "bob"}')
    assert control_ids(enforcers, json.loads(last_is_bob)) == ("APPROVE", [])


def test_the_generated_parser_refuses_a_duplicate_key(enforcers: ModuleType) -> None:
    with pytest.raises(enforcers.InvalidTransaction, match="duplicate key `id`") as exc:
        enforcers.parse_transaction(DUPLICATED)
    assert [p.field for p in exc.value.problems] == ["approver.id"]
    with pytest.raises(enforcers.InvalidTransaction):
        enforcers.parse_transaction(DUPLICATED.encode("utf-8"))
    plain = DUPLICATED.replace(', "id": "alice"}', "}")
    assert control_ids(enforcers, enforcers.parse_transaction(plain)) == ("APPROVE", [])


def test_mu_decide_refuses_a_duplicate_key(
    mu: Callable[..., Run], repo: Path, tmp_path: Path
) -> None:
    assert mu("generate", root=repo).code == 0
    path = tmp_path / "tx.json"
    path.write_text(DUPLICATED, encoding="utf-8")
    run = mu("decide", str(path), root=repo)
    assert run.code == 2, run.out + run.err
    assert "approver.id" in run.err and "Traceback" not in run.out + run.err
    assert "APPROVE" not in run.out and "REJECT" not in run.out
    batch = tmp_path / "batch.jsonl"
    batch.write_text(DUPLICATED + "\n", encoding="utf-8")
    run = mu("decide", "--batch", str(batch), "--jobs", "1", root=repo)
    assert run.code != 0, run.out + run.err
    assert "approver.id" in run.out + run.err
    assert "APPROVE" not in run.out and "REJECT" not in run.out


# --------------------------------------------------------------------------
# The golden suite holds the same look-alikes
# --------------------------------------------------------------------------


def test_the_golden_suite_holds_every_look_alike_of_the_issue() -> None:
    cases = {c.case_id: c for c in load_suite(REPO / "golden").cases}
    countries = {
        c.transaction.get("counterparty", c.transaction.get("beneficiary", {})).get("country")
        for c in cases.values()
        if c.expect_invalid
    }
    assert {"ir", f"I{ZWSP}R", FULLWIDTH_IR} <= countries
    approvers = {
        c.transaction["approver"]["id"]
        for c in cases.values()
        if c.expect_outcome == "REJECT"
        and "sod_initiator_approver" in (c.expect_controls or ())
        and c.transaction["initiator"]["id"] == "alice"
    }
    assert {"Alice", "alice ", f"al{ZWSP}ice", FULLWIDTH_ALICE} <= approvers
    invalid_ids = {
        c.transaction.get(party, {}).get("id")
        for c in cases.values()
        for party in ("initiator", "approver", "executor")
        if c.expect_invalid == (f"{party}.id",)
    }
    assert {"", "  "} <= invalid_ids


def test_the_look_alike_golden_cases_pass(enforcers: ModuleType) -> None:
    cases = [c for c in load_suite(REPO / "golden").cases if c.file.endswith("lookalikes.toml")]
    assert len(cases) >= 17
    failed = [(c.case_id, r.mismatches) for c in cases if (r := run_case(enforcers, c)).mismatches]
    assert failed == []
