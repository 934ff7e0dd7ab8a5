"""`mu vocabulary --out FILE` on the command line: writes the page, refuses protected paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Run, mu_process

Mu = Callable[..., Run]


def test_vocabulary_writes_the_committed_page(mu: Mu, tmp_path: Path) -> None:
    out = tmp_path / "site" / "vocabulary.html"
    run = mu("vocabulary", "--out", str(out), root=tmp_path)
    assert run.code == 0, run.err
    assert "13 classes, 26 properties" in run.out
    assert out.read_bytes() == (REPO / "docs" / "vocabulary.html").read_bytes()


def test_vocabulary_refuses_the_repository_data(mu: Mu, tmp_path: Path) -> None:
    (tmp_path / "receipts").mkdir()
    run = mu("vocabulary", "--out", str(tmp_path / "receipts" / "v.html"), root=tmp_path)
    assert run.code == 2
    assert "refusing to write the vocabulary page" in run.err
    assert "Traceback" not in run.err
    assert not (tmp_path / "receipts" / "v.html").exists()


@pytest.mark.slow
def test_vocabulary_is_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    pages = []
    for seed in ("1", "2"):
        out = tmp_path / f"v{seed}.html"
        run = mu_process("vocabulary", "--out", str(out), cwd=tmp_path, seed=seed)
        assert run.code == 0, run.err
        pages.append(out.read_bytes())
    assert pages[0] == pages[1] == (REPO / "docs" / "vocabulary.html").read_bytes()
