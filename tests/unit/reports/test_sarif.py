"""SARIF that code scanning uses: every log (a report or an error) is valid against the
official OASIS SARIF 2.1.0 schema, every result sits on the line and column of its focus
node, rules describe their shapes, and fingerprints survive unrelated edits."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mu.generator.compile.pipeline import Checked, Compiled, validate_directory
from mu.generator.errors import CheckFailed, InputError, Location, MuError, Problem
from mu.generator.reports import sarif
from tests.conftest import DATA, REPO

SCHEMA = DATA / "sarif" / "sarif-schema-2.1.0.json"
VIOLATIONS = DATA / "sarif" / "violations.ttl"
REFORMATTED = DATA / "sarif" / "violations_reformatted.ttl"
EXTRA = "controls/zz_violations.ttl"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    """The schema's own validator: it declares draft-04, so Draft4Validator."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert cls is jsonschema.Draft4Validator
    cls.check_schema(schema)
    return cls(schema)


def valid(validator: jsonschema.protocols.Validator, text: str) -> dict[str, Any]:
    """The log in `text`, after checking it against the schema and what GitHub needs."""
    log: dict[str, Any] = json.loads(text)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
    assert errors == []
    assert log["version"] == "2.1.0" and log["$schema"] == sarif.SARIF_SCHEMA
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(r["id"] for r in rules)
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["defaultConfiguration"]["level"]
    for result in run["results"]:
        # Code scanning refuses a result without a file, and annotates the line it names.
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert physical["region"]["startLine"] >= 1
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert len(result["partialFingerprints"]) == 1
    return log


def _places(log: dict[str, Any]) -> list[tuple[str, int, int | None, str]]:
    out = []
    for result in log["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        region = physical["region"]
        out.append(
            (
                physical["artifactLocation"]["uri"],
                region["startLine"],
                region.get("startColumn"),
                result["ruleId"],
            )
        )
    return out


def _line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _violating(directory: Path, extra: Path) -> Path:
    """The shipped ontology, plus `extra`, and one bad control id: violations in two
    files, of core shapes and of the organisation's Σ."""
    shutil.copytree(REPO / "ontology", directory)
    shutil.copyfile(extra, directory / EXTRA)
    _edit(directory / "controls" / "approvals.ttl", '"approval_over_10k"', '"Approval-Over-10k"')
    return directory


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    """The violating ontology, validated once for the module."""
    directory = _violating(tmp_path_factory.mktemp("sarif") / "ontology", VIOLATIONS)
    return validate_directory(directory)


def test_the_schema_is_the_official_one_and_rejects_what_is_not_sarif(
    validator: jsonschema.protocols.Validator,
) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert not validator.is_valid({"version": "2.1.0", "runs": [{"results": []}]})  # no tool
    region = {"startLine": 0}  # lines are 1-based
    location = {"physicalLocation": {"artifactLocation": {"uri": "a"}, "region": region}}
    result = {"message": {"text": "m"}, "locations": [location]}
    run = {"tool": {"driver": {"name": "mu"}}, "results": [result]}
    assert not validator.is_valid({"version": "2.1.0", "runs": [run]})
    region["startLine"] = 1
    assert validator.is_valid({"version": "2.1.0", "runs": [run]})


@pytest.mark.slow
def test_the_shipped_example_is_a_log_with_no_results(
    validator: jsonschema.protocols.Validator, example_compiled: Compiled
) -> None:
    log = valid(validator, sarif.validation_sarif(example_compiled.checked, "ontology/"))
    (run,) = log["runs"]
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 0}]
    assert run["tool"]["driver"]["name"] == "mu"


@pytest.mark.slow
def test_every_result_is_on_the_line_and_column_of_its_focus_node(
    validator: jsonschema.protocols.Validator, checked: Checked
) -> None:
    log = valid(validator, sarif.validation_sarif(checked, "ontology/"))
    approvals = checked.loaded.directory / "controls" / "approvals.ttl"
    line = _line_of(approvals, "ex:ApprovalOver10k a mu:ApprovalRule ;")
    assert line == 20  # where the shipped example has it today
    assert _places(log) == [
        ("ontology/controls/approvals.ttl", line, 1, "mu:Control-controlId"),
        # `<…#BadIdRule>` on a line of its own, after a comment and before a string naming it.
        (f"ontology/{EXTRA}", 10, 1, "mu:Control-controlId"),
        # An indented subject, and a field (a blank node) placed at its transaction type.
        (f"ontology/{EXTRA}", 21, 3, "ex:FraudCheckCoverageShape"),
        (f"ontology/{EXTRA}", 21, 3, "mu:Field-datatype"),
    ]
    (run,) = log["runs"]
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]
    assert run["columnKind"] == "unicodeCodePoints"
    messages = [r["message"]["text"] for r in run["results"]]
    assert messages[1].startswith('ex:BadIdRule (path mu:controlId) value "Bad-Id": a control')


@pytest.mark.slow
def test_rules_describe_their_shapes(
    validator: jsonschema.protocols.Validator, checked: Checked
) -> None:
    log = valid(validator, sarif.validation_sarif(checked, "ontology/"))
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert sorted(rules) == [
        "ex:FraudCheckCoverageShape",
        "mu:Control-controlId",
        "mu:Field-datatype",
    ]
    org = rules["ex:FraudCheckCoverageShape"]
    assert org["name"] == "FraudCheckCoverageShape"
    assert org["helpUri"] == "https://acme.example/policy#FraudCheckCoverageShape"
    assert "Declared in `ontology/shapes/fraud_coverage.ttl`" in org["help"]["text"]
    core = rules["mu:Control-controlId"]
    assert core["shortDescription"]["text"].startswith("a control needs exactly one mu:controlId")
    assert core["helpUri"] == "urn:mu:v1#Control-controlId"
    assert "A check of mu itself" in core["help"]["text"]
    assert core["defaultConfiguration"] == {"level": "error"}


@pytest.mark.slow
def test_fingerprints_survive_reordering_and_reformatting(
    validator: jsonschema.protocols.Validator, checked: Checked, tmp_path: Path
) -> None:
    before = valid(validator, sarif.validation_sarif(checked, "ontology/"))
    moved = _violating(tmp_path / "ontology", REFORMATTED)
    approvals = moved / "controls" / "approvals.ttl"
    approvals.write_text("# an unrelated edit\n\n" + approvals.read_text(encoding="utf-8"))
    after = valid(validator, sarif.validation_sarif(validate_directory(moved), "ontology/"))

    def prints(log: dict[str, Any]) -> dict[str, tuple[str, int]]:
        out = {}
        for result in log["runs"][0]["results"]:
            physical = result["locations"][0]["physicalLocation"]
            key = result["partialFingerprints"][sarif.FINGERPRINT]
            assert re.fullmatch(r"[0-9a-f]{64}", key)
            out[key] = (physical["artifactLocation"]["uri"], physical["region"]["startLine"])
        return out

    old, new = prints(before), prints(after)
    assert len(old) == 4  # one per result: none collide
    assert set(old) == set(new)
    assert all(old[k][1] != new[k][1] for k in old)


@pytest.mark.slow
def test_the_log_is_byte_identical_each_time(checked: Checked) -> None:
    assert sarif.validation_sarif(checked, "x/") == sarif.validation_sarif(checked, "x/")


def _raised(directory: Path) -> MuError:
    with pytest.raises(MuError) as caught:
        validate_directory(directory)
    return caught.value


def test_a_turtle_syntax_error_is_a_log_with_a_result_on_its_line(
    validator: jsonschema.protocols.Validator, tmp_path: Path
) -> None:
    shutil.copytree(REPO / "ontology", tmp_path / "ontology")
    broken = tmp_path / "ontology" / "controls" / "broken.ttl"
    broken.write_text('@prefix ex: <https://acme.example/policy#> .\n\nex:a ex:b "open .\n')
    err = _raised(tmp_path / "ontology")
    assert isinstance(err, InputError)
    log = valid(validator, sarif.error_sarif(err))
    (run,) = log["runs"]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    (note,) = invocation["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("turtle syntax error in ")
    assert "\nhint: fix the Turtle at that line" in note["message"]["text"]
    shown = f"{(tmp_path / 'ontology').as_posix()}/controls/broken.ttl"
    assert _places(log) == [(shown, 3, 18, "mu:InputError")]
    assert note["locations"] == run["results"][0]["locations"]
    assert run["tool"]["driver"]["rules"][0]["id"] == "mu:InputError"


def test_a_missing_ontology_directory_is_a_log_with_a_notification(
    validator: jsonschema.protocols.Validator, tmp_path: Path
) -> None:
    log = valid(validator, sarif.error_sarif(_raised(tmp_path / "nope")))
    (run,) = log["runs"]
    assert run["results"] == []
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    (note,) = invocation["toolExecutionNotifications"]
    assert "does not exist" in note["message"]["text"] and "locations" not in note


def test_every_problem_of_an_error_is_a_notification_and_located_ones_results_too(
    validator: jsonschema.protocols.Validator,
) -> None:
    err = CheckFailed(
        "2 problem(s)",
        hint="fix them",
        problems=[
            Problem("golden/a b.toml", "bad TOML", "quote it", Location("golden/a b.toml", 4, 2)),
            Problem("case x", "no such control"),
            Problem("golden/c.toml", "unreadable", location=Location("golden/c.toml")),
        ],
    )
    log = valid(validator, sarif.error_sarif(err))
    (run,) = log["runs"]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"] for n in notes] == [
        "2 problem(s)\nhint: fix them",
        "golden/a b.toml: bad TOML\nhint: quote it",
        "case x: no such control",
        "golden/c.toml: unreadable",
    ]
    assert run["invocations"][0]["exitCode"] == 1
    # A path is a URI reference (a space escaped); a file without a line is placed on line 1.
    assert _places(log) == [
        ("golden/a%20b.toml", 4, 2, "mu:CheckFailed"),
        ("golden/c.toml", 1, None, "mu:CheckFailed"),
    ]
