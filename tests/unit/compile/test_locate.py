"""The Turtle locator: where a subject is written (line, column), as code scanning needs,
and how violations are placed on those lines (`generator.compile.findings`)."""

from __future__ import annotations

import pytest
import rdflib
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.compile.findings import describe_shapes, locate_violations
from mu.generator.compile.load import load_ontology
from mu.generator.compile.locate import TOP, Site, index_turtle, locate
from mu.generator.compile.validate import Violation
from mu.generator.errors import Location
from tests.conftest import REPO

EX = "https://acme.example/policy#"
HEAD = "@prefix ex: <https://acme.example/policy#> .\n@prefix mu: <urn:mu:v1#> .\n"


def test_a_prefixed_subject_is_found_on_its_line_and_column() -> None:
    text = HEAD + "\nex:A a mu:Control .\n\n  ex:B a mu:Control .\n"
    assert locate(text, EX + "A") == Site(4, 1)
    assert locate(text, EX + "B") == Site(6, 3)


def test_a_full_iri_subject_is_found() -> None:
    text = HEAD + f"<{EX}A> a mu:Control .\n"
    assert locate(text, EX + "A") == Site(3, 1)


def test_sparql_style_prefix_and_an_empty_prefix_are_followed() -> None:
    text = f"PREFIX ex: <{EX}>\nprefix : <urn:x#>\nex:A a :T .\n:B a :T .\n"
    index = index_turtle(text)
    assert index.subjects == {EX + "A": Site(3, 1), "urn:x#B": Site(4, 1)}


def test_a_prefix_declared_again_means_its_new_namespace_from_there_on() -> None:
    text = "@prefix p: <urn:one#> .\np:A a p:T .\n@prefix p: <urn:two#> .\np:A a p:T .\n"
    assert index_turtle(text).subjects == {"urn:one#A": Site(2, 1), "urn:two#A": Site(4, 1)}


def test_comments_and_strings_never_start_a_subject() -> None:
    text = (
        HEAD
        + "# ex:A a mu:Control .\n"
        + 'ex:B rdfs:comment "ex:A a mu:Control . # not a comment" ;\n'
        + "    rdfs:label '''\nex:A a mu:Control .\n''' ;\n"
        + '    rdfs:seeAlso "<https://acme.example/policy#A>" .\n'
        + "ex:A a mu:Control .  # here\n"
    )
    assert locate(text, EX + "A") == Site(9, 1)


def test_continuation_lines_and_nested_nodes_do_not_start_subjects() -> None:
    text = (
        HEAD
        + "ex:T a mu:TransactionType ;\n"
        + "    mu:hasField [ ex:F ex:G ] ,\n"
        + "        ( ex:H ) ;\n"
        + "    ex:K\n"
        + "        ex:L .\n"
        + "ex:L a mu:Control .\n"
    )
    index = index_turtle(text)
    assert set(index.subjects) == {EX + "T", EX + "L"}
    assert index.subjects[EX + "L"] == Site(8, 1)
    # Written elsewhere first, it is still placed where it is a subject.
    assert index.mentions[EX + "L"] == Site(7, 9)
    assert locate(text, EX + "F") == Site(4, 19)  # never a subject: where first written


def test_a_subject_on_a_line_of_its_own_is_placed_there() -> None:
    text = HEAD + "\n<https://acme.example/policy#A>\n    a\n        mu:Control .\n"
    assert locate(text, EX + "A") == Site(4, 1)


def test_escapes_dots_and_numbers_are_read_as_turtle_reads_them() -> None:
    text = (
        HEAD
        + "ex:a\\-b mu:x 5.\n"  # `5.` is the integer 5, then the end of the statement
        + "ex:c.d mu:x 1.5e3, .5 .\n"
        + "<urn:\\u0041> mu:x ex:e.\n"
        + "ex:e mu:x true .\n"
    )
    index = index_turtle(text)
    assert index.subjects == {
        EX + "a-b": Site(3, 1),
        EX + "c.d": Site(4, 1),
        "urn:A": Site(5, 1),
        EX + "e": Site(6, 1),
    }


def test_a_base_resolves_relative_iris() -> None:
    text = "@base <http://a.example/x/> .\n<y> <p> <z> .\nBASE <http://b.example/>\n<y> <p> 1 .\n"
    assert index_turtle(text).subjects == {
        "http://a.example/x/y": Site(2, 1),
        "http://b.example/y": Site(4, 1),
    }


def test_columns_count_code_points() -> None:
    text = HEAD + 'ex:Ü mu:x "é" . ex:B mu:x 1 .\n'
    assert locate(text, EX + "B") == Site(3, 17)


@pytest.mark.parametrize(
    "text",
    [
        "",
        'ex:A a "unterminated\n',
        "@prefix ex: .\nex:A a ex:B",
        "<unclosed a b .\n)))]]] . ;;;",
        '"""never closed\nex:A a ex:B .',
        "\x00\ufeff@@ ^^ _: :",
    ],
)
def test_text_that_is_not_turtle_never_raises_and_falls_back_to_the_top(text: str) -> None:
    # None of these declares `ex:`, so nothing names the IRI.
    assert locate(text, EX + "A") == TOP
    assert locate(text, "urn:nowhere") == TOP


def test_every_subject_of_the_shipped_turtle_is_found_where_its_statement_starts() -> None:
    files = sorted((REPO / "ontology").rglob("*.ttl")) + sorted(
        (REPO / "generator" / "compile" / "vocab").glob("*.ttl")
    )
    assert len(files) > 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        graph = rdflib.Graph().parse(data=text, format="turtle")
        named = {str(s) for s in graph.subjects() if isinstance(s, rdflib.URIRef)}
        index = index_turtle(text)
        assert set(index.subjects) == named, path
        lines = text.splitlines()
        for iri, site in index.subjects.items():
            written = lines[site.line - 1][site.column - 1 :]
            local = iri.rsplit("#", 1)[-1]
            assert written.split()[0].endswith((f":{local}", f"{iri}>")), (path, iri, site)


def _violation(focus: str, file: str | None, shape: str = "mu:Control-controlId") -> Violation:
    return Violation(focus, None, shape, "m", "Violation", file)


def test_violations_are_placed_on_their_focus_nodes_subject_line() -> None:
    loaded = load_ontology(REPO / "ontology")
    approvals = (REPO / "ontology" / "controls" / "approvals.ttl").read_text(encoding="utf-8")
    types = (REPO / "ontology" / "controls" / "transaction_types.ttl").read_text(encoding="utf-8")
    control = approvals.splitlines().index("ex:ApprovalOver100k a mu:ApprovalRule ;") + 1
    wire = types.splitlines().index("ex:WireTransfer a mu:TransactionType ;") + 1
    named = _violation("ex:ApprovalOver100k", "controls/approvals.ttl")
    blank = _violation("[] (the mu:hasField of ex:WireTransfer)", "controls/transaction_types.ttl")
    nested = _violation(
        "[] (the mu:x of [] (the mu:hasField of ex:WireTransfer))",
        "controls/transaction_types.ttl",
    )
    unfiled = _violation("ex:WireTransfer", None)  # as a target of objects would report it
    nowhere = _violation("<urn:nowhere>", None)
    where = locate_violations(loaded, [named, blank, nested, unfiled, nowhere])
    assert where[named] == Location("controls/approvals.ttl", control, 1)
    assert where[blank] == where[nested] == Location("controls/transaction_types.ttl", wire, 1)
    # Not filed under any file: the first control file that writes it, else the first file.
    first = sorted(s.path for s in loaded.control_files)[0]
    assert first == "controls/approvals.ttl"
    line = next(n for n, text in enumerate(approvals.splitlines(), 1) if "ex:WireTransfer" in text)
    column = approvals.splitlines()[line - 1].index("ex:WireTransfer") + 1
    assert where[unfiled] == Location(first, line, column)
    assert where[nowhere] == Location(first, 1, 1)


def test_shapes_are_described_in_their_own_words() -> None:
    loaded = load_ontology(REPO / "ontology")
    shapes = describe_shapes(
        loaded,
        [
            "mu:Control-controlId",
            "ex:RoleApproverExecutorSeparationShape",
            "mu:ConditionSyntax",
            "sh:MinCountConstraintComponent",
        ],
    )
    core = shapes["mu:Control-controlId"]
    assert core.core and core.file is None and core.iri == "urn:mu:v1#Control-controlId"
    assert core.message is not None and core.message.startswith("a control needs exactly one")
    org = shapes["ex:RoleApproverExecutorSeparationShape"]
    assert not org.core and org.file == "shapes/sod.ttl" and org.iri == EX + (
        "RoleApproverExecutorSeparationShape"
    )
    assert org.message is not None and org.message.startswith("this role may both approve")
    check = shapes["mu:ConditionSyntax"]
    assert check.core and check.message == "a control's mu:when condition does not parse"
    component = shapes["sh:MinCountConstraintComponent"]
    assert component.iri == "http://www.w3.org/ns/shacl#MinCountConstraintComponent"
    assert not component.core and component.comment


def test_a_thousand_control_file_is_indexed_in_one_pass() -> None:
    controls = "".join(
        f'ex:C{i} a mu:ApprovalRule ;\n    mu:controlId "c_{i}" ;\n'
        f'    rdfs:label "control {i}; see ex:C{i + 1}" ;\n    mu:amountThreshold 1.00 .\n\n'
        for i in range(1000)
    )
    text = HEAD + controls
    index = index_turtle(text)
    assert len(index.subjects) == 1000
    assert index.subjects[EX + "C999"] == Site(3 + 999 * 5, 1)


_NAMES = st.sampled_from(["A", "B", "C", "D", "E"])
# How a statement may be written: the subject as a prefixed name or a full IRI, on a
# line of its own or not, indented or not; noise naming other nodes before it.
_STATEMENTS = st.lists(
    st.tuples(
        _NAMES,
        st.booleans(),  # full IRI
        st.booleans(),  # predicate on the next line
        st.integers(0, 4),  # indentation
        st.sampled_from(["", "# ex:A a ex:T .\n", "\n\n", "# <https://acme.example/policy#B>\n"]),
        st.sampled_from(
            ["ex:B", '"ex:C a ex:T ."', "[ ex:p ex:D ]", "( ex:E ex:A )", "'''\nex:A\n'''"]
        ),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(_STATEMENTS)
def test_the_locator_finds_what_rdflib_reads_wherever_the_statements_are(
    statements: list[tuple[str, bool, bool, int, str, str]],
) -> None:
    lines = HEAD.rstrip("\n").split("\n")
    expected: dict[str, Site] = {}
    for name, full, split, indent, noise, obj in statements:
        lines += noise.splitlines() if noise.strip() else [""] * noise.count("\n")
        subject = f"<{EX}{name}>" if full else f"ex:{name}"
        expected.setdefault(EX + name, Site(len(lines) + 1, indent + 1))
        gap = "\n    " if split else " "
        lines += f"{' ' * indent}{subject}{gap}ex:p {obj} ;\n    a ex:T .".split("\n")
    text = "\n".join(lines) + "\n"
    graph = rdflib.Graph().parse(data=text, format="turtle")
    named = {str(s) for s in graph.subjects() if isinstance(s, rdflib.URIRef)}
    assert set(expected) == named
    assert index_turtle(text).subjects == expected
