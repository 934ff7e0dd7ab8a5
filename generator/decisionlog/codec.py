"""The bytes of the decision log: canonical JSON, strict parsing, and its three kinds of line.

Every line is one JSON object in canonical form (`canonical_json`: sorted keys,
no spaces, ASCII only, numbers exactly as read) followed by `\\n`, so a line
read back and written again is the same bytes and its sha256 is the identity
of the record. Numbers are read back as `Decimal`s, never floats: `parse_body`
reads every number with a fraction or an exponent as a `Decimal`, and
`canonical_json` writes a `Decimal` as its exact text, so `105000.10` stays
`105000.10` from the request body through the log to a replay. A float a
caller hands in (from a parser that makes floats) is written in the form its
Decimal takes (`1e-07` → `1E-7`), the same value, which reads back the same.

Lines (keys in the order they are written):

- genesis (seq 0): `format`, `kind`, `log_id` (random hex naming the log), `prev`
  (64 zeros), `seq`, `time`;
- decision: `actions`, `decision_id` (`<log_id>-<seq>`), `kind`, `outcome`, `prev`,
  `reasons`, `release`, `seq`, `time`, `transaction` (the canonical JSON value),
  `tx_digest` (sha256 of the transaction's canonical text);
- checkpoint: `envelope` (a DSSE envelope as a JSON object, `checkpoint.py`),
  `kind`, `prev`, `reason`, `seq`, `time`.

`prev` is the sha256 hex of the previous line's bytes, newline included;
`time` is UTC with milliseconds (`2025-01-31T12:00:00.123Z`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any, Final

from mu.generator.errors import InputError
from mu.generator.hashing import sha256_hex
from mu.generator.jsonread import DuplicateKey, NonJsonConstant, refuse_constant, strict_object
from mu.generator.jsonshape import preview

FORMAT: Final = 1  # the `format` of the genesis line: what this module writes
GENESIS_PREV: Final = "0" * 64
OUTCOMES: Final = ("APPROVE", "REJECT", "REVIEW")
KINDS: Final = ("genesis", "decision", "checkpoint")
# A line of the log is a decision of a few kilobytes; far above that, far below harm.
MAX_LINE: Final = 1024 * 1024
TIME_FORM = re.compile(
    r"[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3}Z"
)
LOG_ID_FORM = re.compile(r"[0-9a-f]{8,16}")
HEX64 = re.compile(r"[0-9a-f]{64}")
BODY_HINT = "send one JSON object, UTF-8, without repeated fields or NaN/Infinity"


@dataclass(frozen=True)
class Entry:
    """What the service hands the log for one decision, before it has a place in it."""

    release: str  # receipt digest (sha256 hex) of the A that decided
    transaction_json: str  # canonical JSON text of the transaction (`canonical_json`)
    outcome: str  # APPROVE | REJECT | REVIEW
    reasons: tuple[Mapping[str, Any], ...]  # [{"control_id": ..., "message": ...}]
    actions: tuple[Mapping[str, Any], ...]  # [{"kind", "control_id", "targets", "after"}]
    # The value `transaction_json` was written from, when `Entry.of` made it: then the
    # text needs no second reading to be known canonical.
    transaction: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def of(
        cls,
        release: str,
        transaction: Any,
        outcome: str,
        reasons: tuple[Mapping[str, Any], ...],
        actions: tuple[Mapping[str, Any], ...],
    ) -> Entry:
        """An entry whose transaction text is `canonical_json(transaction)`, written once."""
        return cls(release, canonical_json(transaction), outcome, reasons, actions, transaction)


@dataclass(frozen=True)
class Committed:
    """A decision record once durable: its place in the log and the sha256 of its line."""

    seq: int
    decision_id: str
    time: str
    release: str
    tx_digest: str
    transaction: Any
    outcome: str
    reasons: tuple[Mapping[str, Any], ...]
    actions: tuple[Mapping[str, Any], ...]
    hash: str


class _NeedsPython(Exception):
    """The C encoder met a `Decimal`: only the Python encoder writes its exact text."""


def _default(value: object) -> Any:
    # The C encoder asks here for what it does not know: other mappings and sequences
    # become dicts and lists; a Decimal needs the Python encoder below.
    if isinstance(value, Decimal):
        raise _NeedsPython
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


_REPR_EXPONENT = re.compile(r"[0-9]e[+-]")
_C_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=_default
)


def canonical_json(value: Any) -> str:
    """`value` as canonical JSON text: sorted keys, compact, ensure_ascii, exact Decimals.

    A `Decimal` is written as its own text (`Decimal("1.50")` → `1.50`), so a value
    read by `parse_body` is written back with the same numbers. A float is written as
    the Decimal of its shortest repr (`1e-07` → `1E-7`), so the text also reads back
    the same through `parse_body`. NaN and infinities are refused (`ValueError`), as
    is anything JSON has no value for (`TypeError`).
    """
    try:
        text = str(_C_ENCODER.encode(value))
    except _NeedsPython:
        text = ""
    # The C encoder writes floats in repr's exponent form; where one may be (or a string
    # merely looks like one), the Python encoder writes the whole value instead.
    if not text or _REPR_EXPONENT.search(text):
        out: list[str] = []
        _encode(value, out)
        text = "".join(out)
    return text


def _encode(value: Any, out: list[str]) -> None:
    """The Python encoder: the same text as the C one, and Decimals as their exact text."""
    if isinstance(value, str):
        out.append(encode_basestring_ascii(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        out.append(str(value))
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value} is not a JSON number")
        text = float.__repr__(value)
        # Without an exponent repr and Decimal agree; with one, Decimal's form reads back.
        out.append(str(Decimal(text)) if "e" in text else text)
    elif isinstance(value, Mapping):
        out.append("{")
        for index, key in enumerate(sorted(value)):
            if not isinstance(key, str):
                raise TypeError(f"an object key must be a string, found {type(key).__name__}")
            out.append("," if index else "")
            out.append(encode_basestring_ascii(key))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes):
        out.append("[")
        for index, item in enumerate(value):
            out.append("," if index else "")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON")


def loads_exact(text: str) -> Any:
    """Strict JSON (`generator.jsonread`'s rules) with every non-integer number a `Decimal`.

    Errors propagate as in `jsonread.loads_strict`: `DuplicateKey`, `NonJsonConstant`,
    `json.JSONDecodeError`, `RecursionError`, `ValueError` (a number too long).
    """
    return json.loads(
        text, object_pairs_hook=strict_object, parse_constant=refuse_constant, parse_float=Decimal
    )


def parse_body(data: bytes) -> Any:
    """A request body as JSON, strictly: UTF-8, no repeated field, no NaN/Infinity,
    numbers with a fraction or exponent as `Decimal`. Anything else is an `InputError`
    whose message says what is wrong."""

    def bad(problem: str) -> InputError:
        return InputError(f"the transaction {problem}", hint=BODY_HINT)

    try:
        return loads_exact(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise bad(f"is not UTF-8 (byte {exc.start})") from None
    except (DuplicateKey, NonJsonConstant) as exc:
        raise bad(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise bad(
            f"is not valid JSON: {exc.msg[:1].lower()}{exc.msg[1:]} "
            f"at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise bad("is nested too deeply") from None
    except ValueError:  # an integer over Python's digit limit
        raise bad("holds a number too long to read") from None


def check_entry(entry: Entry) -> Any:
    """The parsed transaction of `entry`; `ValueError` when the entry breaks its contract
    (a caller's bug: the log would hold a line that never verifies)."""
    if entry.outcome not in OUTCOMES:
        raise ValueError(f"outcome `{preview(str(entry.outcome))}` is not one of {OUTCOMES}")
    if not isinstance(entry.release, str) or not HEX64.fullmatch(entry.release):
        raise ValueError("release must be a receipt digest (64 lowercase hex digits)")
    if entry.transaction is not None:  # `Entry.of` wrote the text from it just now
        transaction = entry.transaction
    else:
        # No duplicate-key hook (it costs more than the rest): the text must be canonical,
        # and a repeated key, NaN or a non-canonical number cannot survive writing it again.
        try:
            transaction = json.loads(entry.transaction_json, parse_float=Decimal)
            again = canonical_json(transaction)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"transaction_json is not JSON: {str(exc)[:120]}") from None
        if again != entry.transaction_json:
            raise ValueError(
                "transaction_json is not canonical: pass canonical_json(parse_body(..))"
            )
    # Checked here, in the caller's thread: in the writer's, it would stop the log.
    try:
        canonical_json([entry.reasons, entry.actions])
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"reasons and actions must be JSON: {exc}") from None
    return transaction


def now() -> str:
    """The current UTC time as the log records it: milliseconds and `Z`."""
    seconds = time.time()
    whole = int(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + (
        f".{int((seconds - whole) * 1000):03d}Z"
    )


def line_hash(line: bytes) -> str:
    """The sha256 hex of one line's bytes, newline included: the next line's `prev`."""
    return sha256_hex(line)


def genesis_line(log_id: str, stamp: str) -> bytes:
    """The first line of a log."""
    fields = {"format": FORMAT, "kind": "genesis", "log_id": log_id, "prev": GENESIS_PREV}
    return (canonical_json({**fields, "seq": 0, "time": stamp}) + "\n").encode("ascii")


def decision_line(
    entry: Entry, seq: int, decision_id: str, stamp: str, prev: str, tx_digest: str
) -> bytes:
    """One decision's line, the transaction embedded as its canonical text.

    `transaction` and `tx_digest` sort after every other key, so the line is the
    canonical form of the whole record without re-encoding the transaction.
    """
    head = canonical_json(
        {
            "actions": entry.actions,
            "decision_id": decision_id,
            "kind": "decision",
            "outcome": entry.outcome,
            "prev": prev,
            "reasons": entry.reasons,
            "release": entry.release,
            "seq": seq,
            "time": stamp,
        }
    )
    text = f'{head[:-1]},"transaction":{entry.transaction_json},"tx_digest":"{tx_digest}"}}\n'
    return text.encode("ascii")


def checkpoint_line(
    seq: int, prev: str, stamp: str, reason: str, envelope: Mapping[str, Any]
) -> bytes:
    """A checkpoint's line: the signed envelope and, outside it, where it sits."""
    fields = {"envelope": envelope, "kind": "checkpoint", "prev": prev, "reason": reason}
    return (canonical_json({**fields, "seq": seq, "time": stamp}) + "\n").encode("ascii")


def committed(record: Mapping[str, Any], line: bytes) -> Committed:
    """The `Committed` value of a decision record that was checked (or just written)."""
    return Committed(
        seq=record["seq"],
        decision_id=record["decision_id"],
        time=record["time"],
        release=record["release"],
        tx_digest=record["tx_digest"],
        transaction=record["transaction"],
        outcome=record["outcome"],
        reasons=tuple(record["reasons"]),
        actions=tuple(record["actions"]),
        hash=line_hash(line),
    )
