"""DSSE v1 envelopes: PAE, real Ed25519 sign/verify, strict envelope parsing."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.errors import ExitCode, InputError
from mu.generator.provenance.dsse import (
    PAYLOAD_TYPE,
    Envelope,
    Signature,
    pae,
    sign,
    verify_signatures,
)
from mu.generator.provenance.keys import keyid_of

PAYLOAD = b'{"_type":"https://in-toto.io/Statement/v1","subject":[]}'


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_pae_matches_the_dsse_test_vector() -> None:
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t\u00e9", "\u00e9".encode()) == b"DSSEv1 3 t\xc3\xa9 2 \xc3\xa9"
    assert pae("", b"") == b"DSSEv1 0  0 "


def test_sign_then_verify_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, key)
    keyid = keyid_of(key.public_key())
    assert envelope.payload_type == PAYLOAD_TYPE
    assert envelope.payload == PAYLOAD
    assert [s.keyid for s in envelope.signatures] == [keyid]
    assert len(envelope.signatures[0].sig) == 64
    assert verify_signatures(envelope, {keyid: key.public_key()}) == (keyid,)


def test_signature_is_over_pae_not_the_bare_payload() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, key)
    key.public_key().verify(envelope.signatures[0].sig, pae(PAYLOAD_TYPE, PAYLOAD))


def test_flipped_payload_byte_does_not_verify() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, key)
    tampered = Envelope(PAYLOAD_TYPE, _flip(PAYLOAD, 5), envelope.signatures)
    assert verify_signatures(tampered, {keyid_of(key.public_key()): key.public_key()}) == ()


def test_changed_payload_type_does_not_verify() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, key)
    tampered = Envelope("application/json", PAYLOAD, envelope.signatures)
    assert verify_signatures(tampered, {keyid_of(key.public_key()): key.public_key()}) == ()


def test_flipped_signature_byte_does_not_verify() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, key)
    original = envelope.signatures[0]
    tampered = Envelope(
        PAYLOAD_TYPE, PAYLOAD, (Signature(original.keyid, _flip(original.sig, 10)),)
    )
    assert verify_signatures(tampered, {original.keyid: key.public_key()}) == ()


def test_truncated_signature_does_not_verify_and_does_not_raise() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, key)
    keyid = envelope.signatures[0].keyid
    tampered = Envelope(PAYLOAD_TYPE, PAYLOAD, (Signature(keyid, b"short"),))
    assert verify_signatures(tampered, {keyid: key.public_key()}) == ()


def test_wrong_key_does_not_verify() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, key)
    keyid = envelope.signatures[0].keyid
    # The right keyid mapped to the wrong public key: the signature must not count.
    assert verify_signatures(envelope, {keyid: other.public_key()}) == ()
    # An untrusted keyid is not counted at all.
    assert verify_signatures(envelope, {keyid_of(other.public_key()): other.public_key()}) == ()
    assert verify_signatures(envelope, {}) == ()


def test_several_signatures_count_each_valid_key_once() -> None:
    first, second, stranger = (Ed25519PrivateKey.generate() for _ in range(3))
    sigs = (
        sign(PAYLOAD_TYPE, PAYLOAD, second).signatures
        + sign(PAYLOAD_TYPE, PAYLOAD, first).signatures
        + sign(PAYLOAD_TYPE, PAYLOAD, first).signatures  # a duplicate counts once
        + sign(PAYLOAD_TYPE, PAYLOAD, stranger).signatures
    )
    envelope = Envelope(PAYLOAD_TYPE, PAYLOAD, sigs)
    trusted = {keyid_of(k.public_key()): k.public_key() for k in (first, second)}
    assert verify_signatures(envelope, trusted) == tuple(sorted(trusted))


def test_bad_signature_then_good_signature_for_same_key_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    good = sign(PAYLOAD_TYPE, PAYLOAD, key).signatures[0]
    bad = Signature(good.keyid, _flip(good.sig, 0))
    envelope = Envelope(PAYLOAD_TYPE, PAYLOAD, (bad, good))
    assert verify_signatures(envelope, {good.keyid: key.public_key()}) == (good.keyid,)


def test_to_json_format() -> None:
    envelope = Envelope(PAYLOAD_TYPE, b"hi", (Signature("ab12", b"\x00\x01\x02\x03"),))
    assert envelope.to_json() == (
        b"{\n"
        b'  "payload": "aGk=",\n'
        b'  "payloadType": "application/vnd.in-toto+json",\n'
        b'  "signatures": [\n'
        b"    {\n"
        b'      "keyid": "ab12",\n'
        b'      "sig": "AAECAw=="\n'
        b"    }\n"
        b"  ]\n"
        b"}\n"
    )


def test_to_json_from_json_round_trip() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = sign(PAYLOAD_TYPE, PAYLOAD, key)
    data = envelope.to_json()
    parsed = Envelope.from_json(data, "r.json")
    assert parsed == envelope
    assert parsed.to_json() == data
    assert verify_signatures(parsed, {parsed.signatures[0].keyid: key.public_key()}) == (
        parsed.signatures[0].keyid,
    )


def test_from_json_accepts_compact_json_with_any_key_order() -> None:
    data = json.dumps(
        {"signatures": [{"sig": "AAEC", "keyid": "k"}], "payload": "", "payloadType": "t"}
    ).encode()
    assert Envelope.from_json(data, "e.json") == Envelope("t", b"", (Signature("k", b"\0\1\2"),))


def _envelope(**changes: object) -> bytes:
    document: dict[str, object] = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(PAYLOAD).decode(),
        "signatures": [{"keyid": "abc", "sig": base64.b64encode(b"x" * 64).decode()}],
    }
    for name, value in changes.items():
        if value is _DROP:
            del document[name]
        else:
            document[name] = value
    return json.dumps(document).encode()


_DROP = object()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe{}", "envelope `bad.json` is not UTF-8"),
        (b"{", "envelope `bad.json` is not valid JSON"),
        (b"", "envelope `bad.json` is not valid JSON"),
        (b"[]", "`bad.json` is a list, not a JSON object"),
        (b'"x"', "is a string, not a JSON object"),
        (b"null", "is null, not a JSON object"),
        (_envelope(payloadType=_DROP), "has no `payloadType` field"),
        (_envelope(payload=_DROP), "has no `payload` field"),
        (_envelope(signatures=_DROP), "has no `signatures` field"),
        (_envelope(extra=1), "has unexpected field `extra`"),
        (_envelope(payloadType=7), "`payloadType` that is a number, not a string"),
        (_envelope(payloadType=None), "`payloadType` that is null, not a string"),
        (_envelope(payload=12), "`payload` that is a number, not a base64 string"),
        (_envelope(payload="not base64!"), "`payload` that is not valid standard base64"),
        (_envelope(payload="aGk"), "`payload` that is not valid standard base64"),
        (_envelope(payload="aGk-"), "`payload` that is not valid standard base64"),
        (_envelope(payload="aGl="), "`payload` that is not canonical padded base64"),
        (_envelope(signatures={}), "has `signatures` that is an object, not a list"),
        (_envelope(signatures="sig"), "has `signatures` that is a string, not a list"),
        (_envelope(signatures=[]), "has an empty `signatures` list: it is not signed"),
        (_envelope(signatures=["x"]), "has signature 0 that is a string, not an object"),
        (_envelope(signatures=[{"keyid": "k"}]), "has signature 0 with no `sig` field"),
        (
            _envelope(signatures=[{"keyid": "k", "sig": "AAAA", "cert": "c"}]),
            "has signature 0 with unexpected field `cert`",
        ),
        (
            _envelope(signatures=[{"keyid": 5, "sig": "AAAA"}]),
            "has signature 0 whose `keyid` is a number, not a string",
        ),
        (
            _envelope(signatures=[{"keyid": "k", "sig": "AAAA"}, {"keyid": "k", "sig": "%%"}]),
            "has signature 1 `sig` that is not valid standard base64",
        ),
        (
            _envelope(signatures=[{"keyid": "k", "sig": True}]),
            "has signature 0 `sig` that is a boolean, not a base64 string",
        ),
        (
            b'{"payloadType": "t", "payload": "", "payload": "aGk=", "signatures": []}',
            "repeats the field `payload`",
        ),
    ],
)
def test_from_json_rejects_malformed_envelopes(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as info:
        Envelope.from_json(data, "bad.json")
    assert message in info.value.message
    assert info.value.message.startswith("envelope `bad.json` ")
    assert info.value.hint
    assert info.value.code == ExitCode.USAGE


def test_the_valid_base_of_the_malformed_cases_parses() -> None:
    # Guards the parametrised cases: each fails for its own change only.
    envelope = Envelope.from_json(_envelope(), "ok.json")
    assert envelope.payload == PAYLOAD
    assert envelope.signatures == (Signature("abc", b"x" * 64),)
