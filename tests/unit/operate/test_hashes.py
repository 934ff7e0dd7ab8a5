"""`operate.hashes`: an enforcer package against its MANIFEST and a receipt, file by file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mu.generator.compile.pipeline import Compiled
from mu.generator.errors import InputError
from mu.generator.layout import Layout
from mu.generator.operate.hashes import HashMismatch, compare_digests, verify_hashes


def test_compare_digests_names_every_changed_missing_and_extra_file() -> None:
    expected = {"a.py": "1", "b.py": "2", "c.py": "3"}
    actual = {"a.py": "1", "b.py": "9", "d.py": "4"}
    assert compare_digests(expected, actual) == (
        HashMismatch("b.py", "changed", "2", "9"),
        HashMismatch("c.py", "missing", "3", None),
        HashMismatch("d.py", "extra", None, "4"),
    )
    assert compare_digests(expected, expected) == ()


@pytest.fixture
def package(tmp_path: Path, example_compiled: Compiled) -> Path:
    root = tmp_path / "repo"
    for rel, data in example_compiled.files.items():
        (root / "enforcers" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "enforcers" / rel).write_bytes(data)
    return root


def test_no_receipt_is_bad_input(package: Path) -> None:
    with pytest.raises(InputError, match="no build receipt in `receipts`"):
        verify_hashes(Layout(package))


def test_a_package_without_a_manifest_is_bad_input(package: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        verify_hashes(Layout(package), tmp_path / "nowhere")
    (package / "enforcers" / "MANIFEST.json").unlink()
    with pytest.raises(InputError, match=r"no readable `MANIFEST\.json`"):
        verify_hashes(Layout(package))
    (package / "enforcers" / "MANIFEST.json").write_text(json.dumps({"files": [1]}), "utf-8")
    with pytest.raises(InputError, match="no `files` map"):
        verify_hashes(Layout(package))
