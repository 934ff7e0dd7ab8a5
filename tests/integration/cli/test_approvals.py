"""Compliance approvals: `mu approve` and `mu build --require-approvals N`.
Only keys trusted for `compliance`, only for exactly the ontology being built;
the receipt names the approvers, and replay reproduces it."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.chain import Signed, change_threshold, receipts
from tests.conftest import Run, mu_process

Mu = Callable[..., Run]


def compliance_key(mu: Mu, s: Signed, name: str, *, trusted: bool = True) -> Path:
    key = s.key.parent / f"{name}.pem"
    assert mu("keygen", "--out", str(key), root=s.root).code == 0
    if trusted:
        run = mu("trust", "add", f"{key}.pub", "--role", "compliance", root=s.root)
        assert run.code == 0
    return key


def build(mu: Mu, s: Signed, n: int) -> Run:
    return mu(
        "build",
        "--sign-key",
        str(s.key),
        "--require-approvals",
        str(n),
        "--format",
        "json",
        root=s.root,
    )


def test_build_requires_approvals_of_this_exact_ontology(mu: Mu, signed: Signed) -> None:
    alice = compliance_key(mu, signed, "alice")
    refused = build(mu, signed, 1)
    assert refused.code == 1
    result = json.loads(refused.out)
    assert result["gates"]["approvals"]["status"] == "FAIL"
    assert result["rejection"] and receipts(signed.root) == []

    approved = mu("approve", "--key", str(alice), root=signed.root)
    assert approved.code == 0, approved.err
    run = build(mu, signed, 1)
    assert run.code == 0, run.out
    receipt = Path(json.loads(run.out)["receipt"])
    payload = json.loads(base64.b64decode(json.loads(receipt.read_bytes())["payload"]))
    approvals = payload["predicate"]["approvals"]
    assert approvals["required"] == 1 and len(approvals["by"]) == 1
    assert payload["predicate"]["gates"]["approvals"] == "PASS"

    # Two approvals required, one given: refused. An edit voids every approval.
    assert build(mu, signed, 2).code == 1
    change_threshold(
        signed.root,
        '"vendor payments over 1,000,000.00 USD need the CFO"',
        '"vendor payments over one million USD need the CFO"',
    )
    assert build(mu, signed, 1).code == 1


def test_untrusted_or_release_keys_do_not_count(mu: Mu, signed: Signed) -> None:
    stranger = compliance_key(mu, signed, "stranger", trusted=False)
    assert mu("approve", "--key", str(stranger), root=signed.root).code == 0
    assert mu("approve", "--key", str(signed.key), root=signed.root).code == 0  # release role
    assert build(mu, signed, 1).code == 1


def test_approving_a_non_conforming_ontology_is_refused(mu: Mu, signed: Signed) -> None:
    alice = compliance_key(mu, signed, "alice")
    change_threshold(signed.root, '"approval_over_10k"', '"Bad-Id"')
    run = mu("approve", "--key", str(alice), root=signed.root)
    assert run.code == 1
    assert not (signed.root / "receipts" / "approvals").exists()


def test_replay_reproduces_a_receipt_with_approvals(mu: Mu, signed: Signed, tmp_path: Path) -> None:
    alice = compliance_key(mu, signed, "alice")
    assert mu("approve", "--key", str(alice), root=signed.root).code == 0
    run = build(mu, signed, 1)
    receipt = Path(json.loads(run.out)["receipt"])
    auditor = tmp_path / "auditor"
    shutil.copytree(signed.root, auditor)
    shutil.rmtree(auditor / "ontology")
    shutil.rmtree(auditor / "enforcers")
    replay = mu_process("replay", "--receipt", f"receipts/{receipt.name}", cwd=auditor)
    assert replay.code == 0, replay.out + replay.err
