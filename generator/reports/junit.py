"""`mu test --junit FILE`: the golden run as JUnit XML, for CI systems' test reports.

One `<testsuite>` per transaction type (the cases whose transaction names no
type are under `UNTYPED`), one `<testcase>` per golden case with a
`<failure>` listing every mismatch, or an `<error>` when the enforcer could
not decide. The bytes depend on the run only: suites and cases are sorted, and
there is no time, timestamp or host name. Every text from the suite (case ids,
types, file names, mismatch messages quoting transaction values) is escaped
by ElementTree, and characters XML 1.0 cannot hold at all are written as
`\\uXXXX`, so any suite yields well-formed XML.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from mu.generator.run.golden import CaseResult, GoldenCase, GoldenReport

UNTYPED = "(no type)"
SUITES_NAME = "mu golden cases"
# XML 1.0's `Char` production: everything else must not appear, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class _Counts:
    tests: int
    failures: int
    errors: int

    @classmethod
    def of(cls, results: Sequence[CaseResult]) -> _Counts:
        errors = sum(1 for r in results if not r.passed and _is_error(r))
        failures = sum(1 for r in results if not r.passed) - errors
        return cls(len(results), failures, errors)

    def attributes(self) -> dict[str, str]:
        return {
            "tests": str(self.tests),
            "failures": str(self.failures),
            "errors": str(self.errors),
            "skipped": "0",
        }


def _is_error(result: CaseResult) -> bool:
    # The enforcer raised something it does not declare: a defect, not a wrong decision.
    return result.outcome == "ERROR"


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _type_of(case: GoldenCase | None) -> str:
    kind = case.transaction.get("type") if case is not None else None
    return kind if isinstance(kind, str) and kind else UNTYPED


def _testcase(parent: ET.Element, result: CaseResult, suite_name: str) -> None:
    element = ET.SubElement(
        parent,
        "testcase",
        {
            "name": _xml_text(result.case_id),
            "classname": _xml_text(suite_name),
            "file": _xml_text(result.file),
        },
    )
    if result.passed:
        return
    tag = "error" if _is_error(result) else "failure"
    body = "\n".join(result.mismatches)
    reasons = ", ".join(result.reasons) or "none"
    detail = ET.SubElement(
        element,
        tag,
        {"message": _xml_text(result.mismatches[0]), "type": _xml_text(result.outcome)},
    )
    detail.text = _xml_text(f"{body}\noutcome {result.outcome}; reasons: {reasons}\n")


def junit_xml(report: GoldenReport, cases: Sequence[GoldenCase]) -> bytes:
    """The JUnit XML document (UTF-8 bytes) of `report`, whose results ran `cases`."""
    by_id = {case.case_id: case for case in cases}
    suites: dict[str, list[CaseResult]] = {}
    for result in report.results:
        suites.setdefault(_type_of(by_id.get(result.case_id)), []).append(result)
    counts = _Counts.of(report.results)
    root = ET.Element("testsuites", {"name": SUITES_NAME, **counts.attributes()})
    for name in sorted(suites):
        results = sorted(suites[name], key=lambda r: (r.case_id, r.file))
        suite = ET.SubElement(
            root, "testsuite", {"name": _xml_text(name), **_Counts.of(results).attributes()}
        )
        for result in results:
            _testcase(suite, result, name)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode", xml_declaration=False)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'.encode()
