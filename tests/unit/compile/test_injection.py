"""Text from the ontology never becomes code: labels, owners, messages,
recipients, ledgers and condition string literals full of quotes, triple
quotes, newlines, backslashes and Python statements compile into a package
that imports cleanly and behaves exactly as the ontology says."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rdflib import Literal

from mu.generator.compile.pipeline import generate
from mu.generator.layout import Layout
from mu.generator.run.enforcers import load_enforcers

SENTINEL = "pwned.txt"
NASTY = [
    "'; import os; os.system('touch " + SENTINEL + "'); '",
    '"""; open("' + SENTINEL + '", "w").write("x"); """',
    "'''\nimport os\nos.system('touch " + SENTINEL + "')\n'''",
    "line one\nline two\r\n\\n # not a comment {{ jinja }} {% raw %} \x00\x1b",
    'tab\there\nand a \\ backslash, "quotes" # {{ x }}',
    "__import__('os').system('touch " + SENTINEL + "')",
    "\\'); exec('raise SystemExit') #",
]


# The condition language's strings allow the escapes \" \\ \n \t only.
CONDITION_SAFE = [n for n in NASTY if all(c >= " " or c in "\n\t" for c in n)]


def lit(text: str) -> str:
    return Literal(text).n3()


def ontology(country: str) -> str:
    label, owner, message, recipient, ledger = NASTY[0], NASTY[1], NASTY[2], NASTY[3], NASTY[4]
    condition = (
        "counterparty.country = "
        + '"'
        + country.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        + '"'
    )
    return f"""
@prefix ex: <https://evil.example/policy#> .
@prefix mu: <urn:mu:v1#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:L1 a mu:AuthorityLevel ; mu:code "L1" ; mu:rank 1 ; rdfs:label {lit(label)} .
ex:Pay a mu:TransactionType ; mu:typeId "pay" ; rdfs:label {lit(label)} ;
  mu:hasField [ a mu:Field ; mu:path "counterparty.country" ;
                mu:datatype xsd:string ; mu:required true ] .
ex:Check a mu:ConditionRule ; mu:controlId "check" ; rdfs:label {lit(label)} ;
  mu:owner {lit(owner)} ; mu:appliesTo ex:Pay ; mu:when {lit(condition)} ;
  mu:effect mu:Reject ; mu:message {lit(message)} .
ex:Tell a mu:NotificationRule ; mu:controlId "tell" ; rdfs:label {lit(NASTY[5])} ;
  mu:owner {lit(owner)} ; mu:appliesTo ex:Pay ; mu:recipient {lit(recipient)}, {lit(NASTY[5])} .
ex:Keep a mu:AuditLogRule ; mu:controlId "keep" ; rdfs:label {lit(label)} ;
  mu:owner {lit(owner)} ; mu:appliesTo ex:Pay ; mu:ledger {lit(ledger)} .
"""


def tx(country: str) -> dict[str, object]:
    return {
        "id": "t",
        "type": "pay",
        "amount": "1.00",
        "currency": "USD",
        "initiator": {"id": "a"},
        "approver": {"id": "b", "authority": "L1"},
        "executor": {"id": "c"},
        "counterparty": {"country": country},
    }


@pytest.mark.parametrize("country", CONDITION_SAFE)
def test_hostile_text_stays_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, country: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ontology" / "controls").mkdir(parents=True)
    (tmp_path / "ontology" / "controls" / "evil.ttl").write_text(ontology(country), "utf-8")
    result = generate(tmp_path / "ontology", None, layout=Layout(tmp_path))
    for path, data in result.compiled.files.items():
        if path.endswith(".py"):
            ast.parse(data)  # every module is valid Python

    module = load_enforcers(tmp_path / "enforcers")
    assert not (tmp_path / SENTINEL).exists()  # importing executed nothing

    check = module.dispatch.CONTROLS[module.CONTROL_IDS.index("check")]
    assert NASTY[0] == check.LABEL and NASTY[1] == check.OWNER and NASTY[2] == check.MESSAGE
    tell = module.dispatch.CONTROLS[module.CONTROL_IDS.index("tell")]
    assert tuple(sorted([NASTY[3], NASTY[5]])) == tell.RECIPIENTS
    keep = module.dispatch.CONTROLS[module.CONTROL_IDS.index("keep")]
    assert NASTY[4] == keep.LEDGER

    hit = module.evaluate(tx(country))  # the condition compares with the exact string
    assert hit.outcome == "REJECT"
    assert [(r.control_id, r.message) for r in hit.reasons] == [("check", NASTY[2])]
    miss = module.evaluate(tx(country + "x"))
    assert miss.outcome == "APPROVE"
    assert {a.control_id for a in miss.actions} == {"tell", "keep"}
    assert not (tmp_path / SENTINEL).exists()  # deciding executed nothing either
