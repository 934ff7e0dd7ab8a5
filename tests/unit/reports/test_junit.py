"""`mu test --junit`: the golden run as JUnit XML — grouped by transaction type, sorted,
byte-stable, escaped, and well-formed whatever the suite holds."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from mu.generator.reports.junit import UNTYPED, junit_xml
from mu.generator.run.golden import CaseResult, GoldenCase, GoldenReport


def _case(case_id: str, tx: dict[str, Any], file: str = "golden/a.toml") -> GoldenCase:
    return GoldenCase(case_id, "", file, tx, "APPROVE", (), (), None)


def _result(case_id: str, outcome: str = "APPROVE", *mismatches: str) -> CaseResult:
    return CaseResult(case_id, "golden/a.toml", outcome, ("c1",), (), mismatches, (), ())


def _report(*results: CaseResult) -> GoldenReport:
    return GoldenReport("0" * 64, results, ())


CASES = (
    _case("z_wire", {"type": "wire_transfer"}),
    _case("b_vendor", {"type": "vendor_payment"}),
    _case("a_vendor", {"type": "vendor_payment"}),
    _case("no_type", {"amount": "1.00"}),
    _case("odd_type", {"type": 7}),
)


def test_one_suite_per_transaction_type_sorted_with_counts() -> None:
    report = _report(
        _result("z_wire"),
        _result("b_vendor", "REJECT", "expected outcome APPROVE, got REJECT"),
        _result("a_vendor"),
        _result("no_type", "ERROR", "enforcer error: KeyError: 'x'"),
        _result("odd_type"),
    )
    root = ET.fromstring(junit_xml(report, CASES))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == sorted([UNTYPED, "vendor_payment", "wire_transfer"])
    vendor = suites["vendor_payment"]
    assert [c.get("name") for c in vendor.findall("testcase")] == ["a_vendor", "b_vendor"]
    assert (vendor.get("tests"), vendor.get("failures"), vendor.get("errors")) == ("2", "1", "0")
    failure = vendor.find("testcase[@name='b_vendor']/failure")
    assert failure is not None and failure.get("message") == "expected outcome APPROVE, got REJECT"
    assert failure.text is not None and "reasons: c1" in failure.text
    assert vendor.find("testcase[@name='a_vendor']/failure") is None
    untyped = suites[UNTYPED]
    assert sorted(c.get("name") for c in untyped.findall("testcase")) == ["no_type", "odd_type"]
    error = untyped.find("testcase[@name='no_type']/error")
    assert error is not None and error.get("type") == "ERROR"
    assert untyped.find("testcase[@name='no_type']/failure") is None


def test_bytes_depend_on_the_run_only() -> None:
    report = _report(_result("z_wire"), _result("a_vendor"), _result("b_vendor"))
    first = junit_xml(report, CASES)
    shuffled = _report(_result("b_vendor"), _result("z_wire"), _result("a_vendor"))
    assert junit_xml(shuffled, tuple(reversed(CASES))) == first
    assert first.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    for word in (b"timestamp", b"hostname", b"time="):
        assert word not in first


def test_user_text_is_escaped_and_always_well_formed() -> None:
    hostile = '<x a="1">&amp; ]]> \x00\x1b\ufffe'
    cases = (_case(hostile, {"type": hostile}),)
    report = _report(_result(hostile, "REJECT", f"expected control `{hostile}`"))
    data = junit_xml(report, cases)
    assert b"<x a=" not in data and b"\x00" not in data and b"\x1b" not in data
    root = ET.fromstring(data)  # parses: nothing XML 1.0 forbids is left
    case = root.find("testsuite/testcase")
    assert case is not None
    expected = '<x a="1">&amp; ]]> \\u0000\\u001b\\ufffe'
    assert case.get("name") == expected and case.get("classname") == expected
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == f"expected control `{expected}`"
