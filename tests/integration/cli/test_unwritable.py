"""Unwritable places give a message naming the path and exit 2, never a traceback.

Tests run as root, so permission bits do not stop a write; a regular file where
a directory must be created fails just as a read-only one would.
"""

from __future__ import annotations

from pathlib import Path

from tests.chain import Mu, Signed


def test_approve_into_an_unwritable_approvals_folder(mu: Mu, signed: Signed) -> None:
    root = signed.root
    (root / "receipts" / "approvals").write_text("not a directory\n")
    run = mu("approve", "--key", str(signed.compliance[0]), root=root)
    assert run.code == 2, run.out + run.err
    assert "approvals" in run.err and "Traceback" not in run.err


def test_keygen_into_an_unwritable_place(mu: Mu, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory\n")
    run = mu("keygen", "--out", str(blocker / "release.pem"), root=tmp_path / "repo")
    assert run.code == 2, run.out + run.err
    assert "blocker" in run.err and "Traceback" not in run.err


def test_a_receipts_folder_linked_outside_is_refused(
    mu: Mu, signed: Signed, tmp_path: Path
) -> None:
    root = signed.root
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "receipts" / "approvals").symlink_to(outside)
    run = mu("approve", "--key", str(signed.compliance[0]), root=root)
    assert run.code == 2, run.out + run.err
    assert "outside the repository" in run.err
    assert list(outside.iterdir()) == []
