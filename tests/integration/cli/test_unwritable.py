"""Unwritable places give a message naming the path and exit 2, never a traceback.

Tests run as root, so permission bits do not stop a write; a regular file where
a directory must be created fails just as a read-only one would.
"""

from __future__ import annotations

from pathlib import Path

from generator.provenance.keys import generate_keypair
from tests.chain import Mu
from tests.conftest import copy_repo


def test_approve_into_an_unwritable_approvals_folder(mu: Mu, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    (root / "receipts").mkdir()
    (root / "receipts" / "approvals").write_text("not a directory\n")
    pair = generate_keypair(tmp_path / "keys" / "compliance.pem")
    run = mu("approve", "--key", str(pair.private_path), root=root)
    assert run.code == 2, run.out + run.err
    assert "approvals" in run.err and "Traceback" not in run.err


def test_keygen_into_an_unwritable_place(mu: Mu, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory\n")
    run = mu("keygen", "--out", str(blocker / "release.pem"), root=tmp_path / "repo")
    assert run.code == 2, run.out + run.err
    assert "blocker" in run.err and "Traceback" not in run.err


def test_a_receipts_folder_linked_outside_is_refused(mu: Mu, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "receipts").mkdir()
    (root / "receipts" / "approvals").symlink_to(outside)
    pair = generate_keypair(tmp_path / "keys" / "compliance.pem")
    run = mu("approve", "--key", str(pair.private_path), root=root)
    assert run.code == 2, run.out + run.err
    assert "outside the repository" in run.err
    assert list(outside.iterdir()) == []
