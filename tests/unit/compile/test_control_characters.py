"""Ids, codes, type ids, field paths and currencies hold no control characters.

pySHACL matches sh:pattern with Python's `re.search`, where `$` also matches
before a final newline: `"USD\\n"` used to satisfy `^[A-Z]{3}$` (and the rule
then never fired), `"x\\n"` a control id (and `mu generate` then crashed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.chain import Mu

# (file, text to find, replacement, focus node, shape): each replacement adds a
# trailing newline (written `\n` in Turtle), the one control character the
# patterns themselves let through.
CASES = [
    (
        "approvals.ttl",
        'mu:currency "EUR"',
        'mu:currency "EUR\\n"',
        "ex:WireApprovalOver20kEur",
        "mu:ApprovalRule-currency",
    ),
    (
        "approvals.ttl",
        'mu:controlId "approval_over_10k"',
        'mu:controlId "approval_over_10k\\n"',
        "ex:ApprovalOver10k",
        "mu:Control-controlId",
    ),
    ("authority.ttl", 'mu:code "L3"', 'mu:code "L3\\n"', "ex:L3", "mu:AuthorityLevel-code"),
    (
        "transaction_types.ttl",
        'mu:typeId "wire_transfer"',
        'mu:typeId "wire_transfer\\n"',
        "ex:WireTransfer",
        "mu:TransactionType-typeId",
    ),
    (
        "transaction_types.ttl",
        'mu:path "purpose"',
        'mu:path "purpose\\n"',
        "[] (the mu:hasField of ex:WireTransfer)",
        "mu:Field-path",
    ),
]


def _edit(repo: Path, name: str, old: str, new: str) -> None:
    path = repo / "ontology" / "controls" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(("name", "old", "new", "focus", "shape"), CASES)
def test_a_control_character_is_a_violation_of_the_shape(
    name: str, old: str, new: str, focus: str, shape: str, repo: Path, mu: Mu
) -> None:
    _edit(repo, name, old, new)
    run = mu("validate", "--format", "json", root=repo)
    assert run.code == 1, run.out + run.err
    found = {(v["focus"], v["shape"]) for v in json.loads(run.out)["violations"]}
    assert (focus, shape) in found, found


def test_generate_reports_a_newline_in_a_control_id_without_a_traceback(repo: Path, mu: Mu) -> None:
    _edit(repo, "approvals.ttl", 'mu:controlId "approval_over_10k"', 'mu:controlId "x\\n"')
    run = mu("generate", root=repo)
    assert run.code == 1, run.out + run.err
    assert "mu:Control-controlId" in run.err and "ex:ApprovalOver10k" in run.err
    assert not (repo / "enforcers").exists()
