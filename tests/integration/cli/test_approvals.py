"""Compliance approvals: `mu approve [--override REJECTION] --key KEY`, and the trust
root's policy that `mu build` always enforces. Only keys the trust root holds for
`compliance` approve, only exactly the ontology being built; the receipt names the
approvers, and replay reproduces it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.chain import REPOSITORY_ID, Mu, Signed, approve, ok, receipts
from tests.conftest import copy_repo, mu_process


def build(mu: Mu, s: Signed) -> dict[str, object]:
    run = mu("build", "--sign-key", str(s.key), "--format", "json", root=s.root)
    result: dict[str, object] = json.loads(run.out)
    result["code"] = run.code
    return result


def test_approve_names_the_identity_and_the_trust_root_version(mu: Mu, signed: Signed) -> None:
    alice = signed.compliance[0]
    text = ok(mu("approve", "--key", str(alice), root=signed.root))
    assert "`alice` approved ontology sha256:" in text.out
    assert f"trust root version 2 of `{REPOSITORY_ID}`" in text.out
    again = ok(mu("approve", "--key", str(alice), "--format", "json", root=signed.root))
    data = json.loads(again.out)
    assert data["kind"] == "approval" and data["identity"] == "alice"
    assert data["trust_root"]["version"] == 2 and data["repository"] == REPOSITORY_ID
    assert (signed.root / data["approval"]).is_file()
    # Approving the same ontology again is the same approval: one file.
    assert len(list((signed.root / "receipts" / "approvals").glob("*.json"))) == 1


def test_untrusted_keys_cannot_approve_and_write_nothing(
    mu: Mu, signed: Signed, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.pem"
    ok(mu("keygen", "--out", str(stranger)))
    for key in (stranger, signed.key):  # unknown to the root; a release key
        run = mu("approve", "--key", str(key), root=signed.root)
        assert run.code == 1, run.out + run.err
        assert "is not trusted for compliance in trust root version 2" in run.err
        json_run = mu("approve", "--key", str(key), "--format", "json", root=signed.root)
        assert json_run.code == 1 and "not trusted for compliance" in json_run.out
    assert "(identity `release-bot`)" in run.err
    assert not list((signed.root / "receipts").rglob("approvals/*.json"))


def test_approving_without_a_trust_root_is_refused(mu: Mu, tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    key = tmp_path / "alice.pem"
    ok(mu("keygen", "--out", str(key)))
    run = mu("approve", "--key", str(key), root=repo)
    assert run.code == 1 and "no trust root" in run.err and "mu trust init" in run.err
    assert not (repo / "receipts").exists()


def test_approving_a_non_conforming_ontology_is_refused(mu: Mu, signed: Signed) -> None:
    path = signed.root / "ontology" / "controls" / "approvals.ttl"
    path.write_text(path.read_text().replace('"approval_over_10k"', '"Bad-Id"', 1))
    run = mu("approve", "--key", str(signed.compliance[0]), root=signed.root)
    assert run.code == 1
    assert not (signed.root / "receipts" / "approvals").exists()


def test_an_approvals_failure_cannot_be_overridden(mu: Mu, signed: Signed) -> None:
    result = build(mu, signed)
    assert result["code"] == 1 and result["overridable"] is False
    run = mu(
        "approve", "--override", str(result["rejection"]), "--key", str(signed.compliance[0]),
        root=signed.root,
    )
    assert run.code == 1 and "cannot be overridden" in run.err
    assert not list((signed.root / "receipts" / "approvals").glob("override-*"))


def test_replay_reproduces_a_receipt_with_approvals(
    mu: Mu, signed: Signed, tmp_path: Path
) -> None:
    approve(mu, signed)
    result = build(mu, signed)
    assert result["code"] == 0, result
    receipt = Path(str(result["receipt"]))
    assert receipts(signed.root) == [signed.root / "receipts" / receipt.name]
    auditor = tmp_path / "auditor"
    shutil.copytree(signed.root, auditor)
    shutil.rmtree(auditor / "ontology")
    shutil.rmtree(auditor / "enforcers")
    replay = mu_process("replay", "--receipt", f"receipts/{receipt.name}", cwd=auditor)
    assert replay.code == 0, replay.out + replay.err


def test_two_officers_approving_in_the_same_second_both_count(
    mu: Mu, signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same ontology, same claimed time: alice and bob sign identical payloads."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    ok(mu("trust", "policy", "--approvals", "2", root=signed.root))
    ok(mu("trust", "sign", "--key", str(signed.root_key), root=signed.root))
    approve(mu, signed, *signed.compliance)
    result = build(mu, signed)
    assert result["code"] == 0, result
    approvals = result["approvals"]
    assert isinstance(approvals, dict) and approvals["required"] == 2
    by = approvals["by"]
    assert [a["identity"] for a in by] == ["alice", "bob"]
    assert by[0]["statement"] == by[1]["statement"]  # one statement, two signers
    verified = mu("verify-receipt", str(result["receipt"]), root=signed.root)
    assert verified.code == 0, verified.out + verified.err
