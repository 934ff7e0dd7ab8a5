"""The error hierarchy: every error says how to fix it, where it is, and how it ends.

The first test reads the source of `generator/` and `cli.py`: any construction
of a `MuError` (or a subclass) without a non-empty `hint=` fails it, so a new
error cannot ship without telling the user what to do.
"""

from __future__ import annotations

import ast
import json
import tomllib
from pathlib import Path

import pytest
import rdflib

from mu.generator.compile.load import SourceFile, parse_turtle
from mu.generator.compile.pipeline import ValidationFailed
from mu.generator.compile.validate import ValidationReport, Violation
from mu.generator.errors import CheckFailed, ExitCode, InputError, Location, MuError, Problem
from mu.generator.reports import tables
from mu.generator.reports.common import error_json, error_text, validation_text

REPO = Path(__file__).resolve().parents[2]
SOURCES = (*sorted((REPO / "generator").rglob("*.py")), REPO / "cli.py")
BASES = frozenset({"MuError", "InputError", "CheckFailed"})


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """`MuError` and every class of the sources derived from it, by name."""
    found = set(BASES)
    classes = [
        (node.name, {_name(b) for b in node.bases})
        for tree in trees.values()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    ]
    grew = True
    while grew:
        grew = False
        for name, bases in classes:
            if name not in found and bases & found:
                found.add(name)
                grew = True
    return found


def _missing_hint(call: ast.Call) -> str | None:
    """Why `call` does not carry a usable hint, or None when it does."""
    keywords = {k.arg: k.value for k in call.keywords}
    if None in keywords:
        return "passes **kwargs, so the hint cannot be checked"
    hint = keywords.get("hint")
    if hint is None:
        return "has no `hint=`"
    if isinstance(hint, ast.Constant) and not (isinstance(hint.value, str) and hint.value.strip()):
        return "has an empty `hint=`"
    first = hint.value.split()[0] if isinstance(hint, ast.Constant) else ""
    if first[:1].isupper() and not first.isupper():  # "Fix …" is refused, "SPARQL …" is not
        return "has a hint that does not start in lowercase"
    return None


@pytest.mark.slow
def test_every_error_raised_in_generator_and_cli_has_a_hint() -> None:
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in SOURCES}
    classes = _error_classes(trees)
    assert {"ValidationFailed"} <= classes  # the scan sees subclasses, not only the bases
    offenders, seen = [], 0
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in classes:
                seen += 1
                why = _missing_hint(node)
                if why:
                    rel = path.relative_to(REPO)
                    offenders.append(f"{rel}:{node.lineno}: {_name(node.func)}(...) {why}")
    assert seen > 100, seen  # the scan found the raises
    assert not offenders, "errors without a hint:\n" + "\n".join(offenders)


def test_the_hint_scan_catches_what_it_should() -> None:
    def call(src: str) -> ast.Call:
        node = ast.parse(src, mode="eval").body
        assert isinstance(node, ast.Call)
        return node

    assert _missing_hint(call('InputError("x")')) == "has no `hint=`"
    assert _missing_hint(call('InputError("x", hint="")')) == "has an empty `hint=`"
    assert _missing_hint(call('InputError("x", hint="Fix it")'))
    assert _missing_hint(call('InputError("x", **extra)'))
    assert _missing_hint(call('InputError("x", hint="fix it")')) is None
    assert _missing_hint(call('InputError("x", hint=exc.hint)')) is None


def test_exit_codes_are_the_contract() -> None:
    assert [int(c) for c in (ExitCode.OK, ExitCode.CHECK_FAILED, ExitCode.USAGE)] == [0, 1, 2]
    assert InputError("x", hint="y").code is ExitCode.USAGE
    assert CheckFailed("x", hint="y").code is ExitCode.CHECK_FAILED
    assert MuError("x", hint="y", code=ExitCode.CHECK_FAILED).code == 1
    assert json.loads(error_json(CheckFailed("x", hint="y")))["code"] == 1


def test_a_location_reads_file_line_column() -> None:
    assert str(Location("a.ttl")) == "a.ttl"
    assert str(Location("a.ttl", 3)) == "a.ttl:3"
    assert str(Location("a.ttl", 3, 7)) == "a.ttl:3:7"
    assert Location("a.ttl", 3).to_dict() == {"file": "a.ttl", "line": 3, "column": None}


def test_a_location_is_read_from_json_toml_and_python_syntax_errors() -> None:
    with pytest.raises(json.JSONDecodeError) as bad_json:
        json.loads('{\n  "a": x}')
    assert Location.of_parse_error("t.json", bad_json.value) == Location("t.json", 2, 8)
    with pytest.raises(tomllib.TOMLDecodeError) as bad_toml:
        tomllib.loads("a = 1\nb = = 2\n")
    assert Location.of_parse_error("g.toml", bad_toml.value) == Location("g.toml", 2, 5)
    with pytest.raises(SyntaxError) as bad_python:
        compile("x = (", "m.py", "exec")
    assert Location.of_parse_error("m.py", bad_python.value) == Location("m.py", 1, 5)
    assert Location.of_parse_error("f", ValueError("no place")) == Location("f")


def test_text_and_json_show_the_location() -> None:
    err = InputError(
        "bad thing",
        hint="fix it",
        location=Location("o/controls/a.ttl", 3, 18),
        problems=[
            Problem("golden/x.toml", "not valid TOML", location=Location("golden/x.toml", 2, 5)),
            Problem("violation", "ex:A: wrong", location=Location("o/controls/a.ttl")),
            Problem("case `c`", "no location"),
        ],
    )
    assert error_text(err).splitlines() == [
        "error: bad thing",
        "  --> o/controls/a.ttl:3:18",
        "  - golden/x.toml:2:5: not valid TOML",
        "  - violation: o/controls/a.ttl: ex:A: wrong",
        "  - case `c`: no location",
        "hint: fix it",
    ]
    data = json.loads(error_json(err))
    assert data["location"] == {"file": "o/controls/a.ttl", "line": 3, "column": 18}
    assert data["problems"][0]["location"] == {"file": "golden/x.toml", "line": 2, "column": 5}
    assert "location" not in data["problems"][2]
    # An error without a location keeps the JSON it always had.
    assert "location" not in json.loads(error_json(InputError("x", hint="y")))


def test_a_turtle_syntax_error_carries_file_line_and_column() -> None:
    source = SourceFile("controls/b.ttl", b'@prefix ex: <https://a#> .\n\nex:a ex:b "open .\n', "")
    with pytest.raises(InputError) as info:
        parse_turtle(source, rdflib.Graph(), Path("/tmp/x"))
    assert info.value.location == Location("/tmp/x/controls/b.ttl", 3, 18)
    assert "  --> /tmp/x/controls/b.ttl:3:18" in error_text(info.value)


REPORT = ValidationReport(
    (
        Violation("ex:A", "mu:controlId", "mu:Control-controlId", "bad id", "Violation", "c/a.ttl"),
        Violation("ex:B", None, "mu:Shape", "odd", "Warning", None, value='"v"'),
    )
)


def test_a_validation_failure_is_an_ordinary_error_naming_the_real_files() -> None:
    hint = "fix every violation listed, then run `mu validate` again"
    err = ValidationFailed(REPORT, directory="/tmp/x", hint=hint)
    assert isinstance(err, CheckFailed) and err.code == ExitCode.CHECK_FAILED
    assert err.problems[0].location == Location("/tmp/x/c/a.ttl")
    assert err.problems[1].location is None  # no file describes it
    # Rendered as any error, it reads exactly like `mu validate`'s report.
    assert error_text(err) == validation_text(REPORT, "/tmp/x/", "")


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown"])
def test_every_format_renders_errors(fmt: str) -> None:
    out = tables.ERROR[fmt](InputError("x", hint="y"))
    assert out.endswith("\n")
    if fmt == "sarif":  # a SARIF log, the error one of its run's notifications
        notes = json.loads(out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        assert notes[0]["message"]["text"] == "x\nhint: y"
    elif fmt in tables.MACHINE_FORMATS:
        assert json.loads(out)["error"] == "x"
    else:
        assert out.startswith("error: x\n")
