"""in-toto-attestation, the reference implementation of the Statement v1 format, accepts
every statement mu signs (issue 13): parsed strictly (no field outside the spec) and
validated (a type, subjects with digests, a predicate type and a predicate)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import json_format
from google.protobuf.json_format import ParseError
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement

from mu.generator.provenance.dsse import Envelope
from mu.generator.provenance.receipt import statement
from tests.chain import Built
from tests.conftest import REPO

LEGACY = REPO / "tests" / "data" / "legacy-receipts"
# Its receipts and approvals: the statements (snapshots and the old trust file are not).
LEGACY_STATEMENTS = sorted(
    p for p in LEGACY.rglob("*.json") if p.parent.name != "snapshots" and p.name != "trust.json"
)


def validated(payload: bytes) -> Statement:
    """The payload as in-toto-attestation reads it; raises unless it is a valid Statement v1."""
    proto = json_format.Parse(payload, statement_pb2.Statement())
    parsed = Statement.copy_from_pb(proto)
    parsed.validate()
    return parsed


def payload_of(path: Path) -> bytes:
    return Envelope.from_json(path.read_bytes(), path.name).payload


def test_the_statement_mu_writes_is_a_valid_in_toto_statement() -> None:
    subject = [{"name": "enforcers/controls/c1.py", "digest": {"sha256": "ab" * 32}}]
    payload = statement(subject, "urn:mu:v1#Receipt", {"sequence": 1, "parent": None})
    parsed = validated(payload)
    assert parsed.pb.predicate_type == "urn:mu:v1#Receipt"
    assert json_format.MessageToDict(parsed.pb) == json.loads(payload)


def test_the_validation_is_not_vacuous() -> None:
    with pytest.raises(ValueError, match="At least one subject required"):
        validated(statement([], "urn:mu:v1#Receipt", {"sequence": 1}))
    with pytest.raises(ParseError):
        validated(b'{"_type": "https://in-toto.io/Statement/v1", "extra": 1}')


@pytest.mark.parametrize(
    "path",
    LEGACY_STATEMENTS,
    ids=lambda p: p.relative_to(LEGACY).as_posix(),
)
def test_statements_mu_signed_before_trust_roots_validate(path: Path) -> None:
    assert validated(payload_of(path)).pb.subject


def test_every_statement_of_a_built_chain_validates(built: Built) -> None:
    receipts = built.root / "receipts"
    paths = [
        *sorted(receipts.glob("[0-9][0-9][0-9][0-9]-*.json")),
        *sorted((receipts / "approvals").glob("*.json")),
        *sorted((receipts / "trust").glob("[0-9]*.json")),
    ]
    kinds = set()
    for path in paths:
        parsed = validated(payload_of(path))
        kinds.add(parsed.pb.predicate_type)
        assert json_format.MessageToDict(parsed.pb) == json.loads(payload_of(path))
    assert kinds == {"urn:mu:v1#Receipt", "urn:mu:v1#Approval", "urn:mu:v1#TrustRoot"}
