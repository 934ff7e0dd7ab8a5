"""Signed checkpoints of the decision log: who signs them, what they say, how they are read.

A checkpoint is an in-toto Statement v1 of type `urn:mu:v1#DecisionCheckpoint`
in a DSSE envelope signed by a key of the trust root's `runtime` role (SPEC
§9, §10). Its subject is `decisions/<log_id>` with the sha256 of the last line
it covers (the head of the hash chain: the checkpoint line's own `prev`); its
predicate says which record that is (`seq`), how many decision records the log
held up to there (`decisions`), why it was signed (`reason`: `interval`,
`rotation`, `shutdown`, `recovery`), when (`time`), and — as every statement mu
signs — the repository and the trust-root version it was made under. A
recovery checkpoint also says what the restart found (`recovery`): the first
record no checkpoint had covered, how many decisions that left uncovered, and
how many bytes of a half-written last line were cut away.

The checkpoint line is itself chained (the next line's `prev` is its hash), and
every field of the line outside the envelope must repeat what is signed, so the
line holds nothing a forger could change without breaking a signature.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu.generator.errors import InputError
from mu.generator.hashing import canonical_json as jcs
from mu.generator.jsonshape import json_type
from mu.generator.layout import Layout
from mu.generator.provenance.claims import MadeUnder, TrustRef
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope
from mu.generator.provenance.receipt import (
    StoredReceipt,
    parse_statement,
    payload_digest,
    statement,
)
from mu.generator.provenance.signing import Signer, authorise, resolve_signer
from mu.generator.provenance.statement import CHECKPOINT_TYPE, describe, statement_problems
from mu.generator.provenance.trusthistory import TrustHistory
from mu.generator.provenance.trustroot import Role, quorum
from mu.generator.provenance.verify_basis import find_basis, trust_check

SUBJECT_PREFIX = "decisions/"
ROLE: Role = "runtime"


@dataclass(frozen=True)
class CheckpointSigner:
    """A key authorised for the `runtime` role, and what its statements say they were made
    under (the repository and the trust-root version it was authorised in)."""

    signer: Signer
    identity: str
    repository: str
    trust_root: TrustRef

    @property
    def keyid(self) -> str:
        """The signing key's id."""
        return self.signer.keyid

    def sign(self, predicate: Mapping[str, Any], log_id: str, head: str) -> dict[str, Any]:
        """The envelope, as a JSON object for the log line, of a checkpoint of `log_id`
        whose head (the sha256 of the last line covered) is `head`."""
        made = MadeUnder(self.repository, self.trust_root)
        subject = [{"name": f"{SUBJECT_PREFIX}{log_id}", "digest": {"sha256": head}}]
        payload = statement(subject, CHECKPOINT_TYPE, {**predicate, **made.to_dict()})
        return envelope_dict(self.signer.sign(payload))


def checkpoint_signer(layout: Layout, key_path: Path, history: TrustHistory) -> CheckpointSigner:
    """The signer of checkpoints: the key at `key_path` (passphrase from
    `MU_KEY_PASSPHRASE`), which must hold `runtime` in the newest trust-root version.

    `CheckFailed` (exit 1) with the role hint when it does not; `InputError` (exit 2)
    when the key cannot be read.
    """
    signer = resolve_signer(layout, key_path)
    authorised = authorise(signer, history, ROLE, "no decision-log checkpoint can be signed")
    root = authorised.root
    return CheckpointSigner(
        signer, authorised.identity, history.repository, TrustRef(root.version, root.digest)
    )


def envelope_dict(envelope: Envelope) -> dict[str, Any]:
    """The envelope as the JSON object a checkpoint line embeds (the same fields as its file)."""
    data: dict[str, Any] = json.loads(envelope.to_json())
    return data


@dataclass(frozen=True)
class ReadCheckpoint:
    """A checkpoint envelope read from a line: its statement and predicate, or what is wrong."""

    envelope: Envelope | None
    statement: dict[str, Any]
    predicate: dict[str, Any]
    problem: str | None  # None when the envelope and statement have mu's shape


def read_checkpoint(value: object, source: str) -> ReadCheckpoint:
    """The envelope object of a checkpoint line, parsed and shape-checked (never raises)."""
    if not isinstance(value, dict):
        return ReadCheckpoint(None, {}, {}, f"`envelope` is {json_type(value)}, not an object")
    try:
        envelope = Envelope.from_json(jcs(value), source)
    except InputError as exc:
        return ReadCheckpoint(None, {}, {}, exc.message)
    except (TypeError, ValueError, RecursionError) as exc:  # e.g. a number JCS cannot write
        return ReadCheckpoint(None, {}, {}, f"`envelope` is not an envelope: {str(exc)[:120]}")
    if envelope.payload_type != PAYLOAD_TYPE:
        return ReadCheckpoint(envelope, {}, {}, "the envelope is not an in-toto statement")
    try:
        stmt = parse_statement(envelope.payload, source)
    except InputError as exc:
        return ReadCheckpoint(envelope, {}, {}, exc.message)
    problems = statement_problems(stmt, CHECKPOINT_TYPE)
    if problems:
        return ReadCheckpoint(envelope, stmt, {}, f"the signed statement: {describe(problems)}")
    return ReadCheckpoint(envelope, stmt, stmt["predicate"], None)


def head_of(read: ReadCheckpoint) -> tuple[str, str]:
    """The subject's name and digest of a well-formed checkpoint (the first subject)."""
    subject = read.statement["subject"][0]
    return subject["name"], subject["digest"]["sha256"]


@dataclass(frozen=True)
class Trust:
    """Whether a checkpoint's signature counts: by a `runtime` key of the version it names,
    and whether that key still holds `runtime` in the newest version."""

    ok: bool
    detail: str
    current: bool


def trust_of(read: ReadCheckpoint, history: TrustHistory, path: Path) -> Trust:
    """Check a well-formed checkpoint's signature against the trust root (as
    `mu verify-receipt` checks any statement: `verify_basis.find_basis`, `trust_check`)."""
    assert read.envelope is not None
    stored = StoredReceipt(
        path=path,
        envelope=read.envelope,
        statement=read.statement,
        digest=payload_digest(read.envelope.payload),
    )
    basis = find_basis(stored, CHECKPOINT_TYPE, history)
    check, _, _, _ = trust_check(stored, basis, ROLE, history)
    if not check.ok:
        return Trust(False, check.detail, False)
    current = quorum(read.envelope, history.newest.metadata, ROLE).ok
    return Trust(True, check.detail, current)
