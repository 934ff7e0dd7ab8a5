"""`mu trust migrate`: a repository built with the unsigned trust file of mu 0.1 is upgraded
with one command, and its old receipts still verify under the new root.

`tests/data/legacy-receipts/` is the `receipts/` folder that mu 0.1 (before trust
roots) wrote for two builds of the shipped example — the second after
`relabel_cfo_rule`, with `--require-approvals 1` — and the approvals it used.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mu.generator.layout import Layout
from mu.generator.provenance.trusthistory import load_history
from tests.chain import Mu, ok, relabel_cfo_rule
from tests.conftest import REPO, copy_repo

LEGACY = REPO / "tests" / "data" / "legacy-receipts"


def legacy_repo(tmp_path: Path) -> Path:
    repo = copy_repo(tmp_path / "repo")
    relabel_cfo_rule(repo)
    shutil.copytree(LEGACY, repo / "receipts")
    return repo


def test_migrate_adopts_the_old_chain(mu: Mu, tmp_path: Path) -> None:
    repo = legacy_repo(tmp_path)
    before = mu("log", root=repo)
    assert before.code == 1 and "mu trust migrate" in before.err
    root_key = tmp_path / "keys" / "root.pem"
    root_key.parent.mkdir()
    ok(mu("keygen", "--out", str(root_key)))
    run = ok(
        mu("trust", "migrate", "--root-key", str(root_key), "--repository", "acme/p", root=repo)
    )
    assert "2 key(s)" in run.out and "4 existing statement(s) adopted" in run.out
    history = load_history(Layout(repo))
    metadata = history.newest.metadata
    assert set(metadata.identities) == {"release-bot", "officer", "root"}
    assert metadata.effective_after == 2 and len(metadata.legacy) == 4
    for receipt in sorted((repo / "receipts").glob("000*.json")):
        verdict = json.loads(
            ok(mu("verify-receipt", str(receipt), "--format", "json", root=repo)).out
        )
        assert verdict["ok"] is True
    log = ok(mu("log", "--trust-root", history.first.digest, root=repo))
    assert "release-bot" in log.out


def test_only_adopted_statements_verify_without_claims(mu: Mu, tmp_path: Path) -> None:
    """A pre-trust-root receipt from elsewhere, copied in after the migration, fails."""
    repo = legacy_repo(tmp_path)
    root_key = tmp_path / "keys" / "root.pem"
    root_key.parent.mkdir()
    ok(mu("keygen", "--out", str(root_key)))
    newest = sorted((repo / "receipts").glob("000*.json"))[-1]
    newest.unlink()  # not there at migration time: not adopted
    ok(mu("trust", "migrate", "--root-key", str(root_key), "--repository", "acme/p", root=repo))
    shutil.copy(LEGACY / newest.name, newest)
    run = mu("verify-receipt", str(newest), root=repo)
    assert run.code == 1 and "mu trust migrate" in run.out
