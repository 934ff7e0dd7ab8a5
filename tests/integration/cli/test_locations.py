"""Errors name the file the user can open: `--input DIR` is reported as DIR, never
as a hard-coded `ontology/`; syntax errors carry line and column (SPEC §7)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

from tests.conftest import DATA, REPO, Run

Mu = Callable[..., Run]
SARIF_SCHEMA = DATA / "sarif" / "sarif-schema-2.1.0.json"


def sarif_log(text: str) -> dict[str, Any]:
    """`text` as a SARIF log, valid against the official 2.1.0 schema (which it declares)."""
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    log: dict[str, Any] = json.loads(text)
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    return log


def places(log: dict[str, Any]) -> list[tuple[str, int, int | None]]:
    """Each result's file, line and column."""
    out = []
    for result in log["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        uri, region = physical["artifactLocation"]["uri"], physical["region"]
        out.append((uri, region["startLine"], region.get("startColumn")))
    return out


def _ontology_with_a_violation(tmp_path: Path) -> Path:
    """A copy of the shipped ontology outside any repository, with one bad control id."""
    x = tmp_path / "x"
    shutil.copytree(REPO / "ontology", x)
    approvals = x / "controls" / "approvals.ttl"
    text = approvals.read_text(encoding="utf-8")
    assert '"approval_over_10k"' in text
    approvals.write_text(text.replace('"approval_over_10k"', '"Bad-Id"', 1), encoding="utf-8")
    return x


def test_generate_with_input_names_files_under_that_directory(
    mu: Mu, repo: Path, tmp_path: Path
) -> None:
    x = _ontology_with_a_violation(tmp_path)
    expected = f"{x.as_posix()}/controls/approvals.ttl"
    out = str(tmp_path / "out")

    text = mu("generate", "--input", str(x), "--output", out, root=repo)
    assert text.code == 1, text.out + text.err
    assert f"  - violation: {expected}: ex:ApprovalOver10k" in text.err
    assert "ontology/" not in text.err
    assert not Path(out).exists()

    as_json = mu("generate", "--input", str(x), "--output", out, "--format", "json", root=repo)
    assert as_json.code == 1
    error = json.loads(as_json.out)
    assert error["code"] == 1 and "does not conform" in error["error"] and error["hint"]
    files = {p["location"]["file"] for p in error["problems"] if "location" in p}
    assert files == {expected}


def test_validate_with_input_names_files_under_that_directory(
    mu: Mu, repo: Path, tmp_path: Path
) -> None:
    x = _ontology_with_a_violation(tmp_path)
    expected = f"{x.as_posix()}/controls/approvals.ttl"

    text = mu("validate", "--input", str(x), root=repo)
    assert text.code == 1
    assert f"  - violation: {expected}: ex:ApprovalOver10k" in text.out

    as_json = mu("validate", "--input", str(x), "--format", "json", root=repo)
    assert as_json.code == 1
    assert {v["file"] for v in json.loads(as_json.out)["violations"]} == {expected}

    as_sarif = mu("validate", "--input", str(x), "--format", "sarif", root=repo)
    assert as_sarif.code == 1
    sarif = sarif_log(as_sarif.out)
    lines = (x / "controls" / "approvals.ttl").read_text(encoding="utf-8").splitlines()
    line = lines.index("ex:ApprovalOver10k a mu:ApprovalRule ;") + 1
    assert places(sarif) == [(expected, line, 1)]


def test_the_repository_ontology_is_named_from_the_repository_root(mu: Mu, repo: Path) -> None:
    # Without --input, files are named as receipts and SARIF name them: `ontology/…`.
    approvals = repo / "ontology" / "controls" / "approvals.ttl"
    text = approvals.read_text(encoding="utf-8")
    approvals.write_text(text.replace('"approval_over_10k"', '"Bad-Id"', 1), encoding="utf-8")
    run = mu("generate", root=repo)
    assert run.code == 1
    assert "  - violation: ontology/controls/approvals.ttl: ex:ApprovalOver10k" in run.err


def test_a_turtle_syntax_error_has_line_and_column_in_text_and_json(
    mu: Mu, repo: Path
) -> None:
    broken = repo / "ontology" / "controls" / "broken.ttl"
    broken.write_text('@prefix ex: <https://acme.example/policy#> .\n\nex:a ex:b "open .\n')
    shown = f"{(repo / 'ontology').as_posix()}/controls/broken.ttl"
    for command in ("validate", "generate"):
        text = mu(command, root=repo)
        assert text.code == 2
        assert f"  --> {shown}:3:18\n" in text.err
        as_json = mu(command, "--format", "json", root=repo)
        assert as_json.code == 2
        location = json.loads(as_json.out)["location"]
        assert location == {"file": shown, "line": 3, "column": 18}


def test_every_failure_under_sarif_is_a_sarif_log_with_the_exit_code_of_spec_7(
    mu: Mu, repo: Path, tmp_path: Path
) -> None:
    # A Turtle syntax error: exit 2, and a result on its file, line and column.
    broken = repo / "ontology" / "controls" / "broken.ttl"
    broken.write_text('@prefix ex: <https://acme.example/policy#> .\n\nex:a ex:b "open .\n')
    run = mu("validate", "--format", "sarif", root=repo)
    assert run.code == 2 and run.err == ""
    log = sarif_log(run.out)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    assert "turtle syntax error" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    shown = f"{(repo / 'ontology').as_posix()}/controls/broken.ttl"
    assert places(log) == [(shown, 3, 18)]
    # No ontology directory at all: exit 2, a notification and no result.
    missing = mu("validate", "--input", str(tmp_path / "nope"), "--format", "sarif", root=repo)
    assert missing.code == 2
    log = sarif_log(missing.out)
    assert log["runs"][0]["results"] == []
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert "does not exist" in notes[0]["message"]["text"]


def test_a_golden_toml_error_has_line_and_column(mu: Mu, repo: Path) -> None:
    assert mu("generate", root=repo).code == 0
    (repo / "golden" / "broken.toml").write_text("[[case]]\nid = = 1\n", encoding="utf-8")
    text = mu("test", root=repo)
    assert text.code == 2
    assert "  - golden/broken.toml:2:6: not valid TOML" in text.err
    run = mu("test", "--format", "json", root=repo)
    assert run.code == 2, run.out + run.err
    problems = json.loads(run.out)["problems"]
    located = [p["location"] for p in problems if "location" in p]
    assert {"file": "golden/broken.toml", "line": 2, "column": 6} in located


def test_a_transaction_json_error_has_line_and_column(
    mu: Mu, repo: Path, tmp_path: Path
) -> None:
    tx = tmp_path / "tx.json"
    tx.write_text('{\n  "id": x}\n', encoding="utf-8")
    assert mu("generate", root=repo).code == 0
    run = mu("decide", str(tx), root=repo)
    assert run.code == 2
    assert f"  --> {tx}:2:9\n" in run.err
