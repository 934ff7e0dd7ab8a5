"""`mu log` reads every signed statement of the repository in order, each verified:
trust-root versions, approvals, receipts, rejections, overrides, audits and upgrades, with
who signed (and approved) and when. Statements are signed by the test itself
(`tests/unit/provenance/test_verify_statement.py` makes them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mu.generator.audit.log import read_log
from mu.generator.reports import audit
from tests.unit.provenance.test_verify_statement import HOLDERS, WHEN, Repo, envelope, new_repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return new_repo(tmp_path / "repo")


def everything(repo: Repo) -> None:
    """Version 1 (in `new_repo`), an approval, receipt 1, a rejection and its override,
    version 2 (after receipt 1), an audit and an upgrade."""
    _, digest = repo.approved_receipt()
    _, rejected = repo.rejection(context=digest)
    repo.override(rejected)
    repo.add_version(repo.metadata(HOLDERS, effective_after=1), "root")
    repo.audit(digest)
    repo.upgrade()


def test_every_kind_in_order_with_names_and_times(repo: Repo) -> None:
    everything(repo)
    log = read_log(repo.layout)
    assert log.ok, [e.problems for e in log.entries]
    kinds = [e.kind for e in log.entries]
    assert kinds == [
        "TrustRoot",
        "Approval",
        "Receipt",
        "Rejection",
        "Override",
        "TrustRoot",
        "Audit",
        "Upgrade",
    ]
    receipt = log.chain[0]
    assert receipt.sequence == 1 and receipt.signers == ("release-bot",)
    assert receipt.approvers == ("alice",) and receipt.signed_at == WHEN
    assert receipt.gates["approvals"] == "PASS" and receipt.added == ("c1",)
    assert [e.signers for e in log.entries if e.kind == "Audit"] == [("ana",)]
    assert log.warning is not None
    text = audit.log_text(log)
    assert "0001 Receipt" in text and "signed by `release-bot` under trust root v1" in text
    assert "approved by `alice`" in text and "trust root version 2" in text
    assert "1 policy changes, 1 receipts, all verified" in text
    data = json.loads(audit.to_json(audit.log_dict(log)))
    assert [e["kind"] for e in data["events"]] == kinds
    assert data["chain"][0]["approvers"] == ["alice"] and data["trust_root"]["pinned"] is False
    markdown = audit.log_markdown(log)
    assert "| 1 | Receipt |" in markdown and "NOT pinned" in markdown


def test_an_untrusted_approval_fails_the_log_and_is_named(repo: Repo) -> None:
    repo.approved_receipt()
    repo.approval("intruder")
    log = read_log(repo.layout, trust_root=repo.versions[0])
    assert not log.ok and log.warning is None
    [stray] = [e for e in log.entries if not e.verified]
    assert stray.kind == "Approval" and stray.signers == ()
    assert any(u.startswith("untrusted key") for u in stray.untrusted)
    assert "untrusted key" in audit.log_text(log)
    assert "NOT all verified" in audit.log_text(log)


def test_a_failed_link_or_approval_fails_the_log(repo: Repo) -> None:
    repo.approved_receipt()
    assert read_log(repo.layout).ok
    for approval in repo.layout.approvals.iterdir():
        approval.unlink()
    log = read_log(repo.layout)
    assert not log.ok
    [receipt] = log.chain
    assert any("by `alice` is missing" in p for p in receipt.problems)


def test_an_unreadable_statement_is_a_failed_entry(repo: Repo) -> None:
    repo.approved_receipt()
    (repo.layout.audits).mkdir(parents=True, exist_ok=True)
    (repo.layout.audits / "junk.json").write_text("not json")
    log = read_log(repo.layout)
    assert not log.ok
    [junk] = [e for e in log.entries if e.kind == "unreadable"]
    assert junk.file == "receipts/audits/junk.json" and junk.problems


def test_legacy_statements_come_first(tmp_path: Path) -> None:
    from mu.generator.hashing import sha256_hex
    from mu.generator.layout import Layout
    from mu.generator.provenance.receipt import receipt_name
    from tests.unit.provenance.test_verify_statement import Key, legacy_payload

    repo = Repo(Layout(tmp_path / "repo"))
    repo.keys = {name: Key.generate() for name in HOLDERS}
    payload = legacy_payload()
    digest = sha256_hex(payload)
    repo.write(
        repo.layout.receipts, receipt_name(1, digest), envelope(payload, repo.keys["release-bot"])
    )
    repo.add_version(repo.metadata(HOLDERS, legacy=(digest,), effective_after=1), "root")
    repo.approval()
    log = read_log(repo.layout)
    assert log.ok, [e.problems for e in log.entries]
    assert [e.kind for e in log.entries] == ["Receipt", "TrustRoot", "Approval"]
    assert log.entries[0].signed_at is None
