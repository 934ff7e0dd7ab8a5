"""The unsigned trust policy of mu 0.1 (`receipts/trust.json`), read strictly to migrate it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.errors import ExitCode, InputError
from mu.generator.provenance.keys import generate_keypair, keyid_of, public_pem
from mu.generator.provenance.legacytrust import ROLES, TrustPolicy, load_trust


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
    with pytest.raises(InputError, match="is not a regular file"):
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


def test_a_duplicate_field_is_refused_not_read_last_wins(tmp_path: Path) -> None:
    entry = json.dumps(_entry(roles=["auditor"]))
    # A reviewer reads `"roles": ["auditor"]`; json.loads would keep `["release"]`.
    doubled = entry[:-1] + ', "roles": ["release"]}'
    path = _write(tmp_path / "trust.json", '{"version": 1, "keys": [' + doubled + "]}")
    with pytest.raises(InputError, match="repeats the field `roles`"):
        load_trust(path)
