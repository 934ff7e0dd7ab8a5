"""Receipts: in-toto statements in DSSE envelopes, chained by parent digest.

This module builds the statement (a pure function of its inputs: no clock,
host, user or randomness), reads receipts back strictly, and stores them.
Signing and verification of envelopes live in `dsse.py`; the checks an
auditor runs live in `verification.py`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.dsse import PAYLOAD_TYPE, Envelope
from generator.errors import InputError
from generator.hashing import canonical_json, sha256_hex
from generator.layout import Layout

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
RECEIPT_TYPE = "urn:mu:v1#Receipt"
REJECTION_TYPE = "urn:mu:v1#Rejection"
AUDIT_TYPE = "urn:mu:v1#AuditStatement"
RECEIPT_NAME = re.compile(r"^(\d{4})-([0-9a-f]{12})\.json$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
PREDICATE_KEYS = (
    "sequence",
    "generator",
    "ontology",
    "golden",
    "gates",
    "controls",
    "enforcers",
    "parent",
    "change",
)


@dataclass(frozen=True)
class StoredReceipt:
    """A receipt read from disk: its envelope, payload bytes, statement and digest."""

    path: Path
    envelope: Envelope
    statement: dict[str, Any]
    digest: str

    @property
    def predicate(self) -> dict[str, Any]:
        """The statement's predicate."""
        value = self.statement.get("predicate")
        return value if isinstance(value, dict) else {}

    @property
    def sequence(self) -> int:
        """The position of this receipt in the chain (1 for the first)."""
        value = self.predicate.get("sequence")
        return value if isinstance(value, int) else 0

    @property
    def subjects(self) -> dict[str, str]:
        """Subject name → sha256, as recorded."""
        return {
            s["name"]: s["digest"]["sha256"]
            for s in self.statement.get("subject", [])
            if isinstance(s, dict)
        }


def payload_digest(payload: bytes) -> str:
    """The statement digest: sha256 of the canonical payload bytes."""
    return sha256_hex(payload)


def subjects(prefix: str, files: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """in-toto subjects for a tree of files, sorted by name."""
    return [
        {"name": f"{prefix}/{path}", "digest": {"sha256": sha256_hex(files[path])}}
        for path in sorted(files)
    ]


def change_since(parent: StoredReceipt | None, controls: Mapping[str, str]) -> dict[str, list[str]]:
    """Controls added, removed and changed (by digest) since the parent receipt."""
    before: dict[str, str] = {}
    if parent is not None:
        recorded = parent.predicate.get("controls", {})
        before = {k: v.get("digest", "") for k, v in recorded.items() if isinstance(v, dict)}
    return {
        "added": sorted(set(controls) - set(before)),
        "removed": sorted(set(before) - set(controls)),
        "changed": sorted(c for c in set(controls) & set(before) if controls[c] != before[c]),
    }


def statement(
    subject: list[dict[str, Any]], predicate_type: str, predicate: dict[str, Any]
) -> bytes:
    """An in-toto Statement v1 as canonical JSON (RFC 8785) — the DSSE payload."""
    return canonical_json(
        {
            "_type": STATEMENT_TYPE,
            "subject": subject,
            "predicateType": predicate_type,
            "predicate": predicate,
        }
    )


def parse_statement(payload: bytes, source: str) -> dict[str, Any]:
    """Decode a payload into a statement object; malformed JSON is an input error."""
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"the payload of `{source}` is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InputError(f"the payload of `{source}` is not a JSON object")
    return value


def read_receipt(path: Path) -> StoredReceipt:
    """Read one receipt file strictly; anything malformed is an `InputError` (exit 2)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read receipt `{path}`: {exc.strerror}") from exc
    envelope = Envelope.from_json(data, str(path))
    if envelope.payload_type != PAYLOAD_TYPE:
        raise InputError(
            f"`{path}` has payloadType `{envelope.payload_type}`, expected `{PAYLOAD_TYPE}`"
        )
    return StoredReceipt(
        path=path,
        envelope=envelope,
        statement=parse_statement(envelope.payload, str(path)),
        digest=payload_digest(envelope.payload),
    )


def statement_problems(stmt: Mapping[str, Any], predicate_type: str = RECEIPT_TYPE) -> list[str]:
    """Every way in which `stmt` is not a well-formed mu receipt statement."""
    problems = []
    if stmt.get("_type") != STATEMENT_TYPE:
        problems.append(f"`_type` must be `{STATEMENT_TYPE}`")
    if stmt.get("predicateType") != predicate_type:
        problems.append(f"`predicateType` must be `{predicate_type}`")
    subject = stmt.get("subject")
    if not isinstance(subject, list) or not subject:
        problems.append("`subject` must be a non-empty list")
    else:
        for i, s in enumerate(subject):
            ok = (
                isinstance(s, dict)
                and isinstance(s.get("name"), str)
                and isinstance(s.get("digest"), dict)
                and isinstance(s["digest"].get("sha256"), str)
                and HEX64.match(s["digest"]["sha256"])
            )
            if not ok:
                problems.append(f"subject {i} needs a `name` and a `digest.sha256` hex digest")
    predicate = stmt.get("predicate")
    if not isinstance(predicate, dict):
        problems.append("`predicate` must be an object")
        return problems
    if predicate_type == RECEIPT_TYPE:
        missing = [k for k in PREDICATE_KEYS if k not in predicate]
        if missing:
            problems.append(f"the predicate lacks {', '.join(f'`{k}`' for k in missing)}")
        parent = predicate.get("parent")
        if parent is not None and not (isinstance(parent, str) and HEX64.match(parent)):
            problems.append("`parent` must be null or a sha256 hex digest")
        if not isinstance(predicate.get("sequence"), int) or predicate.get("sequence", 0) < 1:
            problems.append("`sequence` must be a positive integer")
    return problems


def chain_paths(receipts_dir: Path) -> list[Path]:
    """Receipt files of the chain, in sequence order (rejections are not links)."""
    if not receipts_dir.is_dir():
        return []
    return sorted(p for p in receipts_dir.iterdir() if p.is_file() and RECEIPT_NAME.match(p.name))


def read_chain(receipts_dir: Path) -> list[StoredReceipt]:
    """Every receipt of the chain, in sequence order."""
    return [read_receipt(p) for p in chain_paths(receipts_dir)]


def newest(receipts_dir: Path) -> StoredReceipt | None:
    """The newest receipt of the chain, if there is one."""
    paths = chain_paths(receipts_dir)
    return read_receipt(paths[-1]) if paths else None


def receipt_name(sequence: int, digest: str) -> str:
    """`<4-digit sequence>-<first 12 hex of the statement digest>.json`."""
    return f"{sequence:04d}-{digest[:12]}.json"


def store(directory: Path, name: str, envelope: Envelope) -> Path:
    """Write an envelope atomically under `directory/name`; never overwrite another."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    data = envelope.to_json()
    if target.exists():
        if target.read_bytes() == data:
            return target
        raise InputError(f"`{target}` already exists with other content")
    fd, tmp = tempfile.mkstemp(prefix=".receipt-", dir=directory)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return target


def store_receipt(layout: Layout, envelope: Envelope, sequence: int) -> Path:
    """Store a chain receipt as `receipts/NNNN-<12 hex>.json`."""
    return store(
        layout.receipts, receipt_name(sequence, payload_digest(envelope.payload)), envelope
    )


def store_rejection(layout: Layout, envelope: Envelope) -> Path:
    """Store a rejection receipt under `receipts/rejected/`."""
    name = f"{payload_digest(envelope.payload)[:12]}.json"
    return store(layout.receipts / "rejected", name, envelope)
