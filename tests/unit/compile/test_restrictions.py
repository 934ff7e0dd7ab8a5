"""Declared restrictions (`mu:pattern`, `mu:allowedValue`): vocabulary, checks, IR and schema."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from mu.generator.compile.extract import extract_ontology
from mu.generator.compile.load import load_ontology
from mu.generator.compile.lower import lower_schema
from mu.generator.compile.model import (
    AuthorityLevel,
    FieldDef,
    Ontology,
    TransactionType,
    lexical_value,
)
from mu.generator.compile.pipeline import (
    CHECK_STAGES,
    Compiled,
    ValidationFailed,
    compile_ontology,
    validate_directory,
)
from mu.generator.compile.restrictions import (
    MAX_PATTERN_LENGTH,
    check_restrictions,
    pattern_problem,
)
from tests.conftest import Run

PREFIXES = """\
@prefix ex:   <https://acme.example/policy#> .
@prefix mu:   <urn:mu:v1#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .
"""


def loan_type(*fields: str) -> str:
    """A transaction type `loan` with the given field nodes, and a fraud check for it
    (the organisation's shapes want one for every type)."""
    return (
        PREFIXES
        + 'ex:Loan a mu:TransactionType ; mu:typeId "loan" ; rdfs:label "loan" ;\n'
        + "    mu:hasField\n        "
        + " ,\n        ".join(fields)
        + " .\n"
        + 'ex:FraudLoan a mu:ConditionRule ; mu:controlId "fraud_loan" ; rdfs:label "x" ;\n'
        + '    mu:owner "o" ; mu:appliesTo ex:Loan ; mu:when "amount > 1000000.00" ;\n'
        + '    mu:effect mu:Review ; mu:message "m" .\n'
    )


def field(path: str, datatype: str, extra: str = "") -> str:
    return f'[ a mu:Field ; mu:path "{path}" ; mu:datatype {datatype} ; mu:required true{extra} ]'


@pytest.fixture
def ontology_with(repo: Path) -> Callable[..., Path]:
    """ontology_with(*fields): the shipped ontology plus a type `loan` with those fields."""

    def make(*fields: str) -> Path:
        (repo / "ontology" / "controls" / "zz_loan.ttl").write_text(
            loan_type(*fields), encoding="utf-8"
        )
        return repo / "ontology"

    return make


# --------------------------------------------------------------------------
# Which patterns are accepted
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "[A-Z]{2}",
        "^[A-Z]{2}$",  # anchors are harmless under a whole-value match
        "[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?",  # a BIC
        "[a-z]+(?:-[a-z]+)?",  # an optional group does not loop
        "(?:[A-Z]{2}){1,3}",  # a fixed count inside a loop cannot match two ways
        "IR|KP|SY",
        "(?i)[a-z]{3}",
        "\\d{4}-\\d{2}",
        "(?>a+)b",  # an atomic group does not backtrack
        "x" * MAX_PATTERN_LENGTH,
        "\\d+\\.\\d+",  # the `.` between them is a character the first cannot match
        "\\d+\\s\\d+",  # disjoint categories, decided over every code point
        "[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}",  # an IBAN
        "[a-z]++[a-z]+",  # a possessive quantifier never gives characters back
        "(?:-[a-z]+){3}",  # each repetition starts with `-`, which `[a-z]+` cannot take
        "[^,]+,[^,]+",
        "(?:IR|KP)[0-9]+",  # alternatives of one length do not shift what follows
        "(?:ab|a)(?:bc|b)",
    ],
)
def test_safe_patterns_are_accepted(pattern: str) -> None:
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("", "empty"),
        ("x" * (MAX_PATTERN_LENGTH + 1), "over the limit"),
        ("(", "not a regular expression"),
        ("[A-Z", "not a regular expression"),
        ("(a)\\1", "backreference"),
        ("(?P<c>a)(?P=c)", "backreference"),
        ("a(?=b)", "lookahead or lookbehind"),
        ("(?<=a)b", "lookahead or lookbehind"),
        ("a(?!b)", "negative lookahead"),
        ("(a)(?(1)b|c)", "conditional group"),
        ("(a+)+", "nests a quantifier"),
        ("(a*)*b", "nests a quantifier"),
        ("(a?)+", "nests a quantifier"),
        ("(?:[a-z]+-?)*", "nests a quantifier"),
        ("[a-z]+(?:-[a-z]+)*", "nests a quantifier"),
        ("(a|ab)*c", "repeats an alternation"),
        ("(?:IR|KP)+", "repeats an alternation"),
        # Competing quantifiers: polynomial time, of a degree as high as their number.
        ("\\d*\\d*\\d*\\d*\\d*\\d*\\d*\\d*", "compete for the same characters"),
        ("[a-z]+[a-z]+[a-z]+", "compete for the same characters"),
        (".*.*=.*", "compete for the same characters"),
        ("a?a?a?a?aaaa", "compete for the same characters"),
        ("\\d*\\.?\\d*", "compete for the same characters"),
        ("\\d+\\d\\d+", "compete for the same characters"),
        ("(?:x[a-z]+)?[a-z]+", "compete for the same characters"),
        ("(?:-[a-z]+)?[a-z]+", "compete for the same characters"),
        ("(?:[a-z]+){3}", "compete for the same characters"),
        ("(?:a-)+a-(?:a-)+", "compete for the same characters"),
        ("(?:a-)?a-(?:a-)?a-(?:a-)?", "compete for the same characters"),
        ("[a-z]+(?:x|[a-z]+)", "compete for the same characters"),
        ("(?i)[a-z]+[A-Z]+", "compete for the same characters"),  # the same under (?i)
        ("\\w+\\d+", "compete for the same characters"),
        ("[^x]+[a-z]+", "compete for the same characters"),
        ("[\\u0660-\\u0669]+\\d+", "compete for the same characters"),  # Arabic-Indic digits
        ("[a-z]+[a-z]++", "compete for the same characters"),  # possessive after a loop
        ("[a-z]+(?>[a-z]+)", "compete for the same characters"),
    ],
)
def test_unsafe_or_broken_patterns_are_refused_with_a_hint(pattern: str, why: str) -> None:
    problem = pattern_problem(pattern)
    assert problem is not None
    assert why in problem.message
    assert problem.hint
    assert problem.message[0].islower() or problem.message.startswith("`")


@pytest.mark.parametrize(
    "pattern",
    [
        "\\d*\\d*\\d*\\d*\\d*\\d*\\d*\\d*",  # re took 5.6 s on "1" * 40 + "x"
        "[a-z]+[a-z]+[a-z]+",  # re took 28 s on "a" * 3000 + "!"
    ],
)
def test_patterns_that_made_re_hang_are_refused_at_compile_time(pattern: str) -> None:
    # Measured before the check of competing quantifiers existed: each pattern
    # passed it, and an enforcer spent seconds on one field of one transaction.
    # Never run here: it is the compiler's job to refuse them unrun.
    problem = pattern_problem(pattern)
    assert problem is not None
    assert "polynomial time" in problem.message
    assert "`[a-z]{2,}`" in problem.hint and "possessive" in problem.hint


# --------------------------------------------------------------------------
# The model check
# --------------------------------------------------------------------------

LEVELS = (AuthorityLevel("urn:t:L1", "L1", 1, "L1"), AuthorityLevel("urn:t:L3", "L3", 3, "L3"))


def model(*fields: FieldDef) -> Ontology:
    return Ontology((TransactionType("urn:t:pay", "pay", "pay", fields),), LEVELS, (), ())


def test_a_conforming_model_has_no_problem() -> None:
    o = model(
        FieldDef("country", "string", True, "[A-Z]{2}", ("DE", "FR")),
        FieldDef("level", "authority", True, None, ("L1", "L3")),
        FieldDef("payee.id", "string", True, "[a-z]+", ("alice",)),
        FieldDef("n", "integer", True, None, ("1", "2")),
    )
    assert check_restrictions(o) == ()


def test_model_problems_name_the_field_and_the_property() -> None:
    o = model(
        FieldDef("country", "string", True, "[A-Z]{2}", ("DE", "de")),
        FieldDef("level", "authority", True, None, ("L1", "L9")),
        FieldDef("payee.id", "string", True, "[A-Z]+", ("", "alice")),
        FieldDef("zip", "string", True, "(\\d+)+", ()),
    )
    found = {(p.path, p.prop, p.message.split(" (")[0][:40]) for p in check_restrictions(o)}
    assert found == {
        ("country", "mu:allowedValue", "allowed value `de` does not match the fi"),
        ("level", "mu:allowedValue", "allowed value `L9` is not an authority c"),
        ("payee.id", "mu:allowedValue", "an allowed value is empty once normalise"),
        ("payee.id", "mu:allowedValue", "allowed value `alice`"),
        ("zip", "mu:pattern", "`(\\d+)+` nests a quantifier inside anoth"),
    }
    assert all(p.type_id == "pay" and p.type_iri == "urn:t:pay" for p in check_restrictions(o))


def test_lexical_values_are_canonical() -> None:
    assert lexical_value("boolean", True) == "true"
    assert lexical_value("integer", 7) == "7"
    assert lexical_value("decimal", Decimal("1.50")) == "1.50"
    assert lexical_value("decimal", Decimal("0.0000001")) == "0.0000001"  # never an exponent
    assert lexical_value("string", "IR") == "IR"
    with pytest.raises(ValueError, match="is not a value of a integer field"):
        lexical_value("integer", True)


# --------------------------------------------------------------------------
# Through the pipeline: SHACL and the restrictions stage
# --------------------------------------------------------------------------


def test_the_restrictions_stage_runs_after_extract_and_before_conditions() -> None:
    names = [s.name for s in CHECK_STAGES]
    assert names.index("extract") < names.index("restrictions") < names.index("conditions")


def test_declared_restrictions_reach_the_model_canonical(
    ontology_with: Callable[..., Path],
) -> None:
    directory = ontology_with(
        field("country", "xsd:string", ' ; mu:pattern "[A-Z]{2}" ; mu:allowedValue "FR", "DE"'),
        field("n", "xsd:integer", ' ; mu:allowedValue 7, "007"^^xsd:integer, 10'),
        field("rate", "xsd:decimal", " ; mu:allowedValue 1.50, 2.0"),
        field("flag", "xsd:boolean", ' ; mu:allowedValue true, "1"^^xsd:boolean'),
        field("payee.id", "xsd:string", ' ; mu:allowedValue "Alice", "al\\u200Bice", "BOB "'),
    )
    checked = validate_directory(directory)
    assert checked.report.conforms, checked.report.violations
    loaded = load_ontology(directory)
    loan = extract_ontology(loaded.data).type_by_id("loan")
    assert loan is not None
    by_path = {f.path: f for f in loan.fields}
    assert by_path["country"].pattern == "[A-Z]{2}"
    assert by_path["country"].allowed_values == ("DE", "FR")
    assert by_path["n"].allowed_values == ("10", "7")  # sorted as text, de-duplicated
    assert by_path["rate"].allowed_values == ("1.50", "2.0")
    assert by_path["flag"].allowed_values == ("true",)
    assert by_path["payee.id"].allowed_values == ("alice", "bob")  # in the normal form
    assert by_path["payee.id"].is_party_id and not by_path["n"].is_party_id


@pytest.mark.parametrize(
    ("declaration", "shape"),
    [
        (field("n", "xsd:integer", ' ; mu:pattern "[0-9]+"'), "mu:FieldPatternDatatypeShape"),
        (field("c", "xsd:string", ' ; mu:pattern "a", "b"'), "mu:Field-pattern"),
        (field("c", "xsd:string", ' ; mu:pattern ""'), "mu:Field-pattern"),
        (field("c", "xsd:string", " ; mu:pattern 5"), "mu:Field-pattern"),
        (field("n", "xsd:integer", ' ; mu:allowedValue "5"'), "mu:Field-allowedValue-integer"),
        (field("n", "xsd:integer", " ; mu:allowedValue 5.0"), "mu:Field-allowedValue-integer"),
        (
            field("n", "xsd:integer", ' ; mu:allowedValue "12x"^^xsd:integer'),
            "mu:Field-allowedValue-integer",
        ),
        (field("d", "xsd:decimal", " ; mu:allowedValue 5"), "mu:Field-allowedValue-decimal"),
        (field("b", "xsd:boolean", ' ; mu:allowedValue "true"'), "mu:Field-allowedValue-boolean"),
        (field("c", "xsd:string", " ; mu:allowedValue true"), "mu:Field-allowedValue-string"),
        (field("c", "xsd:string", ' ; mu:allowedValue "DE"@en'), "mu:Field-allowedValue-string"),
        (field("c", "xsd:string", ' ; mu:allowedValue "DE\\n"'), "mu:Field-allowedValue-string"),
        (field("c", "xsd:string", " ; mu:allowedValue ex:L3"), "mu:Field-allowedValue-string"),
        (
            field("a", "mu:AuthorityLevel", " ; mu:allowedValue ex:L3"),
            "mu:Field-allowedValue-string",
        ),
    ],
)
def test_shacl_refuses_malformed_declarations(
    ontology_with: Callable[..., Path], declaration: str, shape: str
) -> None:
    report = validate_directory(ontology_with(declaration)).report
    assert [v.shape for v in report.violations] == [shape]
    assert report.violations[0].core


@pytest.mark.parametrize(
    ("declaration", "shape", "words"),
    [
        (field("c", "xsd:string", ' ; mu:pattern "(a+)+"'), "mu:FieldPattern", "nests"),
        (field("c", "xsd:string", ' ; mu:pattern "("'), "mu:FieldPattern", "not a regular"),
        (field("c", "xsd:string", ' ; mu:pattern "(a)\\\\1"'), "mu:FieldPattern", "backreference"),
        (
            field("c", "xsd:string", ' ; mu:pattern "\\\\d*\\\\.?\\\\d*"'),
            "mu:FieldPattern",
            "compete for the same characters",
        ),
        (
            field("c", "xsd:string", ' ; mu:pattern "[A-Z]{2}" ; mu:allowedValue "de"'),
            "mu:FieldAllowedValue",
            "does not match",
        ),
        (
            field("a", "mu:AuthorityLevel", ' ; mu:allowedValue "L9"'),
            "mu:FieldAllowedValue",
            "not an authority code",
        ),
        (
            field("payee.id", "xsd:string", ' ; mu:allowedValue "\\u200B"'),
            "mu:FieldAllowedValue",
            "empty once normalised",
        ),
    ],
)
def test_the_compiler_refuses_unsafe_restrictions_like_a_violation(
    ontology_with: Callable[..., Path], declaration: str, shape: str, words: str
) -> None:
    directory = ontology_with(declaration)
    report = validate_directory(directory).report
    assert [v.shape for v in report.violations] == [shape]
    violation = report.violations[0]
    assert violation.focus == "ex:Loan"
    assert violation.file == "controls/zz_loan.ttl"
    assert words in violation.message
    assert "field `" in violation.message and "(hint: " in violation.message
    assert violation.core  # never waivable by an override
    with pytest.raises(ValidationFailed):
        compile_ontology(directory)


def test_mu_validate_exits_1_on_an_unsafe_pattern(
    ontology_with: Callable[..., Path], mu: Callable[..., Run]
) -> None:
    directory = ontology_with(field("c", "xsd:string", ' ; mu:pattern "(a|aa)*"'))
    run = mu("validate", "--input", str(directory))
    assert run.code == 1
    assert "mu:FieldPattern" in run.out + run.err
    assert "Traceback" not in run.out + run.err


# --------------------------------------------------------------------------
# IR and the rendered schema
# --------------------------------------------------------------------------


def test_restrictions_are_part_of_the_schema_ir_and_its_digest() -> None:
    plain = model(FieldDef("country", "string", True))
    restricted = model(FieldDef("country", "string", True, "[A-Z]{2}", ("DE",)))
    a, b = lower_schema(plain), lower_schema(restricted)
    country = next(f for f in b.types[0].fields if f.path == "country")
    assert (country.pattern, country.allowed_values) == ("[A-Z]{2}", ("DE",))
    assert a.digest != b.digest


def test_the_shipped_schema_declares_country_codes(example_compiled: Compiled) -> None:
    source = example_compiled.files["schema.py"].decode("utf-8")
    namespace: dict[str, object] = {}
    exec(compile(source, "schema.py", "exec"), namespace)
    restrictions = namespace["RESTRICTIONS"]
    assert restrictions == {
        "expense_refund": (),
        "vendor_payment": (("counterparty.country", "[A-Z]{2}", ()),),
        "wire_transfer": (("beneficiary.country", "[A-Z]{2}", ()),),
    }
    assert "RESTRICTIONS: dict[str, tuple[tuple[str, str | None, tuple[str, ...]], ...]]" in source
    for ttype in example_compiled.ontology.transaction_types:
        for f in ttype.fields:
            if f.path.endswith("country"):
                assert f.pattern is not None
                assert re.compile(f.pattern).fullmatch("IR")
