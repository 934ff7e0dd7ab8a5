"""Malformed files in `receipts/approvals/` approve nothing and crash nothing: the reader
(`read_statement`) gives None for each, and the policy's tally counts none of them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.layout import Layout
from mu.generator.provenance.approvals import read_statement
from mu.generator.provenance.dsse import PAYLOAD_TYPE, sign
from mu.generator.provenance.statement import APPROVAL_TYPE

DIGEST = "a" * 64


def _envelope(payload: bytes) -> bytes:
    return sign(PAYLOAD_TYPE, payload, Ed25519PrivateKey.generate()).to_json()


def _statement(predicate: object) -> bytes:
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "predicateType": APPROVAL_TYPE,
            "subject": [],
            "predicate": predicate,
        }
    ).encode()


MALFORMED = {
    "huge-int": b'{"payloadType": ' + b"9" * 5000 + b"}",
    "deep": b'{"payloadType": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "payload-huge-int": _envelope(b'{"predicate": ' + b"1" * 5000 + b"}"),
    "payload-deep": _envelope(b"[" * 100_000 + b"]" * 100_000),
    "ontology-a-string": _envelope(_statement({"ontology": "x"})),
    "ontology-a-list": _envelope(_statement({"ontology": [DIGEST]})),
}


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    directory = Layout(tmp_path).approvals
    directory.mkdir(parents=True)
    return Layout(tmp_path)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_approval_approves_nothing_without_a_traceback(
    layout: Layout, name: str
) -> None:
    path = layout.approvals / f"{name}.json"
    path.write_bytes(MALFORMED[name])
    assert read_statement(path, APPROVAL_TYPE) is None


def test_links_and_special_files_are_never_read(layout: Layout, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_bytes(_envelope(_statement({"ontology": {"digest": DIGEST}})))
    link = layout.approvals / "link.json"
    link.symlink_to(outside)
    assert read_statement(link, APPROVAL_TYPE) is None
    fifo = layout.approvals / "fifo.json"
    os.mkfifo(fifo)  # opening it for reading would block forever
    assert read_statement(fifo, APPROVAL_TYPE) is None
