"""The command line in-process (click's CliRunner): exit codes and messages of
SPEC §7 for the good path and for every kind of bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import DATA, Run

Mu = Callable[..., Run]

TX = {
    "id": "tx-1",
    "type": "vendor_payment",
    "amount": "105000.00",
    "currency": "USD",
    "initiator": {"id": "alice"},
    "approver": {"id": "bob", "authority": "L2"},
    "executor": {"id": "carol"},
    "counterparty": {"country": "DE", "is_new": False, "risk_score": 10},
    "invoice": {"id": "INV-1"},
}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.out + run.err


def test_validate_passes_on_the_example(mu: Mu, repo: Path) -> None:
    run = mu("validate", root=repo)
    assert run.code == 0, run.err
    assert run.out.startswith("ok: the ontology conforms")


def test_turtle_syntax_error_names_file_and_line(mu: Mu, repo: Path) -> None:
    bad = repo / "ontology" / "controls" / "broken.ttl"
    bad.write_text('@prefix ex: <https://acme.example/policy#> .\n\nex:a ex:b "open .\n')
    for command in (["validate"], ["generate"], ["build"]):
        run = mu(*command, root=repo)
        assert run.code == 2, command
        assert "controls/broken.ttl:3" in run.err
        no_traceback(run)


@pytest.mark.slow
def test_every_shacl_violation_is_listed_with_focus_path_and_shape(mu: Mu, repo: Path) -> None:
    approvals = repo / "ontology" / "controls" / "approvals.ttl"
    edit(approvals, '"approval_over_10k"', '"Approval-Over-10k"')
    edit(approvals, '"100000.00"^^xsd:decimal', '"-5.00"^^xsd:decimal')
    edit(
        approvals,
        'mu:currency "USD" ;\n    mu:requiredAuthority ex:CFO',
        'mu:currency "usd" ;\n    mu:requiredAuthority ex:CFO',
    )
    run = mu("validate", "--format", "json", root=repo)
    assert run.code == 1
    found = json.loads(run.out)
    assert found["conforms"] is False
    triples = {(v["focus"], v["path"], v["file"]) for v in found["violations"]}
    assert ("ex:ApprovalOver10k", "mu:controlId", "ontology/controls/approvals.ttl") in triples
    assert (
        "ex:ApprovalOver100k",
        "mu:amountThreshold",
        "ontology/controls/approvals.ttl",
    ) in triples
    assert ("ex:ApprovalOver1m", "mu:currency", "ontology/controls/approvals.ttl") in triples
    assert all(v["shape"] for v in found["violations"])

    text = mu("validate", root=repo)
    assert text.code == 1
    assert "3 violation(s)" in text.out
    assert "ex:ApprovalOver100k (path mu:amountThreshold) [shape " in text.out

    run = mu("validate", "--format", "sarif", root=repo)
    assert run.code == 1
    sarif = json.loads(run.out)
    schema = json.loads((DATA / "sarif" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(sarif)
    # Each result on the line where its control starts, in the file that describes it.
    lines = approvals.read_text(encoding="utf-8").splitlines()
    expected = {
        ("ontology/controls/approvals.ttl", lines.index(f"{focus} a mu:ApprovalRule ;") + 1, 1)
        for focus in ("ex:ApprovalOver10k", "ex:ApprovalOver100k", "ex:ApprovalOver1m")
    }
    places = {
        (
            loc["physicalLocation"]["artifactLocation"]["uri"],
            loc["physicalLocation"]["region"]["startLine"],
            loc["physicalLocation"]["region"]["startColumn"],
        )
        for result in sarif["runs"][0]["results"]
        for loc in result["locations"]
    }
    assert len(sarif["runs"][0]["results"]) == 3 and places == expected

    generate = mu("generate", "--output", str(repo / "out"), root=repo)
    assert generate.code == 1
    assert not (repo / "out").exists()  # nothing is generated from a non-conforming O
    no_traceback(generate)


def test_condition_that_does_not_parse_names_control_and_column(mu: Mu, repo: Path) -> None:
    fraud = repo / "ontology" / "controls" / "fraud.ttl"
    edit(fraud, '"counterparty.risk_score >= 80"', '"counterparty.risk_score >= "')
    run = mu("validate", root=repo)
    assert run.code == 1
    assert re.search(r"control `fraud_high_risk_vendor`, column 27: .*expected", run.out), run.out
    no_traceback(run)


def test_condition_that_does_not_type_check_names_control_and_column(mu: Mu, repo: Path) -> None:
    fraud = repo / "ontology" / "controls" / "fraud.ttl"
    edit(fraud, '"counterparty.risk_score >= 80"', '"counterparty.risk_score >= \\"high\\""')
    edit(fraud, '"receipt.attached = false and amount > 75.00"', '"no.such.field = false"')
    run = mu("validate", root=repo)
    assert run.code == 1
    assert "control `fraud_high_risk_vendor`, column" in run.out
    assert "control `fraud_expense_without_receipt`, column 1" in run.out
    assert "2 violation(s)" in run.out


@pytest.mark.slow
def test_generate_check_detects_a_hand_edit(mu: Mu, repo: Path) -> None:
    assert mu("generate", root=repo).code == 0
    assert mu("generate", "--check", root=repo).code == 0
    module = repo / "enforcers" / "controls" / "approval_over_100k.py"
    module.write_bytes(module.read_bytes().replace(b"100000.00", b"900000.00"))
    run = mu("generate", "--check", root=repo)
    assert run.code == 1
    assert "changed: controls/approval_over_100k.py" in run.out
    assert b"900000.00" in module.read_bytes()  # --check writes nothing


def test_runbook_spellings_are_accepted(mu: Mu, repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "A"
    run = mu("generate", f"--input={repo / 'ontology'}", f"--output={out}")
    assert run.code == 0, run.err
    run = mu("test", f"--enforcer={out}", "--golden-suite", "--golden", str(repo / "golden"))
    assert run.code == 0, run.out + run.err


def test_test_reports_full_coverage_and_scenarios(mu: Mu, repo: Path) -> None:
    assert mu("generate", root=repo).code == 0
    run = mu("test", root=repo)
    assert run.code == 0, run.out
    assert "(100%)" in run.out
    assert re.search(r"golden: \d+ passed, 0 failed", run.out)
    one = mu("test", "--scenario", "transaction_105k_L2_actor", "--format", "json", root=repo)
    report = json.loads(one.out)
    assert [c["id"] for c in report["cases"]] == ["transaction_105k_L2_actor"]
    assert report["cases"][0]["outcome"] == "REJECT"
    assert mu("test", "--scenario", "no_such_case", root=repo).code == 2


def test_golden_file_that_is_not_toml_is_exit_2(mu: Mu, repo: Path) -> None:
    assert mu("generate", root=repo).code == 0
    (repo / "golden" / "zz_broken.toml").write_text("[[case]\nid = 'x'\n")
    run = mu("test", root=repo)
    assert run.code == 2
    assert "golden/zz_broken.toml" in run.err and "not valid TOML" in run.err
    no_traceback(run)


def test_failing_golden_case_is_exit_1(mu: Mu, repo: Path) -> None:
    assert mu("generate", root=repo).code == 0
    (repo / "golden" / "zz_wrong.toml").write_text(
        "[[case]]\nid = 'wrong'\n"
        "transaction = " + json.dumps(TX).replace('": ', '" = ').replace("false", "false") + "\n"
        "expect = { outcome = 'APPROVE' }\n"
    )
    run = mu("test", root=repo)
    assert run.code == 1
    assert "FAIL wrong" in run.out and "expected outcome APPROVE, got REJECT" in run.out


def decide(mu: Mu, repo: Path, tx: object, *extra: str) -> Run:
    path = repo / "tx.json"
    path.write_text(json.dumps(tx), encoding="utf-8")
    return mu("decide", str(path), *extra, root=repo)


def test_decide_prints_the_decision(mu: Mu, repo: Path) -> None:
    assert mu("generate", root=repo).code == 0
    run = decide(mu, repo, TX)
    assert run.code == 0, run.err
    assert run.out.startswith("REJECT")
    assert "approval_over_100k" in run.out
    data = json.loads(decide(mu, repo, TX, "--format", "json").out)
    assert data["outcome"] == "REJECT"
    twin = {**TX, "approver": {"id": "bob", "authority": "L3"}}
    assert json.loads(decide(mu, repo, twin, "--format", "json").out)["outcome"] == "APPROVE"


def test_bad_transaction_names_every_problem_and_never_approves(mu: Mu, repo: Path) -> None:
    assert mu("generate", root=repo).code == 0
    bad = {k: v for k, v in TX.items() if k != "executor"}
    bad["amount"] = "1e5x"
    bad["approver"] = {"id": "bob", "authority": "L9"}
    run = decide(mu, repo, bad)
    assert run.code == 1
    for field in ("`amount`", "`approver.authority`", "`executor.id`"):
        assert field in run.err, run.err
    assert "APPROVE" not in run.out
    no_traceback(run)
    as_json = json.loads(decide(mu, repo, bad, "--format", "json").out)
    assert len(as_json["problems"]) >= 3


def test_float_amount_is_refused(mu: Mu, repo: Path) -> None:
    assert mu("generate", root=repo).code == 0
    run = decide(mu, repo, {**TX, "amount": 105000.5})
    assert run.code == 1 and "`amount`" in run.err


def test_unreadable_transaction_is_exit_2(mu: Mu, repo: Path) -> None:
    assert mu("generate", root=repo).code == 0
    (repo / "tx.json").write_text("{not json")
    run = mu("decide", str(repo / "tx.json"), root=repo)
    assert run.code == 2 and "not valid JSON" in run.err
    assert mu("decide", str(repo / "missing.json"), root=repo).code == 2


def test_missing_enforcers_is_exit_2_with_a_hint(mu: Mu, repo: Path) -> None:
    run = mu("test", root=repo)
    assert run.code == 2
    assert "mu generate" in run.err


@pytest.mark.slow  # `mu build` runs the determinism gate in a child process
def test_build_passes_and_writes_enforcers(mu: Mu, repo: Path) -> None:
    run = mu("build", root=repo)
    assert run.code == 0, run.out + run.err
    assert "build passed" in run.out
    assert (repo / "enforcers" / "MANIFEST.json").is_file()


@pytest.mark.slow  # `mu build` runs the determinism gate in a child process
def test_build_with_a_failing_case_writes_nothing(mu: Mu, repo: Path) -> None:
    (repo / "golden" / "zz_wrong.toml").write_text(
        "[[case]]\nid = 'wrong'\n"
        "transaction = { id = 't', type = 'vendor_payment', amount = '1.00', currency = 'USD' }\n"
        "expect = { outcome = 'APPROVE' }\n"
    )
    run = mu("build", root=repo)
    assert run.code == 1
    assert "golden       FAIL" in run.out and "build failed" in run.out
    assert not (repo / "enforcers").exists()


def test_build_with_violations_writes_nothing(mu: Mu, repo: Path) -> None:
    edit(repo / "ontology" / "controls" / "approvals.ttl", '"approval_over_10k"', '"BAD"')
    run = mu("build", root=repo)
    assert run.code == 1
    assert "ontology     FAIL" in run.out
    assert "ex:ApprovalOver10k" in run.out
    assert not (repo / "enforcers").exists()
