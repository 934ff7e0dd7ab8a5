"""Receipts: in-toto statements in DSSE envelopes, chained by parent digest.

This module builds the statement (a pure function of its inputs: no clock,
host, user or randomness), reads receipts back strictly, and stores them.
Signing and verification of envelopes live in `dsse.py`; the checks an
auditor runs live in `verify_receipt.py`;
the statements' kinds and shapes in `statement.py`, their typed predicates
in `predicates.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu.generator.errors import CheckFailed, InputError, Problem
from mu.generator.files import write_file_atomic
from mu.generator.hashing import canonical_json, sha256_hex
from mu.generator.jsonread import DuplicateKey, NonJsonConstant, loads_strict
from mu.generator.jsonshape import json_type, preview
from mu.generator.layout import Layout
from mu.generator.paths import inside_repository
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, read_envelope_file
from mu.generator.provenance.predicates import (
    Change,
    Predicate,
    ReceiptPredicate,
    RejectionPredicate,
    typed_predicate,
)
from mu.generator.provenance.statement import MALFORMED_HINT as MALFORMED_HINT
from mu.generator.provenance.statement import RECEIPT_TYPE as RECEIPT_TYPE
from mu.generator.provenance.statement import REJECTION_TYPE as REJECTION_TYPE
from mu.generator.provenance.statement import STATEMENT_TYPE as STATEMENT_TYPE
from mu.generator.provenance.statement import describe, statement_problems

# `\Z`, not `$`: `$` also matches before a trailing newline in a file name.
RECEIPT_NAME = re.compile(r"^([0-9]{4})-([0-9a-f]{12})\.json\Z")


@dataclass(frozen=True)
class StoredReceipt:
    """A receipt read from disk: its envelope, payload bytes, statement and digest.

    `problems` lists every way the statement departs from the shape of its
    kind (`generator.provenance.statement`); a receipt with none is
    `well_formed`, and only then is its predicate typed (`typed`): `predicate`
    for a build receipt, `rejection` for a rejection receipt.
    `read_receipt`, `read_chain` and `newest` return only well-formed receipts.
    """

    path: Path
    envelope: Envelope
    statement: dict[str, Any]
    digest: str
    problems: tuple[Problem, ...] = ()
    typed: Predicate | None = None  # None when malformed, or of a kind not read field by field

    @property
    def well_formed(self) -> bool:
        """True when the statement has exactly the shape its reader required."""
        return not self.problems

    @property
    def is_receipt(self) -> bool:
        """Well formed and of the receipt type: only then is it a link of the chain."""
        return isinstance(self.typed, ReceiptPredicate)

    @property
    def predicate(self) -> ReceiptPredicate:
        """The typed build-receipt predicate; `CheckFailed` when this is not a well-formed one."""
        if isinstance(self.typed, ReceiptPredicate):
            return self.typed
        raise self._not_a(RECEIPT_TYPE)

    @property
    def rejection(self) -> RejectionPredicate:
        """The typed rejection predicate; `CheckFailed` when this is not a well-formed one."""
        if isinstance(self.typed, RejectionPredicate):
            return self.typed
        raise self._not_a(REJECTION_TYPE)

    def _not_a(self, kind: str) -> CheckFailed:
        if self.problems:
            return self.malformed()
        return CheckFailed(f"receipt `{self.path.name}` is not a `{kind}`", hint=MALFORMED_HINT)

    @property
    def sequence(self) -> int:
        """The position of this receipt in the chain (1 for the first; 0 if malformed)."""
        return self.typed.sequence if isinstance(self.typed, ReceiptPredicate) else 0

    @property
    def subjects(self) -> dict[str, str]:
        """Subject name → sha256, as recorded (only well-formed entries of a malformed one)."""
        subject = self.statement.get("subject")
        out: dict[str, str] = {}
        for s in subject if isinstance(subject, list) else []:
            digest = s.get("digest") if isinstance(s, dict) else None
            name = s.get("name") if isinstance(s, dict) else None
            sha256 = digest.get("sha256") if isinstance(digest, dict) else None
            if isinstance(name, str) and isinstance(sha256, str):
                out[name] = sha256
        return out

    def malformed(self) -> CheckFailed:
        """The error that refuses this receipt: its file, the first field and every problem."""
        return CheckFailed(
            f"receipt `{self.path.name}`: {describe(self.problems)}",
            hint=MALFORMED_HINT,
            problems=self.problems,
        )

    def require_well_formed(self) -> StoredReceipt:
        """This receipt, or `CheckFailed` (exit 1) naming every malformed field."""
        if self.problems:
            raise self.malformed()
        return self


def payload_digest(payload: bytes) -> str:
    """The statement digest: sha256 of the canonical payload bytes."""
    return sha256_hex(payload)


def subjects(prefix: str, files: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """in-toto subjects for a tree of files, sorted by name."""
    return [
        {"name": f"{prefix}/{path}", "digest": {"sha256": sha256_hex(files[path])}}
        for path in sorted(files)
    ]


def change_since(parent: StoredReceipt | None, controls: Mapping[str, str]) -> Change:
    """Controls added, removed and changed (by digest) since the parent receipt."""
    before: dict[str, str] = {}
    if parent is not None:
        before = {k: v.digest for k, v in parent.predicate.controls.items()}
    return Change(
        added=tuple(sorted(set(controls) - set(before))),
        removed=tuple(sorted(set(before) - set(controls))),
        changed=tuple(sorted(c for c in set(controls) & set(before) if controls[c] != before[c])),
    )


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
    """Decode a payload into a statement object; malformed JSON is an input error.

    Only the JSON is checked here; `statement_problems` checks the shape.
    """
    value, problem = _decode(payload)
    if value is None:
        raise InputError(
            f"the payload of `{source}` {problem}",
            hint="the payload of a statement is canonical JSON written by mu",
        )
    return value


def _decode(payload: bytes) -> tuple[dict[str, Any] | None, str]:
    """The payload as a JSON object, or None and what is wrong with it.

    Strict (`loads_strict`): json.loads keeps the last of two equal keys, and a
    signed statement with two `parent` fields would read differently in
    another language's parser.
    """
    try:
        value = loads_strict(payload)
    except UnicodeDecodeError as exc:
        return None, f"is not UTF-8 (byte {exc.start})"
    except DuplicateKey as exc:
        return None, f"repeats the field `{preview(exc.key, 64)}`"
    except NonJsonConstant as exc:
        return None, str(exc)
    except RecursionError:
        return None, "is nested too deeply to be a statement"
    except ValueError as exc:  # JSONDecodeError, or an integer over Python's digit limit
        return None, f"is not JSON: {str(exc)[:200]}"
    if not isinstance(value, dict):
        return None, f"is {json_type(value)}, not a JSON object"
    return value, ""


def load_receipt(path: Path, kind: str | None = RECEIPT_TYPE) -> StoredReceipt:
    """Read one receipt file, recording (not raising) what is wrong with its statement.

    An unreadable file or envelope is an `InputError` (exit 2). The payload is
    signed evidence: one that is not a JSON object, or a statement not of the
    shape of its type — `kind` when given, the only type accepted — is kept
    with every problem in `problems`, so that `mu verify-receipt` reports it
    as a failed check and `mu log` and `mu verify` as a failed link and go on.
    """
    envelope = read_envelope_file(path, "receipt")
    if envelope.payload_type != PAYLOAD_TYPE:
        raise InputError(
            f"`{path}` has payloadType `{envelope.payload_type}`, expected `{PAYLOAD_TYPE}`",
            hint="pass a receipt that `mu build` wrote (`receipts/NNNN-*.json`)",
        )
    stmt, problem = _decode(envelope.payload)
    problems = (
        statement_problems(stmt, kind) if stmt is not None else (Problem("the payload", problem),)
    )
    return StoredReceipt(
        path=path,
        envelope=envelope,
        statement=stmt if stmt is not None else {},
        digest=payload_digest(envelope.payload),
        problems=problems,
        typed=typed_predicate(stmt) if stmt is not None and not problems else None,
    )


def read_receipt(path: Path, kind: str | None = RECEIPT_TYPE) -> StoredReceipt:
    """Read one receipt file strictly.

    Unreadable input is an `InputError` (exit 2); a statement that is not of
    type `kind` or not of its shape is `CheckFailed` (exit 1) naming the file
    and every malformed field.
    """
    return load_receipt(path, kind).require_well_formed()


def chain_paths(receipts_dir: Path) -> list[Path]:
    """Receipt files of the chain, in sequence order (rejections are not links)."""
    if not receipts_dir.is_dir():
        return []
    return sorted(p for p in receipts_dir.iterdir() if p.is_file() and RECEIPT_NAME.match(p.name))


def load_chain(receipts_dir: Path) -> list[StoredReceipt]:
    """Every receipt of the chain in sequence order, malformed ones included (see `problems`)."""
    return [load_receipt(p) for p in chain_paths(receipts_dir)]


def read_chain(receipts_dir: Path) -> list[StoredReceipt]:
    """Every receipt of the chain in sequence order; a malformed one is `CheckFailed`."""
    chain = load_chain(receipts_dir)
    bad = [r for r in chain if not r.well_formed]
    if len(bad) == 1:
        raise bad[0].malformed()
    if bad:
        raise CheckFailed(
            f"{len(bad)} receipts of the chain are malformed: "
            + ", ".join(f"`{r.path.name}`" for r in bad),
            hint=MALFORMED_HINT,
            problems=[Problem(f"`{r.path.name}`", describe(r.problems)) for r in bad],
        )
    return chain


def newest(receipts_dir: Path) -> StoredReceipt | None:
    """The newest receipt of the chain, if there is one; a malformed one is `CheckFailed`."""
    paths = chain_paths(receipts_dir)
    return read_receipt(paths[-1]) if paths else None


def receipt_name(sequence: int, digest: str) -> str:
    """`<4-digit sequence>-<first 12 hex of the statement digest>.json`."""
    return f"{sequence:04d}-{digest[:12]}.json"


def store(layout: Layout, directory: Path, name: str, envelope: Envelope) -> Path:
    """Write an envelope atomically under `directory/name`; never overwrite another.

    Receipts are public evidence: written 0644, like snapshots and the trust policy.
    A folder of `receipts/` replaced by a symlink to elsewhere is refused, so no
    evidence is ever written outside the repository it describes.
    """
    target = inside_repository(layout, directory / name)
    data = envelope.to_json()
    if target.exists():
        if target.read_bytes() == data:
            return target
        raise InputError(
            f"`{target}` already exists with other content",
            hint="mu never overwrites signed evidence; move that file aside and run again",
        )
    write_file_atomic(target, data)
    return target


def store_receipt(layout: Layout, envelope: Envelope, sequence: int) -> Path:
    """Store a chain receipt as `receipts/NNNN-<12 hex>.json`."""
    return store(
        layout, layout.receipts, receipt_name(sequence, payload_digest(envelope.payload)), envelope
    )


def store_rejection(layout: Layout, envelope: Envelope) -> Path:
    """Store a rejection receipt under `receipts/rejected/`."""
    name = f"{payload_digest(envelope.payload)[:12]}.json"
    return store(layout, layout.rejected, name, envelope)
