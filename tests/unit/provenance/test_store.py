"""Receipts and snapshots are public evidence: stored atomically, mode 0644
whatever the umask, under the paths `Layout` names (generator/provenance/receipt.py
`store`, snapshot.py `write_snapshot`)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.errors import InputError
from mu.generator.layout import SNAPSHOTS, Layout
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, sign
from mu.generator.provenance.receipt import store, store_receipt, store_rejection
from mu.generator.provenance.snapshot import write_snapshot

KEY = Ed25519PrivateKey.generate()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _envelope(payload: bytes = b'{"x": 1}') -> Envelope:
    return sign(PAYLOAD_TYPE, payload, KEY)


@pytest.fixture
def private_umask() -> Iterator[None]:
    """A umask that would make any file created with default permissions 0600."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("private_umask")
def test_a_stored_receipt_and_a_snapshot_are_0644(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    receipt = store_receipt(layout, _envelope(), 1)
    rejection = store_rejection(layout, _envelope(b'{"y": 2}'))
    snapshot = write_snapshot(layout, {"ontology/controls/a.ttl": "# a\n"})
    for path in (receipt, rejection, layout.root / snapshot.path):
        assert _mode(path) == 0o644, path
    assert receipt.parent == layout.receipts
    assert rejection.parent == layout.rejected
    assert (layout.root / snapshot.path).parent == layout.snapshots
    # Nothing half-written is left beside them.
    leftovers = [p.name for p in layout.receipts.rglob(".*")]
    assert leftovers == []


def test_store_is_idempotent_and_never_overwrites(tmp_path: Path) -> None:
    envelope = _envelope()
    first = store(Layout(tmp_path), tmp_path, "a.json", envelope)
    assert store(Layout(tmp_path), tmp_path, "a.json", envelope) == first
    with pytest.raises(InputError, match="already exists with other content"):
        store(Layout(tmp_path), tmp_path, "a.json", _envelope(b'{"x": 2}'))
    assert first.read_bytes() == envelope.to_json()


def test_every_receipts_path_is_on_the_layout(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert layout.snapshots == tmp_path / SNAPSHOTS
    named = {
        layout.snapshots: "snapshots",
        layout.approvals: "approvals",
        layout.rejected: "rejected",
        layout.audits: "audits",
        layout.upgrades: "upgrades",
        layout.trust_file: "trust.json",
    }
    for path, name in named.items():
        assert path == layout.receipts / name
