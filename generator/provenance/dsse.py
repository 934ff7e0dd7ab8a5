"""DSSE v1 envelopes: the signed wrapper around every receipt (SPEC §6).

Only the payload is hashed and signed, over the pre-authentication encoding
(PAE) so a signature can never be replayed under a different payload type.
Reading an envelope is strict: a receipt is evidence, and evidence that has
been hand-edited into an odd shape must be refused, not guessed at.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from mu.generator.errors import InputError, Location
from mu.generator.foreign import read_bounded
from mu.generator.jsonread import DuplicateKey, NonJsonConstant, loads_strict
from mu.generator.jsonshape import json_type as _json_type
from mu.generator.jsonshape import preview
from mu.generator.provenance.keys import keyid_of

PAYLOAD_TYPE = "application/vnd.in-toto+json"
# Receipts are kilobytes (a subject per generated file); far above that, far below harm.
MAX_ENVELOPE_BYTES = 64 * 1024 * 1024
# mu signs with one key, a trust-root quorum with a few; thousands would only cost time.
MAX_SIGNATURES = 64
# A signature whose keyid names no trusted key is tried with every trusted key (the keyid
# is an unauthenticated hint, DSSE). A real envelope needs a few such trials; past this
# many per envelope it is hostile, and its remaining signatures are left uncounted, so
# verification stays linear however many signatures and trusted keys meet.
MAX_KEY_TRIALS = 1024
# `payloadType` and `keyid` are printed in reports: short, and no control characters.
_LABEL = re.compile(r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]{1,256}")
# DSSE: `keyid` is optional, and unset means set-but-empty (cosign writes "").
_KEYID = re.compile(r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]{0,256}")
_ED25519_SIGNATURE_BYTES = 64
# How a message names a signature that carries an empty keyid.
NO_KEYID = "(no keyid)"

_ENVELOPE_FIELDS = frozenset({"payloadType", "payload", "signatures"})
_SIGNATURE_FIELDS = frozenset({"keyid", "sig"})
_REQUIRED_SIGNATURE_FIELDS = frozenset({"sig"})
_HINT = "restore the envelope from its original copy; envelopes are never edited by hand"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding of `payload` under `payload_type`.

    `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII
    decimal bytes: the lengths make the encoding unambiguous, so no two
    (type, body) pairs share one byte string.
    """
    type_bytes = payload_type.encode("utf-8")
    return b" ".join(
        [
            b"DSSEv1",
            str(len(type_bytes)).encode("ascii"),
            type_bytes,
            str(len(payload)).encode("ascii"),
            payload,
        ]
    )


@dataclass(frozen=True)
class Signature:
    """One signature of an envelope: who it says signed (`keyid`, an unauthenticated
    hint, possibly empty) and the raw Ed25519 bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: a typed payload and its signatures."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> bytes:
        """The envelope file: pretty JSON, sorted keys, 2-space indent, trailing newline."""
        document = {
            "payloadType": self.payload_type,
            "payload": _b64(self.payload),
            "signatures": [{"keyid": s.keyid, "sig": _b64(s.sig)} for s in self.signatures],
        }
        return (json.dumps(document, sort_keys=True, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, source: str, *, unsigned_ok: bool = False) -> Envelope:
        """Parse and strictly validate an envelope file; `source` names it in errors.

        Raises `InputError` naming the first thing that is wrong. Only a
        trust-root proposal that is still collecting signatures may have none
        (`unsigned_ok`).
        """
        document = _parse_json(data, source)
        if not isinstance(document, dict):
            raise _bad(source, f"is {_json_type(document)}, not a JSON object")
        missing = sorted(_ENVELOPE_FIELDS - document.keys())
        if missing:
            raise _bad(source, f"has no {_field_list(missing)} field")
        extra = sorted(document.keys() - _ENVELOPE_FIELDS)
        if extra:
            raise _bad(source, f"has unexpected field {_field_list(extra)}")
        payload_type = document["payloadType"]
        if not isinstance(payload_type, str):
            raise _bad(
                source, f"has a `payloadType` that is {_json_type(payload_type)}, not a string"
            )
        if not _LABEL.fullmatch(payload_type):
            raise _bad(source, "has a `payloadType` that is not 1 to 256 printable characters")
        payload = _b64decode(document["payload"], source, "`payload`")
        signatures = document["signatures"]
        if not isinstance(signatures, list):
            raise _bad(source, f"has `signatures` that is {_json_type(signatures)}, not a list")
        if not signatures and not unsigned_ok:
            raise _bad(source, "has an empty `signatures` list: it is not signed")
        if len(signatures) > MAX_SIGNATURES:
            raise _bad(
                source, f"has {len(signatures)} signatures, more than the {MAX_SIGNATURES} mu reads"
            )
        return cls(
            payload_type=payload_type,
            payload=payload,
            signatures=tuple(
                _signature(entry, source, index) for index, entry in enumerate(signatures)
            ),
        )


def sign(payload_type: str, payload: bytes, key: Ed25519PrivateKey) -> Envelope:
    """An envelope over `payload` carrying one Ed25519 signature by `key`."""
    signature = Signature(
        keyid=keyid_of(key.public_key()), sig=key.sign(pae(payload_type, payload))
    )
    return Envelope(payload_type=payload_type, payload=payload, signatures=(signature,))


def read_envelope_file(
    path: Path, what: str = "envelope", *, unsigned_ok: bool = False
) -> Envelope:
    """Read and parse the envelope file at `path`; `what` names it in errors ("receipt").

    The file is foreign input: only a regular file is read (a FIFO would block,
    `/dev/zero` would never end), and at most `MAX_ENVELOPE_BYTES` of it.
    Anything unreadable or malformed is an `InputError` (exit 2).
    """
    data = read_bounded(path, what=what, limit=MAX_ENVELOPE_BYTES)
    return Envelope.from_json(data, str(path), unsigned_ok=unsigned_ok)


@dataclass(frozen=True)
class SignatureMatch:
    """Which trusted key each signature of an envelope verifies with.

    `keyids[i]` is the canonical keyid (a key of the trusted mapping) that
    signature `i` counts for, or None when it counts for none: it verifies with
    no trusted key, its key already counted, or it was past a cap.
    """

    keyids: tuple[str | None, ...]

    @property
    def verified(self) -> tuple[str, ...]:
        """The trusted keyids whose signature verifies, sorted, each once."""
        return tuple(sorted(k for k in self.keyids if k is not None))


def match_signatures(
    envelope: Envelope, public_keys: Mapping[str, Ed25519PublicKey]
) -> SignatureMatch:
    """Match each signature of `envelope` to the trusted key (of `public_keys`) it verifies with.

    The keyid a signature carries is a hint (DSSE: unauthenticated, maybe empty,
    maybe another tool's way of naming the key): a key it names is tried first,
    then every other trusted key in keyid order. A signature counts for at most
    one key and a key at most once, however many signatures carry it under
    however many keyids, so no quorum is reached by repeating one signature.
    Deterministic: the same envelope and keys always give the same match.
    """
    message = pae(envelope.payload_type, envelope.payload)
    # An envelope read from a file has at most MAX_SIGNATURES; one built in code is capped too.
    signatures = envelope.signatures[:MAX_SIGNATURES]
    matched: list[str | None] = [None] * len(envelope.signatures)
    used: set[str] = set()
    # First every signature by the key its keyid names: one verification each, so the
    # envelopes mu signs cost what they always did.
    for index, signature in enumerate(signatures):
        key = public_keys.get(signature.keyid)
        if key is not None and signature.keyid not in used and _verifies(key, signature, message):
            matched[index] = signature.keyid
            used.add(signature.keyid)
    # Then the rest against every key not yet counted, within a budget of trials.
    order = sorted(public_keys)
    trials = 0
    for index, signature in enumerate(signatures):
        if matched[index] is not None or len(signature.sig) != _ED25519_SIGNATURE_BYTES:
            continue
        for keyid in order:
            if keyid in used or keyid == signature.keyid:  # counted, or tried above
                continue
            if trials == MAX_KEY_TRIALS:
                return SignatureMatch(tuple(matched))
            trials += 1
            if _verifies(public_keys[keyid], signature, message):
                matched[index] = keyid
                used.add(keyid)
                break
    return SignatureMatch(tuple(matched))


def verify_signatures(
    envelope: Envelope, public_keys: Mapping[str, Ed25519PublicKey]
) -> tuple[str, ...]:
    """The keyids of `public_keys` (sorted, each once) whose signature on `envelope` verifies.

    Whatever keyid a signature carries, see `match_signatures`. A signature by
    an untrusted key, or one that does not verify, is simply not counted:
    deciding whether enough keys signed is the caller's policy, so this never
    raises for a bad signature.
    """
    return match_signatures(envelope, public_keys).verified


def hint(signature: Signature) -> str:
    """The keyid a signature claims, for a message: its first 12 characters (escaped
    printable), or `NO_KEYID` when it names none."""
    return preview(signature.keyid, 12).removesuffix("…") if signature.keyid else NO_KEYID


def _verifies(key: Ed25519PublicKey, signature: Signature, message: bytes) -> bool:
    try:
        key.verify(signature.sig, message)
    except InvalidSignature:
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _bad(source: str, what: str, location: Location | None = None) -> InputError:
    return InputError(f"envelope `{source}` {what}", hint=_HINT, location=location)


def _parse_json(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(source, f"is not UTF-8 (byte {exc.start})") from None
    try:
        return loads_strict(text)
    except (DuplicateKey, NonJsonConstant) as exc:
        # json.loads silently keeps the last of two equal keys; in a signed file two
        # `payload` fields would let a reader and a verifier see different payloads.
        raise _bad(source, str(exc)) from None
    except json.JSONDecodeError as exc:
        raise _bad(
            source,
            f"is not valid JSON: {exc.msg[:1].lower()}{exc.msg[1:]} "
            f"at line {exc.lineno} column {exc.colno}",
            Location.of_parse_error(source, exc),
        ) from None
    except RecursionError:
        raise _bad(source, "is nested too deeply to be an envelope") from None
    except ValueError:  # an integer over Python's digit limit (not a JSONDecodeError)
        raise _bad(source, "holds a number too long to read") from None


def _b64decode(value: object, source: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(source, f"has {what} that is {_json_type(value)}, not a base64 string")
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(source, f"has {what} that is not valid standard base64") from None
    # validate=True still accepts non-zero padding bits, so one payload could be
    # spelled several ways; only the canonical spelling round-trips byte for byte.
    if _b64(decoded) != value:
        raise _bad(source, f"has {what} that is not canonical padded base64")
    return decoded


def _signature(entry: object, source: str, index: int) -> Signature:
    where = f"signature {index}"
    if not isinstance(entry, dict):
        raise _bad(source, f"has {where} that is {_json_type(entry)}, not an object")
    missing = sorted(_REQUIRED_SIGNATURE_FIELDS - entry.keys())
    if missing:
        raise _bad(source, f"has {where} with no {_field_list(missing)} field")
    extra = sorted(entry.keys() - _SIGNATURE_FIELDS)
    if extra:
        raise _bad(source, f"has {where} with unexpected field {_field_list(extra)}")
    keyid = entry.get("keyid", "")
    if not isinstance(keyid, str):
        raise _bad(source, f"has {where} whose `keyid` is {_json_type(keyid)}, not a string")
    if not _KEYID.fullmatch(keyid):
        raise _bad(source, f"has {where} whose `keyid` is not up to 256 printable characters")
    return Signature(keyid=keyid, sig=_b64decode(entry["sig"], source, f"{where} `sig`"))


def _field_list(names: list[str]) -> str:
    return ", ".join(f"`{preview(name, 64)}`" for name in names[:10])
