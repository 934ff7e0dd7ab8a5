"""The generated runtime: decision semantics, fail-closed validation, actions."""

from __future__ import annotations

import ast
import json
import re
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.compile.ir import ConditionIR
from mu.generator.compile.render import render_package
from tests.fixtures_ir import (
    control_ir,
    load_package,
    sample_controls,
    sample_package_ir,
    sample_transaction,
    with_control,
    with_controls,
)


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return render_package(sample_package_ir())


@pytest.fixture(scope="module")
def pkg(files: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return load_package(files, tmp_path_factory.mktemp("enforcers"))


def wire(**overrides: Any) -> dict[str, Any]:
    """A valid wire_transfer (counterparty.country is required there)."""
    return sample_transaction(type="wire_transfer", **overrides)


def problems_of(pkg: ModuleType, transaction: object) -> dict[str, str]:
    """The problems of an invalid transaction, field → message."""
    with pytest.raises(pkg.InvalidTransaction) as info:
        pkg.evaluate(transaction)
    return {p.field: p.message for p in info.value.problems}


def statuses(decision: Any) -> dict[str, str]:
    return {t.control_id: t.status for t in decision.trace}


# -- the public API ----------------------------------------------------------


def test_public_api(pkg: ModuleType) -> None:
    for name in (
        "evaluate",
        "Decision",
        "Reason",
        "Action",
        "ControlTrace",
        "InvalidTransaction",
        "EnforcementError",
        "run_actions",
        "ActionReport",
        "GENERATOR_VERSION",
    ):
        assert name in pkg.__all__
        assert hasattr(pkg, name)
    assert pkg.GENERATOR_VERSION == "0.1.0"
    assert issubclass(pkg.InvalidTransaction, ValueError)
    assert issubclass(pkg.EnforcementError, RuntimeError)


def test_generated_package_imports_only_the_standard_library(files: dict[str, bytes]) -> None:
    forbidden_calls = {"eval", "exec", "compile", "__import__"}
    for path, data in files.items():
        if not path.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(data)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in sys.stdlib_module_names, (path, alias.name)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module is not None
                assert node.module.split(".")[0] in sys.stdlib_module_names, (path, node.module)
            elif isinstance(node, ast.Name):
                assert node.id not in forbidden_calls, (path, node.id)


def test_approves_a_plain_transaction(pkg: ModuleType) -> None:
    decision = pkg.evaluate(sample_transaction())
    assert decision.outcome == "APPROVE"
    assert decision.reasons == ()
    assert [(a.kind, a.control_id, a.targets) for a in decision.actions] == [
        ("ledger", "record_ledger", ("payments-ledger",))
    ]
    assert statuses(decision) == {
        "approval_over_100k": "passed",
        "notify_compliance": "passed",
        "record_ledger": "fired",
        "sanctioned_country": "skipped",
        "sod_three_way": "passed",
    }
    assert [t.control_id for t in decision.trace] == sorted(statuses(decision))
    assert decision.transaction_id == "tx-1"
    assert decision.transaction_type == "vendor_payment"


def test_decision_to_dict_is_plain_json(pkg: ModuleType) -> None:
    decision = pkg.evaluate(
        sample_transaction(amount="105000.00", approver={"id": "bob", "authority": "L2"})
    )
    data = decision.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["outcome"] == "REJECT"
    assert data["reasons"] == [
        {
            "control_id": "approval_over_100k",
            "effect": "REJECT",
            "message": "amount 105000.00 USD is over 100000.00 USD; "
            "approver authority `L2` is below the required `L3`",
        }
    ]
    assert data["actions"][0] == {
        "kind": "ledger",
        "control_id": "record_ledger",
        "targets": ["payments-ledger"],
    }
    assert {"control_id": "record_ledger", "status": "fired"} in data["trace"]


def test_evaluate_is_pure(pkg: ModuleType) -> None:
    tx = sample_transaction(amount="105000.00")
    before = json.dumps(tx, sort_keys=True)
    assert pkg.evaluate(tx) == pkg.evaluate(tx)
    assert json.dumps(tx, sort_keys=True) == before


# -- approval ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "authority", "outcome"),
    [
        ("99999.99", "L1", "APPROVE"),
        ("100000.00", "L1", "APPROVE"),  # at the threshold: not strictly over
        ("100000", "L2", "APPROVE"),
        (100000, "L2", "APPROVE"),
        ("100000.01", "L2", "REJECT"),
        ("100000.001", "L2", "REJECT"),
        (100001, "L2", "REJECT"),
        ("100000.01", "L3", "APPROVE"),  # rank equal to the required one
        ("100000.01", "L5", "APPROVE"),
        ("999999999.99", "CFO", "APPROVE"),
        ("0", "L1", "APPROVE"),
    ],
)
def test_approval_threshold(pkg: ModuleType, amount: object, authority: str, outcome: str) -> None:
    tx = sample_transaction(amount=amount, approver={"id": "bob", "authority": authority})
    decision = pkg.evaluate(tx)
    assert decision.outcome == outcome
    fired = statuses(decision)["approval_over_100k"] == "fired"
    assert fired == (outcome == "REJECT")


def test_approval_message_names_amounts_and_authorities(pkg: ModuleType) -> None:
    decision = pkg.evaluate(
        sample_transaction(amount=105000, approver={"id": "bob", "authority": "L1"})
    )
    assert decision.reasons[0].message == (
        "amount 105000 USD is over 100000.00 USD; "
        "approver authority `L1` is below the required `L3`"
    )


def test_approval_only_in_its_currency(tmp_path: Path) -> None:
    eur = control_ir(
        control_id="approval_eur",
        kind="approval",
        amount_threshold="50000",
        currency="EUR",
        required_authority="L4",
    )
    pkg = load_package(render_package(with_control(sample_package_ir(), eur)), tmp_path)
    low = {"id": "bob", "authority": "L3"}
    usd = pkg.evaluate(sample_transaction(amount="60000", approver=low))
    assert usd.outcome == "APPROVE"
    euro = pkg.evaluate(sample_transaction(amount="60000", currency="EUR", approver=low))
    assert euro.outcome == "REJECT"
    assert [r.control_id for r in euro.reasons] == ["approval_eur"]
    assert statuses(euro)["approval_over_100k"] == "passed"


@settings(max_examples=200, deadline=None)
@given(
    cents=st.integers(min_value=0, max_value=10**9),
    rank=st.sampled_from(["L1", "L2", "L3", "L4", "L5", "CFO"]),
)
def test_approval_matches_the_rule(pkg: ModuleType, cents: int, rank: str) -> None:
    amount = Decimal(cents) / 100
    tx = sample_transaction(amount=f"{amount:.2f}", approver={"id": "bob", "authority": rank})
    ranks = {"L1": 1, "L2": 2, "L3": 3, "L4": 4, "L5": 5, "CFO": 10}
    expected = "REJECT" if amount > Decimal("100000.00") and ranks[rank] < 3 else "APPROVE"
    assert pkg.evaluate(tx).outcome == expected


# -- segregation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (("a", "b", "c"), None),
        (("a", "a", "c"), "initiator and approver are the same person (`a`)"),
        (("a", "b", "b"), "approver and executor are the same person (`b`)"),
        (("a", "b", "a"), "initiator and executor are the same person (`a`)"),
        (("a", "a", "a"), "initiator, approver and executor are the same person (`a`)"),
        # Ids are compared in normal form (SPEC §3): case, width, invisible
        # characters and surrounding white space do not make another person.
        (("A", "a", "a "), "initiator, approver and executor are the same person (`a`)"),
        (
            ("alice", "\uff41lice", "al\u200bice"),
            "initiator, approver and executor are the same person (`alice`)",
        ),
    ],
)
def test_segregation_of_duties(
    pkg: ModuleType, ids: tuple[str, str, str], message: str | None
) -> None:
    initiator, approver, executor = ids
    tx = sample_transaction(
        initiator={"id": initiator},
        approver={"id": approver, "authority": "L2"},
        executor={"id": executor},
    )
    decision = pkg.evaluate(tx)
    if message is None:
        assert decision.outcome == "APPROVE"
        assert statuses(decision)["sod_three_way"] == "passed"
    else:
        assert decision.outcome == "REJECT"
        assert [(r.control_id, r.effect) for r in decision.reasons] == [("sod_three_way", "REJECT")]
        assert decision.reasons[0].message == "segregation of duties: " + message


# -- conditions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "outcome"), [("IR", "REJECT"), ("KP", "REJECT"), ("ir", "APPROVE")]
)
def test_condition_reject(pkg: ModuleType, country: str, outcome: str) -> None:
    decision = pkg.evaluate(sample_transaction(counterparty={"country": country}))
    assert decision.outcome == outcome
    if outcome == "REJECT":
        assert decision.reasons == (
            pkg.Reason("sanctioned_country", "REJECT", "Counterparty is in a sanctioned country"),
        )
        assert statuses(decision)["sanctioned_country"] == "fired"
    else:
        assert statuses(decision)["sanctioned_country"] == "skipped"


@pytest.mark.parametrize(
    ("amount", "authority", "outcome"),
    [
        ("2000000.00", "L4", "REVIEW"),
        ("2000000.00", "CFO", "REVIEW"),
        ("1000000.00", "L4", "APPROVE"),
        ("2000000.00", "L3", "APPROVE"),
        ("2000000.00", "L2", "REJECT"),
    ],
)
def test_condition_review_with_authority_rank(
    pkg: ModuleType, amount: str, authority: str, outcome: str
) -> None:
    decision = pkg.evaluate(wire(amount=amount, approver={"id": "bob", "authority": authority}))
    assert decision.outcome == outcome
    if outcome == "REVIEW":
        assert [(r.control_id, r.effect) for r in decision.reasons] == [("board_review", "REVIEW")]


def test_reject_beats_review_and_reasons_are_sorted(pkg: ModuleType) -> None:
    tx = wire(
        amount="2000000.00",
        approver={"id": "alice", "authority": "L4"},
        counterparty={"country": "KP"},
    )
    decision = pkg.evaluate(tx)
    assert decision.outcome == "REJECT"
    assert [r.control_id for r in decision.reasons] == [
        "board_review",
        "sanctioned_country",
        "sod_three_way",
    ]
    assert [r.effect for r in decision.reasons] == ["REVIEW", "REJECT", "REJECT"]


def test_trace_lists_only_controls_of_the_type(pkg: ModuleType) -> None:
    vendor = pkg.evaluate(sample_transaction())
    wire_decision = pkg.evaluate(wire())
    assert "board_review" not in statuses(vendor)
    assert statuses(wire_decision)["board_review"] == "skipped"


def test_optional_field_needed_by_a_condition_fails_closed(pkg: ModuleType) -> None:
    tx = sample_transaction()
    del tx["counterparty"]
    problems = problems_of(pkg, tx)
    assert list(problems) == ["counterparty.country"]
    assert "sanctioned_country" in problems["counterparty.country"]
    problems = problems_of(pkg, sample_transaction(counterparty={"country": None}))
    assert list(problems) == ["counterparty.country"]


def test_unknown_authority_in_a_condition_fails_closed(tmp_path: Path) -> None:
    odd = control_ir(
        control_id="odd_rank",
        kind="condition",
        when=ConditionIR("approver.authority >= ZZ", "(tx.rank('ZZ') > 0)", ()),
        effect="REVIEW",
        message="m",
    )
    pkg = load_package(render_package(with_control(sample_package_ir(), odd)), tmp_path)
    with pytest.raises(pkg.EnforcementError, match="ZZ"):
        pkg.evaluate(sample_transaction())


def test_condition_reading_an_undeclared_field_fails_closed(tmp_path: Path) -> None:
    odd = control_ir(
        control_id="odd_field",
        kind="condition",
        when=ConditionIR("nope = 1", "(tx['nope'] == 1)", ("nope",)),
        effect="REVIEW",
        message="m",
    )
    pkg = load_package(render_package(with_control(sample_package_ir(), odd)), tmp_path)
    with pytest.raises(pkg.EnforcementError, match="nope"):
        pkg.evaluate(sample_transaction())


def test_a_failing_control_is_an_enforcement_error(pkg: ModuleType) -> None:
    boom = ModuleType("boom")

    def when(tx: Any) -> bool:
        raise ZeroDivisionError("boom")

    boom.__dict__.update(
        CONTROL_ID="boom",
        KIND="condition",
        LABEL="b",
        OWNER="o",
        APPLIES_TO=("vendor_payment",),
        DEPENDS_ON=(),
        CONDITION_TEXT="x",
        EFFECT="REJECT",
        MESSAGE="m",
        when=when,
    )
    engine = pkg.runtime.Engine(
        types=pkg.schema.TYPES, authorities=pkg.schema.AUTHORITIES, controls=[boom]
    )
    with pytest.raises(pkg.EnforcementError, match="boom"):
        engine.evaluate(sample_transaction())


# -- validation --------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "1e5x",
        "1e5",
        "NaN",
        "Infinity",
        " 1",
        "1 ",
        "1.",
        ".5",
        "+1",
        "1,000",
        "",
        "٣",
        "0x10",
        "1_000",
        "1.5\n",
    ],
)
def test_amount_must_be_plain_decimal_notation(pkg: ModuleType, bad: str) -> None:
    problems = problems_of(pkg, sample_transaction(amount=bad))
    assert list(problems) == ["amount"]
    assert "decimal" in problems["amount"]


def test_float_amount_is_refused_with_advice(pkg: ModuleType) -> None:
    problems = problems_of(pkg, sample_transaction(amount=105000.0))
    assert list(problems) == ["amount"]
    assert "as a string" in problems["amount"]


@pytest.mark.parametrize("amount", ["-1", "-0.01", -5])
def test_negative_amount_is_refused(pkg: ModuleType, amount: object) -> None:
    problems = problems_of(pkg, sample_transaction(amount=amount))
    assert "negative" in problems["amount"]


@pytest.mark.parametrize("amount", [True, False, None, [], {}])
def test_amount_of_the_wrong_type(pkg: ModuleType, amount: object) -> None:
    assert list(problems_of(pkg, sample_transaction(amount=amount))) == ["amount"]


def test_python_callers_may_pass_finite_decimals(pkg: ModuleType) -> None:
    decision = pkg.evaluate(sample_transaction(amount=Decimal("100000.01")))
    assert decision.outcome == "REJECT"
    assert list(problems_of(pkg, sample_transaction(amount=Decimal("NaN")))) == ["amount"]


def test_missing_required_fields(pkg: ModuleType) -> None:
    tx = sample_transaction()
    del tx["currency"]
    tx["executor"] = {}
    tx["approver"] = {"id": None, "authority": "L2"}
    problems = problems_of(pkg, tx)
    assert list(problems) == ["currency", "approver.id", "executor.id"]
    assert all("missing" in m for m in problems.values())


def test_a_path_through_a_non_object(pkg: ModuleType) -> None:
    problems = problems_of(pkg, sample_transaction(approver="bob"))
    assert list(problems) == ["approver.id", "approver.authority"]
    assert "`approver`" in problems["approver.id"]


def test_unknown_authority_names_it_and_the_known_codes(pkg: ModuleType) -> None:
    problems = problems_of(pkg, sample_transaction(approver={"id": "bob", "authority": "L9"}))
    message = problems["approver.authority"]
    assert "`L9`" in message
    for code in ("L1", "L2", "L3", "L4", "L5", "CFO"):
        assert f"`{code}`" in message


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("batch_size", 3, True),
        ("batch_size", True, False),
        ("batch_size", "3", False),
        ("batch_size", 3.0, False),
        ("urgent", True, True),
        ("urgent", 1, False),
        ("urgent", "true", False),
        ("fee", "12.50", True),
        ("fee", 12, True),
        ("fee", 12.5, False),
        ("fee", "-1.00", True),  # only `amount` must be non-negative
        ("reviewer", {"authority": "CFO"}, True),
        ("reviewer", {"authority": "cfo"}, False),
        ("reviewer", {"authority": 3}, False),
        ("counterparty", {"country": 7}, False),
    ],
)
def test_declared_field_datatypes(pkg: ModuleType, field: str, value: object, ok: bool) -> None:
    tx = wire(**{field: value})
    if ok:
        assert pkg.evaluate(tx).outcome == "APPROVE"
    else:
        (path,) = problems_of(pkg, tx)
        assert path.split(".")[0] == field


def test_bool_is_not_an_integer_for_core_strings_either(pkg: ModuleType) -> None:
    problems = problems_of(pkg, sample_transaction(id=7, currency=True))
    assert list(problems) == ["id", "currency"]


def test_unknown_type(pkg: ModuleType) -> None:
    problems = problems_of(pkg, sample_transaction(type="payroll"))
    assert list(problems) == ["type"]
    assert "`payroll`" in problems["type"]
    assert "`vendor_payment`" in problems["type"] and "`wire_transfer`" in problems["type"]


@pytest.mark.parametrize("transaction", [None, [], "tx", 3, [("type", "vendor_payment")]])
def test_not_a_mapping(pkg: ModuleType, transaction: object) -> None:
    with pytest.raises(pkg.InvalidTransaction) as info:
        pkg.evaluate(transaction)
    assert len(info.value.problems) == 1
    assert "object" in str(info.value)


def test_every_problem_is_listed_in_one_error(pkg: ModuleType) -> None:
    tx = {
        "type": "wire_transfer",
        "amount": 1.5,
        "currency": "EUR",
        "initiator": {"id": "a"},
        "approver": {"id": "b", "authority": "L9"},
        "fee": "1e5x",
        "batch_size": False,
    }
    with pytest.raises(pkg.InvalidTransaction) as info:
        pkg.evaluate(tx)
    fields = [p.field for p in info.value.problems]
    assert fields == [
        "id",
        "amount",
        "approver.authority",
        "executor.id",
        "batch_size",
        "counterparty.country",
        "fee",
        "currency",
    ]
    message = str(info.value)
    assert message.startswith("invalid transaction (8 problems): ")
    for field in fields:
        assert f"`{field}`" in message


def test_unknown_type_still_checks_the_core_fields(pkg: ModuleType) -> None:
    problems = problems_of(pkg, {"type": "payroll", "amount": "1e5"})
    assert list(problems)[:3] == ["type", "id", "amount"]
    assert "executor.id" in problems


def test_extra_fields_are_ignored(pkg: ModuleType) -> None:
    assert pkg.evaluate(sample_transaction(note={"free": "text"})).outcome == "APPROVE"


# -- currency coverage -------------------------------------------------------


def test_uncovered_currency_fails_closed(pkg: ModuleType) -> None:
    problems = problems_of(pkg, sample_transaction(currency="EUR", amount="1"))
    assert list(problems) == ["currency"]
    assert "`EUR`" in problems["currency"] and "`USD`" in problems["currency"]


def test_no_approval_rules_means_no_currency_check(tmp_path: Path) -> None:
    controls = [c for c in sample_controls() if c.kind != "approval"]
    pkg = load_package(render_package(with_controls(sample_package_ir(), controls)), tmp_path)
    assert pkg.evaluate(sample_transaction(currency="JPY")).outcome == "APPROVE"


# -- actions -----------------------------------------------------------------


def test_actions_follow_depends_on_then_id(pkg: ModuleType) -> None:
    decision = pkg.evaluate(sample_transaction(counterparty={"country": "IR"}))
    # notify_compliance sorts first by id but depends on record_ledger.
    assert [(a.kind, a.control_id) for a in decision.actions] == [
        ("ledger", "record_ledger"),
        ("notify", "notify_compliance"),
    ]
    assert decision.actions[1].targets == ("compliance@acme.example", "risk@acme.example")
    assert statuses(decision)["notify_compliance"] == "fired"


def test_on_outcome_filters_actions(pkg: ModuleType) -> None:
    approved = pkg.evaluate(sample_transaction())
    assert [a.control_id for a in approved.actions] == ["record_ledger"]
    assert statuses(approved)["notify_compliance"] == "passed"
    review = pkg.evaluate(wire(amount="2000000.00", approver={"id": "bob", "authority": "L4"}))
    assert review.outcome == "REVIEW"
    assert [a.control_id for a in review.actions] == ["record_ledger", "notify_compliance"]


def test_action_control_with_a_false_condition_is_skipped(tmp_path: Path) -> None:
    urgent_only = control_ir(
        control_id="page_oncall",
        kind="notification",
        applies_to=("wire_transfer",),
        when=ConditionIR("urgent", "(tx['urgent'] == True)", ("urgent",)),
        recipients=("oncall@acme.example",),
    )
    pkg = load_package(render_package(with_control(sample_package_ir(), urgent_only)), tmp_path)
    calm = pkg.evaluate(wire(urgent=False))
    assert statuses(calm)["page_oncall"] == "skipped"
    assert "page_oncall" not in [a.control_id for a in calm.actions]
    loud = pkg.evaluate(wire(urgent=True))
    assert statuses(loud)["page_oncall"] == "fired"
    assert loud.outcome == "APPROVE"  # actions never change the outcome
    # The optional field is absent: the condition cannot be decided.
    assert list(problems_of(pkg, wire())) == ["urgent"]


def ledger(control_id: str, *deps: str) -> Any:
    return control_ir(control_id=control_id, kind="audit_log", ledger=control_id, depends_on=deps)


def test_topological_order_breaks_ties_by_id(tmp_path: Path) -> None:
    controls = [
        ledger("e"),
        ledger("d", "e"),
        ledger("c"),
        ledger("b", "d", "c"),
        ledger("a", "b"),
        ledger("f"),
    ]
    pkg = load_package(render_package(with_controls(sample_package_ir(), controls)), tmp_path)
    expected = ("c", "e", "d", "b", "a", "f")
    assert expected == pkg.dispatch.ORDER
    decision = pkg.evaluate(sample_transaction())
    assert tuple(a.control_id for a in decision.actions) == expected


@pytest.mark.parametrize(
    ("controls", "match"),
    [
        ([ledger("a", "b"), ledger("b", "a")], "cycle"),
        ([ledger("a", "a")], "cycle"),
        ([ledger("a", "ghost")], "ghost"),
    ],
)
def test_broken_dependencies_fail_at_import(
    tmp_path: Path, controls: list[Any], match: str
) -> None:
    files = render_package(with_controls(sample_package_ir(), controls))
    with pytest.raises(RuntimeError, match=match):
        load_package(files, tmp_path)


# -- run_actions -------------------------------------------------------------


@pytest.fixture
def rejected(pkg: ModuleType) -> Any:
    decision = pkg.evaluate(sample_transaction(counterparty={"country": "IR"}))
    assert [a.kind for a in decision.actions] == ["ledger", "notify"]
    return decision


def test_run_actions_delivers_in_order(pkg: ModuleType, rejected: Any) -> None:
    calls: list[tuple[str, str]] = []
    handlers = {
        "ledger": lambda a, d: calls.append(("ledger", d.outcome)),
        "notify": lambda a, d: calls.append(("notify", a.targets[0])),
    }
    report = pkg.run_actions(rejected, handlers)
    assert calls == [("ledger", "REJECT"), ("notify", "compliance@acme.example")]
    assert report.delivered == rejected.actions
    assert report.dead_letters == ()


def test_run_actions_retries_then_succeeds(pkg: ModuleType, rejected: Any) -> None:
    attempts = {"notify": 0}

    def flaky(action: Any, decision: Any) -> None:
        attempts["notify"] += 1
        if attempts["notify"] < 3:
            raise ConnectionError("smtp down")

    report = pkg.run_actions(rejected, {"ledger": lambda a, d: None, "notify": flaky})
    assert attempts["notify"] == 3
    assert [a.kind for a in report.delivered] == ["ledger", "notify"]
    assert report.dead_letters == ()


def test_run_actions_dead_letters_are_isolated_and_recorded(
    pkg: ModuleType, rejected: Any, tmp_path: Path
) -> None:
    calls = {"notify": 0}

    def broken(action: Any, decision: Any) -> None:
        calls["notify"] += 1
        raise OSError("smtp offline")

    before = rejected.to_dict()
    path = tmp_path / "dead.jsonl"
    delivered: list[Any] = []
    handlers = {"ledger": lambda a, d: delivered.append(a), "notify": broken}
    report = pkg.run_actions(rejected, handlers, max_attempts=4, dead_letter_path=path)
    assert calls["notify"] == 4
    assert [a.kind for a in report.delivered] == ["ledger"] == [a.kind for a in delivered]
    (letter,) = report.dead_letters
    assert letter.action.kind == "notify" and letter.attempts == 4
    assert letter.error == "OSError: smtp offline"
    assert report.dead_letter_error is None
    assert rejected.to_dict() == before
    record = json.loads(path.read_text(encoding="utf-8"))
    given_up = record.pop("at")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", given_up)
    assert record == {
        "transaction_id": "tx-1",
        "transaction_type": "vendor_payment",
        "outcome": "REJECT",
        "action": {
            "kind": "notify",
            "control_id": "notify_compliance",
            "targets": ["compliance@acme.example", "risk@acme.example"],
        },
        "attempts": 4,
        "error": "OSError: smtp offline",
    }
    pkg.run_actions(rejected, handlers, dead_letter_path=str(path))
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2  # appended


def test_run_actions_holds_an_action_whose_dependency_failed(
    pkg: ModuleType, rejected: Any
) -> None:
    """SPEC §3: the alert depends on the ledger entry; a failed ledger write holds it."""
    sent: list[Any] = []

    def broken(action: Any, decision: Any) -> None:
        raise OSError("ledger offline")

    report = pkg.run_actions(rejected, {"ledger": broken, "notify": lambda a, d: sent.append(a)})
    assert sent == [] and report.delivered == ()
    ledger, alert = report.dead_letters
    assert (ledger.action.kind, ledger.attempts) == ("ledger", 3)
    assert (alert.action.kind, alert.attempts) == ("notify", 0)
    assert alert.error == "held: `record_ledger` was not delivered"


def test_run_actions_missing_handler_is_a_dead_letter(pkg: ModuleType, rejected: Any) -> None:
    report = pkg.run_actions(rejected, {"ledger": lambda a, d: None})
    assert [a.kind for a in report.delivered] == ["ledger"]
    (letter,) = report.dead_letters
    assert letter.action.kind == "notify" and letter.attempts == 0
    assert "no handler" in letter.error


def test_run_actions_never_raises(pkg: ModuleType, rejected: Any, tmp_path: Path) -> None:
    def always(action: Any, decision: Any) -> None:
        raise ValueError("nope")

    report = pkg.run_actions(
        rejected, {"ledger": always, "notify": always}, max_attempts=0, dead_letter_path=tmp_path
    )
    assert [d.attempts for d in report.dead_letters] == [1, 0]  # the notify is held
    assert report.delivered == ()
    assert report.dead_letter_error is not None  # tmp_path is a directory


def test_run_actions_backs_off_exponentially(
    pkg: ModuleType, rejected: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(pkg.runtime.time, "sleep", sleeps.append)

    def always(action: Any, decision: Any) -> None:
        raise ValueError("nope")

    pkg.run_actions(rejected, {"ledger": always, "notify": lambda a, d: None}, backoff_seconds=0.5)
    assert sleeps == [0.5, 1.0]


def test_run_actions_with_no_actions(pkg: ModuleType) -> None:
    decision = pkg.evaluate(sample_transaction())
    empty = pkg.Decision("APPROVE", (), (), decision.trace)
    report = pkg.run_actions(empty, {})
    assert report == pkg.ActionReport((), ())
