"""Malformed files in `receipts/approvals/` approve nothing and crash nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from generator.errors import InputError
from generator.layout import Layout
from generator.provenance.approvals import APPROVAL_TYPE, valid_approvals
from generator.provenance.dsse import PAYLOAD_TYPE, sign

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


@pytest.mark.parametrize("name", sorted(set(MALFORMED) - {"payload-huge-int"}))
def test_a_malformed_approval_approves_nothing_without_a_traceback(
    layout: Layout, name: str
) -> None:
    (layout.approvals / f"{name}.json").write_bytes(MALFORMED[name])
    assert valid_approvals(layout, DIGEST) == ()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("huge-int", "number too long"),
        ("deep", "nested too deeply"),
        ("payload-huge-int", "digits"),
        ("payload-deep", "nested too deeply"),
    ],
)
def test_reading_a_malformed_approval_names_the_file(
    layout: Layout, name: str, expected: str
) -> None:
    from generator.provenance.approvals import read_approval_file

    path = layout.approvals / f"{name}.json"
    path.write_bytes(MALFORMED[name])
    with pytest.raises(InputError) as info:
        read_approval_file(path)
    # The envelope and statement readers may name the problem first; either way
    # the message names the file and what is wrong with it.
    assert f"`{path}`" in info.value.message and expected in info.value.message


def test_links_and_special_files_are_never_read(layout: Layout, tmp_path: Path) -> None:
    from generator.provenance.approvals import read_approval_file

    outside = tmp_path / "outside.json"
    outside.write_bytes(_envelope(_statement({"ontology": {"digest": DIGEST}})))
    link = layout.approvals / "link.json"
    link.symlink_to(outside)
    with pytest.raises(InputError, match="it is a symbolic link"):
        read_approval_file(link)
    fifo = layout.approvals / "fifo.json"
    os.mkfifo(fifo)  # opening it for reading would block forever
    with pytest.raises(InputError, match="is not a regular file"):
        read_approval_file(fifo)
    assert valid_approvals(layout, DIGEST) == ()
