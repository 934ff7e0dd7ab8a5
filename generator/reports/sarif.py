"""SARIF 2.1.0 for code scanning: `mu validate --format sarif`, and any error in that format.

What GitHub code scanning (and any SARIF consumer) needs to annotate a pull
request: every result placed on a file, line and column (where its focus node
is written, `generator.compile.findings`); one rule per reported shape with
its own words as descriptions; a `partialFingerprints` entry that survives
reordering and reformatting; and a log that stays valid SARIF when mu could
not run at all (`executionSuccessful: false`, the error as a notification,
and as a result where it has a file). Pure functions of their input: rules
sorted by id, results by file, line, rule and focus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mu.generator import NAME, __version__
from mu.generator.compile.findings import ShapeText, describe_shapes, locate_violations
from mu.generator.compile.pipeline import Checked
from mu.generator.compile.validate import Violation
from mu.generator.errors import ExitCode, Location, MuError
from mu.generator.hashing import digest_json
from mu.generator.reports.common import to_json

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SARIF_LEVEL = {"Violation": "error", "Warning": "warning", "Info": "note"}
# Versioned, so a change to what is hashed can never be mistaken for the old key.
FINGERPRINT = "muViolation/v1"
ERROR_FINGERPRINT = "muError/v1"
# Columns count Unicode code points, as Python (and `Location`) count them.
COLUMN_KIND = "unicodeCodePoints"


@dataclass(frozen=True)
class ErrorRule:
    """The rule an error is reported under: one per kind of error (SPEC §7's exit codes)."""

    id: str
    short: str
    full: str


ERROR_RULES = {
    ExitCode.USAGE: ErrorRule(
        "mu:InputError",
        "unreadable or malformed input: mu could not run the check",
        "A file could not be read or parsed (a Turtle syntax error names its file and line), "
        "or the command was used wrongly; nothing was checked. Fix the input and run again.",
    ),
    ExitCode.CHECK_FAILED: ErrorRule(
        "mu:CheckFailed",
        "a check failed before a report could be written",
        "mu ran and a check failed; the notifications say which and how to fix it.",
    ),
}
OTHER_ERROR = ErrorRule("mu:Error", "mu could not run the check", "See the notifications.")


def fingerprint(v: Violation) -> str:
    """A violation's identity across runs: sha256 of what it is (shape, focus node, path,
    message, value), never of where it is written, so moving or reformatting Turtle keeps it."""
    return digest_json(
        {"shape": v.shape, "focus": v.focus, "path": v.path, "message": v.message, "value": v.value}
    )


def _uri(path: str) -> str:
    """A file path as a URI reference (`/` kept; spaces and the like escaped)."""
    return quote(path, safe="/")


def _physical(location: Location, prefix: str = "") -> dict[str, Any]:
    # No line known: the file's first line, so an annotation still lands somewhere.
    region: dict[str, int] = {"startLine": location.line or 1}
    if location.line is not None and location.column is not None:
        region["startColumn"] = location.column
    return {"artifactLocation": {"uri": _uri(prefix + location.file)}, "region": region}


def _local_name(rule_id: str) -> str:
    return rule_id.strip("<>").rsplit("#", 1)[-1].rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _rule(
    rule_id: str,
    short: str,
    full: str | None,
    help_text: str,
    level: str,
    iri: str | None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": _local_name(rule_id),
        "shortDescription": {"text": short},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": level},
    }
    if full:
        rule["fullDescription"] = {"text": full}
    if iri:
        # The shape's IRI identifies it (documented in the README); no web page is invented.
        rule["helpUri"] = iri
    return rule


def _shape_rule(shape: ShapeText, prefix: str) -> dict[str, Any]:
    # Each of the shape's own texts once, most specific first.
    said = list(dict.fromkeys(t for t in (shape.label, shape.message, shape.comment) if t))
    short = said[0] if said else f"the shape {shape.name} is not satisfied"
    if shape.file is not None:
        origin = f"Declared in `{prefix}{shape.file}` (the organisation's shapes, Σ)."
    elif shape.core:
        origin = "A check of mu itself (the mu: vocabulary and its compiler); never waivable."
    else:
        origin = ""
    return _rule(
        shape.name,
        short,
        " ".join(said[1:]) or None,
        "\n\n".join(t for t in [*(said or [short]), origin] if t),
        SARIF_LEVEL.get(shape.severity, "error"),
        shape.iri,
    )


def _message(v: Violation) -> str:
    path = f" (path {v.path})" if v.path else ""
    value = f" value {v.value}" if v.value else ""
    return f"{v.focus}{path}{value}: {v.message}"


def _result(
    v: Violation, where: Location | None, rule_index: int, prefix: str
) -> dict[str, Any]:
    location: dict[str, Any] = {"logicalLocations": [{"name": v.focus, "kind": "resource"}]}
    if where is not None:
        location["physicalLocation"] = _physical(where, prefix)
    return {
        "ruleId": v.shape,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL.get(v.severity, "error"),
        "message": {"text": _message(v)},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: fingerprint(v)},
    }


def _result_key(result: Mapping[str, Any]) -> tuple[str, int, int, str, str, str]:
    location = result["locations"][0]
    physical = location.get("physicalLocation", {})
    region = physical.get("region", {})
    return (
        physical.get("artifactLocation", {}).get("uri", ""),
        region.get("startLine", 0),
        region.get("startColumn", 0),
        result["ruleId"],
        location.get("logicalLocations", [{}])[0].get("name", ""),
        result["message"]["text"],
    )


def _log(run: dict[str, Any]) -> str:
    run["columnKind"] = COLUMN_KIND
    return to_json({"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]})


def _driver(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"driver": {"name": NAME, "version": __version__, "rules": rules}}


def validation_sarif(checked: Checked, prefix: str) -> str:
    """The validation report as SARIF 2.1.0, for code-scanning annotations on pull requests.

    `prefix` goes before each file (relative to the ontology directory) to make
    the path code scanning resolves from the repository root (`ontology/`).
    """
    report = checked.report
    where = locate_violations(checked.loaded, report.results)
    shapes = describe_shapes(checked.loaded, (v.shape for v in report.results))
    rules = [_shape_rule(shapes[name], prefix) for name in sorted(shapes)]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = sorted(
        (_result(v, where.get(v), index[v.shape], prefix) for v in report.results),
        key=_result_key,
    )
    run = {
        "tool": _driver(rules),
        "invocations": [
            {
                "executionSuccessful": True,
                "exitCode": int(ExitCode.OK if report.conforms else ExitCode.CHECK_FAILED),
            }
        ],
        "results": results,
    }
    return _log(run)


def _notification(text: str, hint: str, location: Location | None) -> dict[str, Any]:
    note: dict[str, Any] = {
        "level": "error",
        "message": {"text": f"{text}\nhint: {hint}" if hint else text},
    }
    if location is not None:
        note["locations"] = [{"physicalLocation": _physical(location)}]
    return note


def _error_result(rule_id: str, text: str, location: Location) -> dict[str, Any]:
    return {
        "ruleId": rule_id,
        "ruleIndex": 0,
        "level": "error",
        "message": {"text": text},
        "locations": [{"physicalLocation": _physical(location)}],
        "partialFingerprints": {
            ERROR_FINGERPRINT: digest_json({"rule": rule_id, "file": location.file, "text": text})
        },
    }


def error_sarif(err: MuError) -> str:
    """Any error as a valid SARIF log: the run did not succeed, the error (and each of
    its problems) is a tool notification, and each one located in a file is also a
    result on that file and line, so code scanning shows where to fix it."""
    kind = ERROR_RULES.get(err.code, OTHER_ERROR)
    rule_id = kind.id
    notes = [_notification(err.message, err.hint, err.location)]
    results = []
    if err.location is not None:
        results.append(_error_result(rule_id, err.message, err.location))
    for p in err.problems:
        text = f"{p.where}: {p.message}" if p.where else p.message
        notes.append(_notification(text, p.hint, p.location))
        if p.location is not None:
            results.append(_error_result(rule_id, text, p.location))
    rule = _rule(rule_id, kind.short, kind.full, f"{kind.short}\n\n{kind.full}", "error", None)
    run = {
        "tool": _driver([rule]),
        "invocations": [
            {
                "executionSuccessful": False,
                "exitCode": int(err.code),
                "toolExecutionNotifications": notes,
            }
        ],
        "results": sorted(results, key=_result_key),
    }
    return _log(run)
