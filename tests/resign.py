"""Forge what an insider with a trusted key could sign: re-signed receipts and snapshots."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mu.generator.hashing import canonical_json, sha256_hex
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, sign
from mu.generator.provenance.keys import load_private_key

Statement = dict[str, Any]


def resign(receipt: Path, key: Path, mutate: Callable[[Statement], None]) -> Path:
    """Replace `receipt` by a validly signed copy whose statement `mutate` changed."""
    envelope = Envelope.from_json(receipt.read_bytes(), receipt.name)
    statement = json.loads(envelope.payload)
    mutate(statement)
    payload = canonical_json(statement)
    signed = sign(PAYLOAD_TYPE, payload, load_private_key(key))
    receipt.unlink()
    sequence = receipt.name.split("-", 1)[0]
    out = receipt.parent / f"{sequence}-{sha256_hex(payload)[:12]}.json"
    out.write_bytes(signed.to_json())
    return out


def plant_snapshot(root: Path, files: dict[str, str]) -> dict[str, str]:
    """Store a snapshot holding `files` as mu would; its reference for a receipt."""
    data = canonical_json({"format": "urn:mu:v1#Snapshot", "files": files})
    digest = sha256_hex(data)
    path = root / "receipts" / "snapshots" / f"{digest}.json"
    path.write_bytes(data)
    return {"path": f"receipts/snapshots/{digest}.json", "sha256": digest}


def snapshot_files(root: Path, statement: Statement) -> dict[str, str]:
    """The files of the snapshot a statement names."""
    ref = statement["predicate"]["ontology"]["snapshot"]
    files: dict[str, str] = json.loads((root / ref["path"]).read_bytes())["files"]
    return files
