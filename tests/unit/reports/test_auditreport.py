"""`audit_report`: the auditor's report gathered from a real signed chain of three links
(`tests/chain.py`), with the verdicts of `mu log`, `mu diff`, `mu replay` and `mu verify`."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.layout import Layout
from mu.generator.reports.auditreport import audit_report
from tests.chain import Built


def _trust(root: Path) -> dict[str, object]:
    envelope = json.loads((root / "receipts" / "trust.json").read_text())
    payload = json.loads(base64.b64decode(envelope["payload"]))
    predicate: dict[str, object] = payload["predicate"]
    return predicate


def _keyids(root: Path, role: str) -> list[str]:
    roles = _trust(root)["roles"]
    assert isinstance(roles, dict)
    keyids: list[str] = roles[role]["keyids"]
    return keyids


def test_each_link_has_its_signer_approver_gates_and_changes(built_three: Built) -> None:
    report = audit_report(Layout(built_three.root))
    assert report.ok and report.chain_ok and not report.gaps
    assert report.repository == "acme/payments-policy"
    assert [link.sequence for link in report.links] == [1, 2, 3]
    release = _keyids(built_three.root, "release")
    compliance = _keyids(built_three.root, "compliance")
    for link in report.links:
        assert [(s.identity, s.role, s.keyid) for s in link.signatures] == [
            ("release-bot", "release", release[0])
        ]
        assert [a.identity for a in link.approvals] == ["alice"]
        assert link.approvals[0].keyid in compliance and link.approvals[0].signed_at
        assert link.approvals_required == 1
        assert {g.name: g.status for g in link.gates}["golden"] == "PASS"
    first, second, third = report.links
    assert first.changes is None and first.parent == ""
    assert second.parent == first.digest and third.parent == second.digest
    # Link 2 relabels a control: old → new, as `mu diff` reports it.
    assert second.changes is not None and second.changed == ("approval_over_1m",)
    (label,) = [
        p for c in second.changes.controls if c.key == "approval_over_1m" for p in c.properties
    ]
    assert (label.property, label.old, label.new) == (
        "label",
        "vendor payments over 1,000,000.00 USD need the CFO",
        "vendor payments over 1,000,000.00 USD need the chief financial officer",
    )
    assert second.changes.blast_modules == ("controls/approval_over_1m.py",)
    # Link 3 adds a notification: the decisions of review cases flip to notify the CFO.
    assert third.changes is not None and third.added == ("notify_cfo_on_review",)
    assert third.changes.flips
    assert all("notify_cfo_on_review" in f.new for f in third.changes.flips)
    assert report.latest == third.signed_at


def test_the_timeline_and_the_trust_history(built_three: Built) -> None:
    report = audit_report(Layout(built_three.root))
    kinds = [e.kind for e in report.timeline]
    assert kinds.count("Receipt") == 3 and kinds.count("Approval") == 3
    assert kinds.count("TrustRoot") == 2
    assert all(e.verified and e.signatures for e in report.timeline)
    assert [t.version for t in report.trust] == [1, 2]
    assert [s.identity for s in report.trust[1].signatures] == ["root"]
    added = " ".join(report.trust[1].added)
    assert "release-bot as release" in added and "alice as compliance" in added
    assert {h.name for h in report.trust[1].holders} == {"root", "release-bot", "alice", "bob"}
    assert report.vocabulary.classes and not report.pinned and report.warning


def test_a_tampered_signature_fails_the_report(built_three: Built) -> None:
    path = built_three.receipts[1]
    envelope = json.loads(path.read_text())
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    path.write_text(json.dumps(envelope))
    report = audit_report(Layout(built_three.root))
    assert not report.ok and not report.chain_ok
    assert [link.verified for link in report.links] == [True, False, True]
    assert report.links[1].signatures == () and report.links[1].problems


def test_replay_and_drift_verdicts_when_asked(built: Built, tmp_path: Path) -> None:
    deployed = tmp_path / "deployed"
    shutil.copytree(built.root / "enforcers", deployed)
    report = audit_report(Layout(built.root), replay=True, deployed=deployed)
    (link,) = report.links
    assert link.replay is not None and link.replay.ok
    assert "payload" in {row.name for row in link.replay.rows}
    assert report.drift is not None and report.drift.ok and report.ok
    module = deployed / "controls" / "approval_over_1m.py"
    module.write_text(module.read_text() + "# edited\n")
    drifted = audit_report(Layout(built.root), deployed=deployed)
    assert drifted.drift is not None and not drifted.drift.ok and not drifted.ok
    assert any(
        "hand edit" in row.status and "approval_over_1m" in row.name for row in drifted.drift.drifts
    )


def test_a_missing_deployed_directory_is_bad_input(built: Built, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a directory"):
        audit_report(Layout(built.root), deployed=tmp_path / "nowhere")
