"""`mu build` under the trust root: the policy is always enforced, a stopped line goes on
only by a compliance override, and a build without a key is a development build that
signs and records nothing. Each test runs real builds (seconds each)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.chain import Mu, Signed, approve, change_threshold, ok, receipts
from tests.conftest import Run, copy_repo

pytestmark = pytest.mark.slow

# The treasury operator may execute wire transfers; letting it approve them too
# violates the organisation's own segregation-of-duties shape (ontology/shapes/sod.ttl).
OPERATOR = '    rdfs:label "treasury operator" ;\n'
SOD_SHAPE = "ex:RoleApproverExecutorSeparationShape"


def let_operator_approve(root: Path) -> None:
    roles = root / "ontology" / "controls" / "roles.ttl"
    text = roles.read_text(encoding="utf-8")
    assert OPERATOR in text
    roles.write_text(
        text.replace(OPERATOR, OPERATOR + "    mu:mayApprove ex:WireTransfer ;\n", 1), "utf-8"
    )


def predicate(path: Path) -> dict[str, Any]:
    statement = json.loads(base64.b64decode(json.loads(path.read_bytes())["payload"]))
    result: dict[str, Any] = statement["predicate"]
    return result


def build(mu: Mu, s: Signed, *args: str) -> Run:
    return mu("build", "--sign-key", str(s.key), "--format", "json", *args, root=s.root)


def rejections(root: Path) -> list[Path]:
    directory = root / "receipts" / "rejected"
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def test_an_untrusted_build_key_exits_1_and_writes_nothing(
    mu: Mu, signed: Signed, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.pem"
    ok(mu("keygen", "--out", str(stranger)))
    for key in (stranger, signed.compliance[0]):
        run = mu("build", "--sign-key", str(key), root=signed.root)
        assert run.code == 1, run.out + run.err
        assert "not trusted for release in trust root version 2" in run.err
        assert "--role release" in run.err
    assert "(identity `alice`)" in run.err
    assert receipts(signed.root) == [] and rejections(signed.root) == []
    assert not (signed.root / "enforcers").exists()


def test_no_trust_root_means_no_trusted_build(mu: Mu, tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    key = tmp_path / "release.pem"
    ok(mu("keygen", "--out", str(key)))
    run = mu("build", "--sign-key", str(key), root=repo)
    assert run.code == 1 and "no trust root" in run.err and "mu trust init" in run.err
    assert not (repo / "receipts").exists() and not (repo / "enforcers").exists()


def test_missing_approvals_stop_the_line_with_a_signed_rejection(mu: Mu, signed: Signed) -> None:
    run = build(mu, signed)
    assert run.code == 1, run.out + run.err
    result = json.loads(run.out)
    detail = result["gates"]["approvals"]["detail"]
    assert result["gates"]["approvals"]["status"] == "FAIL"
    assert "0/1 compliance identities (none)" in detail and "mu approve --key" in detail
    assert result["receipt"] is None and receipts(signed.root) == []
    assert not (signed.root / "enforcers").exists()
    rejected = predicate(Path(result["rejection"]))
    assert rejected["failed_gates"] == ["approvals"]
    assert rejected["compliance_override_required"] is True and rejected["overridable"] is False
    assert rejected["ontology"]["digest"] == result["ontology_digest"]
    assert rejected["repository"] == "acme/payments-policy"
    assert rejected["trust_root"]["version"] == 2 and rejected["signedAt"]
    text = mu("build", "--sign-key", str(signed.key), root=signed.root)
    assert text.code == 1 and "build failed (approvals)" in text.out
    assert "0/1 compliance identities" in text.out

    # An approval of exactly this ontology lets it through; the receipt names who and where.
    approve(mu, signed)
    run = build(mu, signed)
    assert run.code == 0, run.out + run.err
    result = json.loads(run.out)
    assert result["signer"]["identity"] == "release-bot"
    recorded = predicate(Path(result["receipt"]))
    assert recorded["gates"] == {
        "ontology": "PASS",
        "approvals": "PASS",
        "golden": "PASS",
        "coverage": "PASS",
        "reference": "PASS",
        "determinism": "PASS",
    }
    assert recorded["approvals"]["required"] == 1
    assert [a["identity"] for a in recorded["approvals"]["by"]] == ["alice"]
    assert recorded["repository"] == "acme/payments-policy" and recorded["signedAt"]
    # The same build again is already recorded, whatever the clock says.
    again = json.loads(build(mu, signed).out)
    assert again["already_recorded"] is True and len(receipts(signed.root)) == 1
    # An edit voids the approval.
    change_threshold(
        signed.root,
        '"vendor payments over 1,000,000.00 USD need the CFO"',
        '"vendor payments over one million USD need the CFO"',
    )
    assert build(mu, signed).code == 1 and len(receipts(signed.root)) == 1


def test_a_development_build_signs_and_records_nothing(mu: Mu, tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    run = mu("build", root=repo)
    assert run.code == 0, run.out + run.err
    assert "NOTHING WAS SIGNED" in run.out and "build passed" in run.out
    assert (repo / "enforcers" / "MANIFEST.json").is_file()
    assert not (repo / "receipts").exists()
    data = json.loads(mu("build", "--format", "json", root=repo).out)
    assert data["development"] is True and data["signer"] is None and data["receipt"] is None
    assert "approvals" not in data["gates"]
    # A failing development build: exit 1, still nothing recorded.
    let_operator_approve(repo)
    failed = mu("build", root=repo)
    assert failed.code == 1 and "build failed (ontology)" in failed.out
    assert not (repo / "receipts").exists()


def test_a_core_violation_cannot_be_overridden(mu: Mu, signed: Signed) -> None:
    change_threshold(signed.root, '"approval_over_10k"', '"Bad-Id"')
    run = build(mu, signed)
    assert run.code == 1
    rejection = Path(json.loads(run.out)["rejection"])
    assert predicate(rejection)["overridable"] is False
    refused = mu(
        "approve", "--override", str(rejection), "--key", str(signed.compliance[0]),
        root=signed.root,
    )
    assert refused.code == 1 and "cannot be overridden" in refused.err
    assert not list((signed.root / "receipts" / "approvals").glob("override-*"))


def test_an_override_by_the_quorum_lets_the_line_go_on(
    mu: Mu, signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One claimed signing time for every statement: alice's and bob's overrides are then
    # the same payload (each signs it in its own file), and both must still count.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    ok(mu("trust", "policy", "--approvals", "2", root=signed.root))
    ok(mu("trust", "sign", "--key", str(signed.root_key), root=signed.root))
    alice, bob = signed.compliance
    let_operator_approve(signed.root)

    # The line stops: a signed rejection records the attempt and every violation.
    run = build(mu, signed)
    assert run.code == 1, run.out + run.err
    result = json.loads(run.out)
    assert result["overridable"] is True
    first = Path(result["rejection"])
    rejected = predicate(first)
    assert rejected["compliance_override_required"] is True and rejected["overridable"] is True
    assert rejected["failed_gates"] == ["ontology"]
    assert rejected["ontology"]["digest"] == result["ontology_digest"]
    assert {(v["shape"], v["focus"]) for v in rejected["violations"]} == {
        (SOD_SHAPE, "ex:TreasuryOperator")
    }
    text = mu("build", "--sign-key", str(signed.key), root=signed.root)
    assert "mu approve --override" in text.out

    # One override is not the quorum of two: still stopped, and the gate says why.
    overridden = mu(
        "approve", "--override", str(first), "--key", str(alice), "--format", "json",
        root=signed.root,
    )
    assert overridden.code == 0, overridden.err
    data = json.loads(overridden.out)
    assert data["kind"] == "override" and data["identity"] == "alice"
    assert data["trust_root"]["version"] == 3
    run = build(mu, signed)
    assert run.code == 1
    detail = json.loads(run.out)["gates"]["ontology"]["detail"]
    assert f"override of rejection {_digest(first)[:12]}" in detail
    assert "1/2 compliance identities (`alice`)" in detail
    assert receipts(signed.root) == []

    # bob overrides the same rejection: the build proceeds, and says under what.
    ok(mu("approve", "--override", str(first), "--key", str(bob), root=signed.root))
    run = build(mu, signed)
    assert run.code == 0, run.out + run.err
    result = json.loads(run.out)
    gates = result["gates"]
    assert gates["override"]["status"] == "PASS" and gates["approvals"]["status"] == "PASS"
    assert "overridden by rejection" in gates["ontology"]["detail"]
    assert gates["determinism"]["status"] == "PASS"
    recorded = predicate(Path(result["receipt"]))
    assert recorded["gates"]["override"] == "PASS" and recorded["gates"]["ontology"] == "PASS"
    assert recorded["override"]["rejection"] == _digest(first)
    assert [r["identity"] for r in recorded["override"]["by"]] == ["alice", "bob"]
    assert recorded["approvals"] == {"required": 2, "by": recorded["override"]["by"]}
    assert (signed.root / "enforcers" / "MANIFEST.json").is_file()
    text = mu("build", "--sign-key", str(signed.key), root=signed.root)
    assert text.code == 0 and "lifted by `alice`, `bob`" in text.out
    assert "waived by a compliance override" in text.out
    # An auditor's replay waives exactly what the override names, and matches bit for bit.
    replay = mu("replay", "--receipt", result["receipt"], root=signed.root)
    assert replay.code == 0, replay.out + replay.err


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(base64.b64decode(json.loads(path.read_bytes())["payload"])).hexdigest()
