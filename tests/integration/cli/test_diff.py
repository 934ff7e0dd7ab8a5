"""`mu diff` from the command line: formats, the blast-radius gate, git refs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run, copy_repo, mu_process

Mu = Callable[..., Run]


def lower_threshold(root: Path) -> None:
    approvals = root / "ontology" / "controls" / "approvals.ttl"
    text = approvals.read_text(encoding="utf-8")
    approvals.write_text(
        text.replace('"100000.00"^^xsd:decimal', '"50000.00"^^xsd:decimal', 1), encoding="utf-8"
    )


@pytest.mark.slow
def test_diff_of_two_directories_in_every_format(mu: Mu, tmp_path: Path) -> None:
    old = copy_repo(tmp_path / "old")
    new = copy_repo(tmp_path / "new")
    lower_threshold(new)
    run = mu("diff", str(old / "ontology"), str(new / "ontology"), "--format", "json")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["blast_radius"]["ratio"] == "1/26"
    assert report["blast_radius"]["modules"] == ["controls/approval_over_100k.py"]
    flips = {f["case_id"]: f for f in report["flips"]}
    assert flips["vendor_100k_exact_l2"]["old"]["outcome"] == "APPROVE"
    assert flips["vendor_100k_exact_l2"]["new"]["outcome"] == "REJECT"
    markdown = mu("diff", str(old / "ontology"), str(new / "ontology"), "--format", "markdown")
    assert markdown.code == 0 and "| `approval_over_100k` |" in markdown.out
    text = mu("diff", str(old / "ontology"), str(new / "ontology"))
    assert text.code == 0 and "approval_over_100k" in text.out


@pytest.mark.slow
def test_blast_radius_gate(mu: Mu, tmp_path: Path) -> None:
    old = copy_repo(tmp_path / "old")
    new = copy_repo(tmp_path / "new")
    lower_threshold(new)
    over = mu("diff", str(old), str(new), "--max-blast-radius", "0.01")
    assert over.code == 1
    within = mu("diff", str(old), str(new), "--max-blast-radius", "0.5")
    assert within.code == 0
    assert mu("diff", str(old), str(new), "--max-blast-radius", "7").code == 2
    assert mu("diff", "no-such-ref", str(new), root=old).code == 2


@pytest.mark.slow  # `mu` in a new process
def test_diff_between_git_refs_in_a_subprocess(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    lower_threshold(root)
    git("commit", "-qam", "lower the 100k threshold")
    shutil.rmtree(root / "ontology")  # git refs need no working copy of the ontology
    run = mu_process("diff", "HEAD~1", "HEAD", "--format", "markdown", cwd=root)
    assert run.code == 0, run.err
    assert "approval_over_100k" in run.out and "APPROVE" in run.out
