"""A DSSE keyid is an unauthenticated hint: mu tries every trusted key whatever it says,
counts each signature for one key and each key once, names keys by their canonical
keyid, and bounds the work a hostile envelope can cause (SPEC §6, §9)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.provenance import dsse
from mu.generator.provenance.dsse import (
    MAX_KEY_TRIALS,
    MAX_SIGNATURES,
    PAYLOAD_TYPE,
    Envelope,
    Signature,
    match_signatures,
    sign,
    verify_signatures,
)
from mu.generator.provenance.keys import keyid_of
from mu.generator.provenance.signing import Signer
from mu.generator.provenance.trustedit import merge_signature
from mu.generator.provenance.trustroot import RootMetadata, quorum
from tests.conftest import REPO
from tests.unit.provenance.test_trustroot import metadata, signed
from tests.unit.provenance.test_verify_statement import Repo, failed, new_repo, verify

Key = Ed25519PrivateKey
PAYLOAD = b'{"_type":"https://in-toto.io/Statement/v1","subject":[]}'
# Another tool's name for a key (securesystemslib's default keyid is also 64 hex digits,
# a sha256 of its own JSON form of the key): never mu's.
FOREIGN = "f" * 64


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return new_repo(tmp_path / "repo")


def _id(key: Key) -> str:
    return keyid_of(key.public_key())


def _hinted(key: Key, keyid: str, payload: bytes = PAYLOAD) -> Signature:
    """`key`'s signature over `payload`, carrying `keyid` instead of mu's."""
    return Signature(keyid, sign(PAYLOAD_TYPE, payload, key).signatures[0].sig)


def _envelope(*signatures: Signature) -> Envelope:
    return Envelope(PAYLOAD_TYPE, PAYLOAD, signatures)


@pytest.mark.parametrize("claimed", ["", FOREIGN, "release.pem", "0" * 64])
def test_a_trusted_key_verifies_whatever_keyid_the_signature_claims(claimed: str) -> None:
    key = Key.generate()
    trusted = {_id(key): key.public_key()}
    envelope = _envelope(_hinted(key, claimed))
    assert verify_signatures(envelope, trusted) == (_id(key),)
    assert match_signatures(envelope, trusted).keyids == (_id(key),)


def test_a_keyid_naming_another_trusted_key_counts_for_the_key_that_signed() -> None:
    alice, bob = Key.generate(), Key.generate()
    trusted = {_id(k): k.public_key() for k in (alice, bob)}
    # Bob's signature claims to be Alice's: it counts for Bob, and Alice has not signed.
    assert match_signatures(_envelope(_hinted(bob, _id(alice))), trusted).keyids == (_id(bob),)


def test_an_untrusted_key_never_counts_whatever_keyid_it_claims() -> None:
    trusted_key, intruder = Key.generate(), Key.generate()
    trusted = {_id(trusted_key): trusted_key.public_key()}
    for claimed in ("", FOREIGN, _id(trusted_key), _id(intruder)):
        assert verify_signatures(_envelope(_hinted(intruder, claimed)), trusted) == ()


def test_one_key_counts_once_however_many_keyids_its_signatures_carry() -> None:
    key = Key.generate()
    trusted = {_id(key): key.public_key()}
    envelope = _envelope(
        _hinted(key, ""), _hinted(key, FOREIGN), _hinted(key, _id(key)), _hinted(key, "x")
    )
    match = match_signatures(envelope, trusted)
    assert match.verified == (_id(key),)
    # The signature naming the key is the one that counts; the copies count for nothing.
    assert match.keyids == (None, None, _id(key), None)


def test_repeating_one_signature_under_several_keyids_reaches_no_quorum() -> None:
    """The attack: one root identity of two, its signature copied with differing keyids."""
    alice, bob = Key.generate(), Key.generate()
    m = metadata({"alice": [alice], "bob": [bob]}, threshold=2)
    genuine = signed(m, alice)
    copies = tuple(
        Signature(claimed, genuine.signatures[0].sig) for claimed in ("", FOREIGN, _id(bob))
    )
    forged = dataclasses.replace(genuine, signatures=(*genuine.signatures, *copies))
    q = quorum(forged, m, "root")
    assert not q.ok
    assert q.identities == ("alice",) and q.keyids == (_id(alice),)
    assert "1/2 `root`" in q.describe(m)
    both = dataclasses.replace(forged, signatures=(*forged.signatures, _hinted_on(m, bob, "")))
    assert quorum(both, m, "root").identities == ("alice", "bob")


def _hinted_on(m: RootMetadata, key: Key, keyid: str) -> Signature:
    return _hinted(key, keyid, m.statement())


def test_a_quorum_names_keys_by_their_canonical_keyid_and_strangers_by_their_claim() -> None:
    alice, intruder = Key.generate(), Key.generate()
    m = metadata({"alice": [alice]})
    envelope = dataclasses.replace(
        signed(m),
        signatures=(
            _hinted_on(m, alice, FOREIGN),
            _hinted_on(m, intruder, ""),
            _hinted_on(m, intruder, "abcdef0123456789"),
        ),
    )
    q = quorum(envelope, m, "root")
    assert q.ok and q.keyids == (_id(alice),)
    assert q.unknown == ("(no keyid)", "abcdef012345")
    assert "untrusted key (no keyid), `abcdef012345`" in q.describe(m)


def test_matching_is_deterministic_whatever_order_the_trusted_keys_come_in() -> None:
    keys = [Key.generate() for _ in range(5)]
    envelope = _envelope(*(_hinted(k, "") for k in reversed(keys)))
    forward = {_id(k): k.public_key() for k in keys}
    backward = dict(reversed(list(forward.items())))
    assert match_signatures(envelope, forward) == match_signatures(envelope, backward)
    assert verify_signatures(envelope, forward) == tuple(sorted(forward))


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real: Callable[..., bool] = dsse._verifies

    def counted(*args: object) -> bool:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(dsse, "_verifies", counted)
    return calls


def test_a_hostile_envelope_costs_a_bounded_number_of_verifications(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = [Key.generate() for _ in range(MAX_SIGNATURES)]
    trusted = {_id(k): k.public_key() for k in keys}
    junk = [Signature("", bytes([n]) * 64) for n in range(MAX_SIGNATURES - 1)]
    good = sign(PAYLOAD_TYPE, PAYLOAD, keys[0]).signatures[0]
    calls = _counting(monkeypatch)
    # 63 hint-less signatures against 64 keys would be 4,032 trials; the budget stops it,
    # and a signature naming its key is still checked first, for one verification.
    assert verify_signatures(_envelope(*junk, good), trusted) == (_id(keys[0]),)
    assert calls[0] == 1 + MAX_KEY_TRIALS
    assert MAX_KEY_TRIALS < (MAX_SIGNATURES - 1) * (MAX_SIGNATURES - 1)


def test_signatures_past_the_cap_are_not_examined(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Key.generate()
    trusted = {_id(key): key.public_key()}
    padding = [Signature(_id(key), b"\0" * 64)] * MAX_SIGNATURES
    calls = _counting(monkeypatch)
    late = _envelope(*padding, sign(PAYLOAD_TYPE, PAYLOAD, key).signatures[0])
    assert match_signatures(late, trusted).keyids == (None,) * (MAX_SIGNATURES + 1)
    assert calls[0] == MAX_SIGNATURES  # one per examined signature, by the key it names


def test_a_signature_that_is_not_64_bytes_is_tried_with_no_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = [Key.generate() for _ in range(3)]
    calls = _counting(monkeypatch)
    envelope = _envelope(Signature("", b"short"), Signature(FOREIGN, b"x" * 65))
    assert verify_signatures(envelope, {_id(k): k.public_key() for k in keys}) == ()
    assert calls[0] == 0


@pytest.mark.parametrize("signature", [{"sig": "AAAA"}, {"keyid": "", "sig": "AAAA"}])
def test_an_unset_or_empty_keyid_is_read_as_empty(signature: dict[str, str]) -> None:
    # DSSE: `keyid` is optional, and unset is the same as set but empty.
    data = json.dumps(
        {"payloadType": PAYLOAD_TYPE, "payload": "aGk=", "signatures": [signature]}
    ).encode()
    envelope = Envelope.from_json(data, "e.json")
    assert envelope.signatures == (Signature("", b"\0\0\0"),)
    assert json.loads(envelope.to_json())["signatures"] == [{"keyid": "", "sig": "AAAA"}]


def test_signing_a_proposal_replaces_the_signers_signature_whatever_its_keyid() -> None:
    key, other = Key.generate(), Key.generate()
    signer = Signer(key, _id(key), Path("k.pem"), development=False)
    earlier = _envelope(_hinted(key, ""), _hinted(other, FOREIGN))
    merged = merge_signature(earlier, signer)
    assert [s.keyid for s in merged.signatures] == sorted([_id(key), FOREIGN])


def test_the_documented_caps_are_the_caps() -> None:
    text = " ".join((REPO / "docs" / "RECEIPTS.md").read_text(encoding="utf-8").split())
    assert f"At most {MAX_SIGNATURES} signatures are read per envelope" in text
    assert f"at most {MAX_KEY_TRIALS:,} trial verifications" in text


def test_mus_keyid_is_the_sha256_of_the_raw_public_key() -> None:
    key = Key.generate()
    raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert _id(key) == hashlib.sha256(raw).hexdigest()


# --- whole statements: verification and its report --------------------------------------


@pytest.mark.parametrize("claimed", ["", FOREIGN])
def test_a_receipt_whose_keyid_is_foreign_verifies_and_names_the_canonical_key(
    repo: Repo, claimed: str
) -> None:
    path, _ = repo.approved_receipt()
    _rehint(path, lambda _: claimed)
    verdict = verify(repo, path)
    assert verdict.ok, failed(verdict)
    assert verdict.signers == ("release-bot",)
    assert verdict.keyids == (_id(repo.keys["release-bot"]),)
    signature = verdict.check("signature")
    assert signature is not None and _id(repo.keys["release-bot"])[:12] in signature.detail


def test_an_intruder_claiming_the_release_keyid_is_refused(repo: Repo) -> None:
    path, _ = repo.approved_receipt(signer="intruder")
    release = _id(repo.keys["release-bot"])
    _rehint(path, lambda _: release)
    verdict = verify(repo, path)
    assert "altered" in failed(verdict)["signature"]
    assert "0/1 `release`" in failed(verdict)["trust"]
    assert verdict.untrusted == ("`release-bot` (signature does not verify)",)


def test_an_intruder_with_no_keyid_is_named_as_untrusted(repo: Repo) -> None:
    path, _ = repo.approved_receipt(signer="intruder")
    _rehint(path, lambda _: "")
    verdict = verify(repo, path)
    assert "no key of trust root version 1 verifies it" in failed(verdict)["signature"]
    assert "untrusted key (no keyid)" in failed(verdict)["trust"]
    assert verdict.untrusted == ("untrusted key (no keyid)",)


def _rehint(path: Path, keyid: Callable[[str], str]) -> None:
    """Rewrite the keyid of every signature of the envelope at `path`, keeping the bytes signed."""
    envelope = Envelope.from_json(path.read_bytes(), path.name)
    signatures = tuple(Signature(keyid(s.keyid), s.sig) for s in envelope.signatures)
    path.write_bytes(dataclasses.replace(envelope, signatures=signatures).to_json())
