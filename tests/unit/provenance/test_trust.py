"""The trust policy `receipts/trust.json`: adding keys and roles, strict loading."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from generator.errors import ExitCode, InputError
from generator.provenance.keys import generate_keypair, keyid_of, public_pem
from generator.provenance.trust import ROLES, TrustedKey, TrustPolicy, add_key, load_trust


def _pub(tmp_path: Path, name: str) -> Path:
    return generate_keypair(tmp_path / f"{name}.pem").public_path


def _write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def _entry(**changes: Any) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate().public_key()
    entry: dict[str, Any] = {
        "keyid": keyid_of(key),
        "name": "bot",
        "roles": ["release"],
        "public_key": public_pem(key),
    }
    entry.update(changes)
    return entry


def test_roles() -> None:
    assert ROLES == ("release", "compliance", "auditor")


def test_missing_file_is_an_empty_policy(tmp_path: Path) -> None:
    policy = load_trust(tmp_path / "trust.json")
    assert policy == TrustPolicy(keys=())
    assert policy.keys_for("release") == {}
    assert policy.find("ab") is None


def test_add_writes_the_documented_format(tmp_path: Path) -> None:
    pub = _pub(tmp_path, "release-bot")
    trust = tmp_path / "receipts" / "trust.json"  # the directory is created
    entry = add_key(trust, pub, "release")
    key = serialization.load_pem_public_key(pub.read_bytes())
    assert entry == TrustedKey(
        keyid=keyid_of(key),  # type: ignore[arg-type]
        name="release-bot",  # `release-bot.pem.pub` without its key suffixes
        roles=("release",),
        public_key_pem=pub.read_text(),
    )
    expected = {
        "keys": [
            {
                "keyid": entry.keyid,
                "name": "release-bot",
                "public_key": pub.read_text(),
                "roles": ["release"],
            }
        ],
        "version": 1,
    }
    assert trust.read_text() == json.dumps(expected, indent=2, sort_keys=True) + "\n"
    assert stat.S_IMODE(trust.stat().st_mode) == 0o644
    assert [p.name for p in trust.parent.iterdir()] == ["trust.json"]  # no temp file left


def test_add_uses_the_given_name(tmp_path: Path) -> None:
    entry = add_key(tmp_path / "trust.json", _pub(tmp_path, "k"), "auditor", name="Ana Auditor")
    assert entry.name == "Ana Auditor"
    assert load_trust(tmp_path / "trust.json").keys == (entry,)


def test_add_second_role_to_the_same_key(tmp_path: Path) -> None:
    trust, pub = tmp_path / "trust.json", _pub(tmp_path, "alice")
    first = add_key(trust, pub, "release", name="alice")
    second = add_key(trust, pub, "compliance")
    assert second == TrustedKey(
        first.keyid, "alice", ("compliance", "release"), first.public_key_pem
    )
    again = add_key(trust, pub, "release")  # already there: nothing changes
    assert again == second
    policy = load_trust(trust)
    assert policy.keys == (second,)
    assert json.loads(trust.read_text())["keys"][0]["roles"] == ["compliance", "release"]


def test_add_role_keeps_the_name_unless_a_new_one_is_given(tmp_path: Path) -> None:
    trust, pub = tmp_path / "trust.json", _pub(tmp_path, "k")
    add_key(trust, pub, "release", name="first")
    assert add_key(trust, pub, "auditor").name == "first"
    assert add_key(trust, pub, "auditor", name="renamed").name == "renamed"
    assert load_trust(trust).keys[0].name == "renamed"


def test_reload_keys_for_and_find(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    release = add_key(trust, _pub(tmp_path, "release"), "release")
    compliance = add_key(trust, _pub(tmp_path, "compliance"), "compliance")
    both = add_key(trust, _pub(tmp_path, "both"), "release")
    both = add_key(trust, tmp_path / "both.pem.pub", "compliance")

    policy = load_trust(trust)
    assert [k.keyid for k in policy.keys] == sorted([release.keyid, compliance.keyid, both.keyid])
    assert sorted(policy.keys_for("release")) == sorted([release.keyid, both.keyid])
    assert sorted(policy.keys_for("compliance")) == sorted([compliance.keyid, both.keyid])
    assert policy.keys_for("auditor") == {}
    assert policy.find(both.keyid) == both
    assert policy.find("0" * 64) is None
    for keyid, key in policy.keys_for("release").items():
        assert keyid_of(key) == keyid
    # Written keys are sorted by keyid, so the file does not depend on the order of adds.
    written = [k["keyid"] for k in json.loads(trust.read_text())["keys"]]
    assert written == sorted(written)
    assert policy.to_json() == trust.read_bytes()


def test_trusted_key_public_key_verifies_a_signature(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k.pem")
    entry = add_key(tmp_path / "trust.json", pair.public_path, "release")
    private = serialization.load_pem_private_key(pair.private_path.read_bytes(), None)
    assert isinstance(private, Ed25519PrivateKey)
    entry.public_key().verify(private.sign(b"m"), b"m")


def test_unknown_role_lists_the_roles(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    with pytest.raises(InputError) as info:
        add_key(trust, _pub(tmp_path, "k"), "admin")
    assert info.value.message == "unknown role `admin`"
    assert info.value.hint == "use one of `release`, `compliance`, `auditor`"
    assert not trust.exists()
    with pytest.raises(InputError, match="unknown role `admin`"):
        TrustPolicy(keys=()).keys_for("admin")


def test_add_refuses_a_non_public_key(tmp_path: Path) -> None:
    pair = generate_keypair(tmp_path / "k.pem")
    with pytest.raises(InputError, match="is not a PEM public key"):
        add_key(tmp_path / "trust.json", pair.private_path, "release")
    assert not (tmp_path / "trust.json").exists()


def test_add_refuses_to_rewrite_a_malformed_policy(tmp_path: Path) -> None:
    trust = _write(tmp_path / "trust.json", "{ not json")
    with pytest.raises(InputError, match="is not valid JSON"):
        add_key(trust, _pub(tmp_path, "k"), "release")
    assert trust.read_text() == "{ not json"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "is not valid json: expecting property name enclosed in double quotes"),
        ("[]", "is not a json object"),
        ({"keys": []}, "has version `null`, expected `1`"),
        ({"version": 2, "keys": []}, "has version `2`, expected `1`"),
        ({"version": "1", "keys": []}, 'has version `"1"`, expected `1`'),
        ({"version": True, "keys": []}, "has version `true`, expected `1`"),
        ({"version": 1}, "has no `keys` list"),
        ({"version": 1, "keys": {}}, "has no `keys` list"),
        ({"version": 1, "keys": [], "extra": 1}, "has unexpected field `extra`"),
    ],
)
def test_malformed_file(tmp_path: Path, document: Any, message: str) -> None:
    path = _write(tmp_path / "trust.json", document)
    with pytest.raises(InputError) as info:
        load_trust(path)
    assert info.value.message.lower().startswith(f"trust policy `{path}` ")
    assert message in info.value.message.lower()
    assert info.value.code == ExitCode.USAGE
    assert info.value.hint


def test_not_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="is not UTF-8"):
        load_trust(path)


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "trust.json").mkdir()
    with pytest.raises(InputError, match="cannot read trust policy"):
        load_trust(tmp_path / "trust.json")


def _other_pem() -> str:
    return public_pem(Ed25519PrivateKey.generate().public_key())


def _ec_pem() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("key", "keys[0] is not an object"),
        ({k: v for k, v in _entry().items() if k != "name"}, "keys[0] has no `name` field"),
        (_entry(comment="x"), "keys[0] has unexpected field `comment`"),
        (_entry(keyid=7), "`keyid` is not a non-empty string"),
        (_entry(name=""), "`name` is not a non-empty string"),
        (_entry(public_key=None), "`public_key` is not a non-empty string"),
        (_entry(roles="release"), "`roles` is not a non-empty list of strings"),
        (_entry(roles=[]), "`roles` is not a non-empty list of strings"),
        (_entry(roles=["release", "release"]), "`roles` lists a role twice"),
        (_entry(roles=["release", "root"]), "unknown role `root`"),
        (_entry(public_key="not a key"), "`public_key` is not a pem public key"),
        (_entry(public_key=_ec_pem()), "`public_key` is not an ed25519 key"),
        (_entry(public_key=_other_pem()), "does not match its public key"),
        (_entry(keyid="0" * 64), "keyid `" + "0" * 64 + "` does not match its public key"),
    ],
)
def test_malformed_entry(tmp_path: Path, entry: Any, message: str) -> None:
    path = _write(tmp_path / "trust.json", {"version": 1, "keys": [entry]})
    with pytest.raises(InputError) as info:
        load_trust(path)
    assert info.value.message.startswith(f"trust policy `{path}` is malformed (1 problem): ")
    assert message in info.value.message.lower()
    assert len(info.value.problems) == 1
    assert info.value.problems[0].where == f"{path}: keys[0]"


def test_keyid_mismatch_after_swapping_public_keys(tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    a = add_key(trust, _pub(tmp_path, "a"), "release")
    b = add_key(trust, _pub(tmp_path, "b"), "compliance")
    document = json.loads(trust.read_text())
    # Someone swaps the public keys but leaves the keyids (and so the roles) in place.
    first, second = document["keys"]
    first["public_key"], second["public_key"] = second["public_key"], first["public_key"]
    _write(trust, document)
    with pytest.raises(InputError) as info:
        load_trust(trust)
    assert "(2 problems)" in info.value.message
    assert {p.message.split("`")[1] for p in info.value.problems} == {a.keyid, b.keyid}
    assert all("does not match its public key" in p.message for p in info.value.problems)


def test_duplicate_keyid(tmp_path: Path) -> None:
    entry = _entry()
    path = _write(tmp_path / "trust.json", {"version": 1, "keys": [entry, dict(entry)]})
    with pytest.raises(InputError) as info:
        load_trust(path)
    assert f"duplicate keyid `{entry['keyid']}`" in info.value.message
    assert info.value.problems[0].where == f"{path}: keys[1]"


def test_every_problem_is_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "trust.json",
        {"version": 1, "keys": [_entry(roles=["root"]), _entry(), _entry(name=3)]},
    )
    with pytest.raises(InputError) as info:
        load_trust(path)
    assert [p.where for p in info.value.problems] == [f"{path}: keys[0]", f"{path}: keys[2]"]


def test_loading_normalises_role_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "trust.json",
        {"version": 1, "keys": [_entry(roles=["release", "auditor", "compliance"])]},
    )
    assert load_trust(path).keys[0].roles == ("auditor", "compliance", "release")
