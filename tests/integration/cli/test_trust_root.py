"""`mu trust`: a signed, versioned trust root that an engineer with commit rights cannot fake."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from mu.generator.layout import Layout
from mu.generator.provenance.trusthistory import load_history
from tests.chain import REPOSITORY_ID, Mu, Signed, ok
from tests.conftest import copy_repo


def keygen(mu: Mu, keys: Path, name: str) -> Path:
    keys.mkdir(exist_ok=True)
    key = keys / f"{name}.pem"
    ok(mu("keygen", "--out", str(key)))
    return key


def test_init_makes_version_one_signed_by_its_root(mu: Mu, tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    root_key = keygen(mu, tmp_path / "keys", "root")
    run = ok(mu("trust", "init", "--root-key", str(root_key), "--repository", "acme/p", root=repo))
    assert "trust root version 1 took effect" in run.out
    one = repo / "receipts" / "trust" / "1.json"
    assert one.read_bytes() == (repo / "receipts" / "trust.json").read_bytes()
    history = load_history(Layout(repo))
    assert history.repository == "acme/p" and history.newest.metadata.approvals == 1
    assert history.warning is not None and "pins it with `--trust-root" in history.warning
    listed = json.loads(ok(mu("trust", "list", "--format", "json", root=repo)).out)
    assert listed["trust_root"]["roles"]["root"]["threshold"] == 1
    again = mu("trust", "init", "--root-key", str(root_key), "--repository", "x", root=repo)
    assert again.code == 2 and "already has a trust root" in again.err


def test_a_change_takes_effect_only_once_the_root_quorum_signs(
    mu: Mu, signed: Signed, tmp_path: Path
) -> None:
    eng = keygen(mu, tmp_path / "eng", "eng-a")
    run = ok(
        mu(
            "trust",
            "add",
            f"{eng}.pub",
            "--role",
            "compliance",
            "--identity",
            "eng",
            root=signed.root,
        )
    )
    assert "not yet in effect" in run.out and "1 more root signature(s) of version 2" in run.out
    assert load_history(Layout(signed.root)).newest.version == 2  # nothing changed yet
    # The engineer signs the proposal with their own key: refused, exit 1.
    refused = mu("trust", "sign", "--key", str(eng), root=signed.root)
    assert refused.code == 1 and "is not a root key" in refused.err
    # An approval with the proposed key is refused: the key is not trusted yet.
    approve = mu("approve", "--key", str(eng), root=signed.root)
    assert approve.code == 1 and "not trusted for compliance in trust root version 2" in approve.err
    assert not any((signed.root / "receipts" / "approvals").glob("*.json"))
    ok(mu("trust", "sign", "--key", str(signed.root_key), root=signed.root))
    history = load_history(Layout(signed.root))
    assert history.newest.version == 3
    assert "eng" in history.newest.metadata.identities


def test_a_hand_edited_trust_file_stops_every_check(mu: Mu, signed: Signed) -> None:
    trust = signed.root / "receipts" / "trust.json"
    envelope = json.loads(trust.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["policy"]["approvals"] = 1000
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    trust.write_text(json.dumps(envelope))
    run = mu("trust", "list", root=signed.root)
    assert run.code == 1 and "`receipts/trust.json` is not a copy of the newest version" in run.err
    version = signed.root / "receipts" / "trust" / "2.json"
    version.write_text(json.dumps(envelope))
    run = mu("trust", "list", root=signed.root)
    assert run.code == 1 and "trust root" in run.err


def test_duplicate_keys_in_a_trust_file_are_refused(mu: Mu, signed: Signed) -> None:
    trust = signed.root / "receipts" / "trust" / "2.json"
    text = trust.read_text()
    trust.write_text(text.replace('"payloadType"', '"payloadType": "x", "payloadType"', 1))
    run = mu("trust", "list", root=signed.root)
    assert run.code == 2 and "repeats the field `payloadType`" in run.err


def test_a_legacy_trust_file_with_a_duplicate_role_is_refused(mu: Mu, tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    root_key = keygen(mu, tmp_path / "keys", "root")
    (repo / "receipts").mkdir()
    (repo / "receipts" / "trust.json").write_text(
        '{"version": 1, "keys": [{"keyid": "00", "name": "eve", '
        '"roles": ["auditor"], "roles": ["release"], "public_key": "x"}]}'
    )
    run = mu("trust", "migrate", "--root-key", str(root_key), "--repository", "r", root=repo)
    assert run.code == 2 and "repeats the field `roles`" in run.err


def test_a_pin_from_another_repository_is_refused(mu: Mu, signed: Signed, tmp_path: Path) -> None:
    other = copy_repo(tmp_path / "other")
    key = keygen(mu, tmp_path / "other-keys", "root")
    ok(mu("trust", "init", "--root-key", str(key), "--repository", REPOSITORY_ID, root=other))
    pin = other / "receipts" / "trust" / "1.json"
    run = mu("trust", "list", "--trust-root", str(pin), root=signed.root)
    assert run.code == 1 and "is not the pinned one" in run.err
    digest = load_history(Layout(other)).first.digest
    run = mu("trust", "list", "--trust-root", digest, root=signed.root)
    assert run.code == 1 and "is not a version of this repository's trust root" in run.err
    mine = load_history(Layout(signed.root)).first.digest
    listed = ok(mu("trust", "list", "--trust-root", mine, root=signed.root))
    assert "verified from the pin" in listed.out and "warning" not in listed.err


def test_removing_a_key_and_thresholds(mu: Mu, signed: Signed, tmp_path: Path) -> None:
    second = keygen(mu, tmp_path / "k2", "root2")
    ok(
        mu(
            "trust",
            "add",
            f"{second}.pub",
            "--role",
            "root",
            "--identity",
            "root2",
            root=signed.root,
        )
    )
    ok(mu("trust", "policy", "--threshold", "root=2", "--approvals", "2", root=signed.root))
    # Version 3 needs the old root (threshold 1) and its own two root identities.
    run = ok(mu("trust", "sign", "--key", str(signed.root_key), root=signed.root))
    assert "not yet in effect" in run.out
    ok(mu("trust", "sign", "--key", str(second), root=signed.root))
    newest = load_history(Layout(signed.root)).newest.metadata
    assert newest.roles["root"].threshold == 2 and newest.approvals == 2
    keyid = next(
        k
        for k, i in ((k, newest.identity_of(k)) for k in newest.roles["release"].keyids)
        if i == "release-bot"
    )
    ok(mu("trust", "remove", keyid[:16], root=signed.root))
    ok(mu("trust", "sign", "--key", str(signed.root_key), root=signed.root))
    ok(mu("trust", "sign", "--key", str(second), root=signed.root))
    assert load_history(Layout(signed.root)).newest.metadata.roles["release"].keyids == ()
    impossible = mu("trust", "policy", "--threshold", "root=3", root=signed.root)
    assert impossible.code == 2 and "only 2 identities hold its keys" in impossible.err


@pytest.mark.parametrize("bad", ["bad id!", ""])
def test_repository_ids_are_plain(mu: Mu, tmp_path: Path, bad: str) -> None:
    repo = copy_repo(tmp_path / "repo")
    key = keygen(mu, tmp_path / "keys", "root")
    run = mu("trust", "init", "--root-key", str(key), "--repository", bad, root=repo)
    assert run.code == 2 and "is not a repository id" in run.err


def test_a_proposal_older_than_the_newest_receipt_never_takes_effect(
    mu: Mu, signed: Signed, tmp_path: Path
) -> None:
    """A receipt made under version 2 while version 3 was being signed would become
    invalid the moment version 3 took effect: the proposal is refused instead."""
    key = keygen(mu, tmp_path / "k", "auditor")
    ok(mu("trust", "add", f"{key}.pub", "--role", "auditor", "--identity", "ana", root=signed.root))
    # The chain grows (only the receipt's name matters for where it sits).
    (signed.root / "receipts" / "0001-000000000000.json").write_text("{}")
    run = mu("trust", "sign", "--key", str(signed.root_key), root=signed.root)
    assert run.code == 1 and "the chain has grown since this proposal was made" in run.err
    # Making the change again re-bases it on the chain as it is now.
    ok(mu("trust", "policy", "--approvals", "1", root=signed.root))
    done = ok(mu("trust", "sign", "--key", str(signed.root_key), root=signed.root))
    assert "took effect" in done.out
    assert load_history(Layout(signed.root)).newest.metadata.effective_after == 1


def test_only_the_root_threshold_can_be_raised(mu: Mu, signed: Signed) -> None:
    run = mu("trust", "policy", "--threshold", "release=2", root=signed.root)
    assert run.code == 2 and "the `release` role signs with one key per statement" in run.err
    assert "--approvals N" in run.err


def test_verify_receipt_takes_the_runbook_spelling(mu: Mu, signed: Signed) -> None:
    version = signed.root / "receipts" / "trust" / "1.json"
    for args in ((str(version),), (f"--receipt={version}",)):
        run = ok(mu("verify-receipt", *args, root=signed.root))
        assert "TrustRoot" in run.out
    for args in ((), (str(version), f"--receipt={version}")):
        run = mu("verify-receipt", *args, root=signed.root)
        assert run.code == 2 and "checks one statement" in run.err


def test_a_fifo_or_link_as_the_trust_file_never_hangs(mu: Mu, tmp_path: Path) -> None:
    import os

    repo = copy_repo(tmp_path / "repo")
    (repo / "receipts").mkdir()
    os.mkfifo(repo / "receipts" / "trust.json")
    run = mu("log", root=repo)  # no versions: mu looks at trust.json to give its hint
    assert run.code == 1 and "no trust root" in run.err
    root_key = keygen(mu, tmp_path / "keys", "root")
    run = mu("trust", "migrate", "--root-key", str(root_key), "--repository", "r", root=repo)
    assert (run.code == 2 and "not a regular file" in run.err) or "trust policy" in run.err
