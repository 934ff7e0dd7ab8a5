"""The trust root's model and the verification of its versions from a pin."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.errors import CheckFailed
from mu.generator.layout import Layout
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, sign
from mu.generator.provenance.keys import keyid_of, public_pem
from mu.generator.provenance.trusthistory import NoTrustRoot, load_history
from mu.generator.provenance.trustroot import (
    ROLES,
    Identity,
    RoleKeys,
    RootMetadata,
    quorum,
    version_digest,
)

Key = Ed25519PrivateKey


def _id(key: Key) -> str:
    return keyid_of(key.public_key())


def metadata(
    roots: dict[str, list[Key]],
    *,
    version: int = 1,
    previous: str | None = None,
    threshold: int = 1,
    others: dict[str, tuple[str, list[Key]]] | None = None,
    repository: str = "acme/p",
    effective_after: int = 0,
) -> RootMetadata:
    identities = {
        name: Identity(name, {_id(k): public_pem(k.public_key()) for k in keys})
        for name, keys in roots.items()
    }
    roles = {r: RoleKeys((), 1) for r in ROLES}
    roles["root"] = RoleKeys(
        tuple(sorted(_id(k) for keys in roots.values() for k in keys)), threshold
    )
    for name, (role, keys) in (others or {}).items():
        identities[name] = Identity(name, {_id(k): public_pem(k.public_key()) for k in keys})
        roles[role] = RoleKeys(tuple(sorted({*roles[role].keyids, *(_id(k) for k in keys)})), 1)
    return RootMetadata(version, repository, effective_after, identities, roles, 1, previous)


def signed(m: RootMetadata, *keys: Key) -> Envelope:
    envelope = Envelope(PAYLOAD_TYPE, m.statement(), ())
    signatures = [sign(PAYLOAD_TYPE, envelope.payload, k).signatures[0] for k in keys]
    return dataclasses.replace(envelope, signatures=tuple(signatures))


def store(layout: Layout, version: int, envelope: Envelope, *, newest: bool = True) -> str:
    layout.trust_dir.mkdir(parents=True, exist_ok=True)
    (layout.trust_dir / f"{version}.json").write_bytes(envelope.to_json())
    if newest:
        layout.trust_file.write_bytes(envelope.to_json())
    return version_digest(envelope)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


def test_no_trust_root(layout: Layout) -> None:
    with pytest.raises(NoTrustRoot, match="has no trust root"):
        load_history(layout)


def test_version_one_needs_its_own_root_quorum(layout: Layout) -> None:
    root, other = Key.generate(), Key.generate()
    store(layout, 1, signed(metadata({"root": [root]}), other))
    with pytest.raises(CheckFailed, match="lacks its own root quorum: 0/1 `root`"):
        load_history(layout)


def test_a_rotation_needs_both_quorums_and_the_previous_digest(layout: Layout) -> None:
    old, new = Key.generate(), Key.generate()
    one = store(layout, 1, signed(metadata({"old": [old]}), old), newest=False)
    two = metadata({"new": [new]}, version=2, previous=one)
    store(layout, 2, signed(two, new))
    with pytest.raises(CheckFailed) as info:
        load_history(layout)
    assert "lacks the root quorum of version 1" in info.value.message
    store(layout, 2, signed(two, new, old))
    history = load_history(layout)
    assert [v.version for v in history.versions] == [1, 2]
    wrong = metadata({"new": [new]}, version=2, previous="0" * 64)
    store(layout, 2, signed(wrong, new, old))
    with pytest.raises(CheckFailed, match="does not name version 1 as its previous"):
        load_history(layout)


def test_thresholds_count_identities_not_keys(layout: Layout) -> None:
    a1, a2, b = Key.generate(), Key.generate(), Key.generate()
    m = metadata({"alice": [a1, a2], "bob": [b]}, threshold=2)
    assert not quorum(signed(m, a1, a2), m, "root").ok  # one identity, twice
    assert quorum(signed(m, a1, b), m, "root").identities == ("alice", "bob")
    with pytest.raises(CheckFailed, match="only 1 identity holds its keys"):
        RootMetadata.from_dict(metadata({"alice": [a1, a2]}, threshold=2).to_dict(), "x")


def test_gaps_and_misnamed_versions_are_reported(layout: Layout) -> None:
    root = Key.generate()
    one = store(layout, 1, signed(metadata({"root": [root]}), root), newest=False)
    three = metadata({"root": [root]}, version=3, previous=one)
    store(layout, 3, signed(three, root))
    with pytest.raises(CheckFailed, match=r"`receipts/trust/2\.json` is missing"):
        load_history(layout)
    store(layout, 2, signed(three, root))
    with pytest.raises(CheckFailed, match="holds version 3"):
        load_history(layout)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["roles"].pop("runtime"), "`roles.runtime` is missing"),
        (lambda d: d["roles"].update(admin=d["roles"]["root"]), "is not a role of mu"),
        (lambda d: d["roles"]["release"]["keyids"].append("ab" * 32), "names unknown key"),
        (lambda d: d.update(previous="ab" * 32), "must be null exactly for version 1"),
        (lambda d: d.update(repository="a b"), "is not a repository id"),
        (lambda d: d["policy"].update(approvals=0), "policy.approvals"),
    ],
)
def test_malformed_versions_name_the_field(edit: object, message: str) -> None:
    root = Key.generate()
    document = metadata({"root": [root]}).to_dict()
    assert callable(edit)
    edit(document)
    with pytest.raises(CheckFailed, match=message.replace(".", r"\.")):
        RootMetadata.from_dict(document, "1.json")


def test_a_keyid_that_does_not_match_its_key(layout: Layout) -> None:
    root, other = Key.generate(), Key.generate()
    document = metadata({"root": [root]}).to_dict()
    document["identities"]["root"]["keys"][_id(root)] = public_pem(other.public_key())
    with pytest.raises(CheckFailed, match="does not match its public key"):
        RootMetadata.from_dict(document, "1.json")


def test_in_effect_for(layout: Layout) -> None:
    root = Key.generate()
    one = store(layout, 1, signed(metadata({"root": [root]}), root), newest=False)
    two = metadata({"root": [root]}, version=2, previous=one, effective_after=3)
    store(layout, 2, signed(two, root))
    history = load_history(layout)
    assert [history.in_effect_for(s).version for s in (1, 3, 4, 9)] == [1, 1, 2, 2]  # type: ignore[union-attr]


def test_a_version_not_in_canonical_form_is_refused(layout: Layout) -> None:
    root = Key.generate()
    m = metadata({"root": [root]})
    payload = m.statement().replace(b'"version":1', b'"version": 1', 1)
    envelope = Envelope(PAYLOAD_TYPE, payload, (sign(PAYLOAD_TYPE, payload, root).signatures[0],))
    store(layout, 1, envelope)
    with pytest.raises(CheckFailed, match="not in mu's canonical form"):
        load_history(layout)
