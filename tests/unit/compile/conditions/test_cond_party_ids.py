"""A string compared with a party id is emitted in the party-id normal form (SPEC §3)."""

from __future__ import annotations

import pytest

from mu.generator.compile.conditions import TypeEnv, compile_condition
from mu.generator.compile.model import CORE_FIELDS
from mu.generator.compile.runtime.values import party_id

ENV = TypeEnv(
    fields={
        **{f.path: f.datatype for f in CORE_FIELDS},
        "employee.id": "string",
        "note": "string",
        "ticket.idx": "string",
    },
    authority_codes=frozenset({"L1", "L3"}),
)


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ('initiator.id = "Alice"', "(tx['initiator.id'] == 'alice')"),
        ('"Alice" = initiator.id', "('alice' == tx['initiator.id'])"),
        ('approver.id != " BOB "', "(tx['approver.id'] != 'bob')"),
        ('employee.id in {"ALICE", "alice", "Bob"}', "(tx['employee.id'] in ('alice', 'bob'))"),
        ('employee.id not in {"Carol"}', "(tx['employee.id'] not in ('carol',))"),
        # Not party ids: the transaction's own id, other strings, `.idx`.
        ('id = "TX-1"', "(tx['id'] == 'TX-1')"),
        ('note = "Alice"', "(tx['note'] == 'Alice')"),
        ('ticket.idx = "A"', "(tx['ticket.idx'] == 'A')"),
        ('currency in {"usd"}', "(tx['currency'] in ('usd',))"),
        # Two fields: both are normalised by the runtime, nothing to write.
        ("initiator.id = approver.id", "(tx['initiator.id'] == tx['approver.id'])"),
    ],
)
def test_literals_compared_with_party_ids_are_normalised(text: str, source: str) -> None:
    assert compile_condition(text, ENV).source == source


def test_unicode_look_alikes_in_a_literal_are_normalised() -> None:
    compiled = compile_condition('initiator.id = "\uff41\uff4c\uff49\uff43\uff45"', ENV)
    assert compiled.source == "(tx['initiator.id'] == 'alice')"
    assert party_id("\uff41\uff4c\uff49\uff43\uff45") == "alice"


def test_a_normalised_literal_still_means_what_it_says() -> None:
    # The emitted literal is exactly what `party_id` makes of the text: the
    # runtime holds `Alice` from a transaction as `alice`, so they meet.
    for literal in ("Alice", "ALICE ", "Jos\u00e9", "STRASSE"):
        compiled = compile_condition(f'approver.id = "{literal}"', ENV)
        assert compiled.source == f"(tx['approver.id'] == {party_id(literal)!r})"
