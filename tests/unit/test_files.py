"""Atomic writes: a crash never leaves half of the old tree and half of the new."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mu.generator import files as writer
from mu.generator.errors import InputError
from mu.generator.files import (
    compare_trees,
    read_tree,
    recover,
    write_file_atomic,
    write_tree_atomic,
)

OLD = {"__init__.py": b"old\n", "controls/a.py": b"a-old\n", "controls/b.py": b"b-old\n"}
NEW = {"__init__.py": b"new\n", "controls/a.py": b"a-new\n", "controls/c.py": b"c-new\n"}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".enforcers."))


def test_write_then_replace_gives_exactly_the_new_tree(tmp_path: Path) -> None:
    target = tmp_path / "enforcers"
    write_tree_atomic(target, OLD)
    assert read_tree(target) == OLD
    write_tree_atomic(target, NEW)
    assert read_tree(target) == NEW  # b.py is gone: the tree is replaced, not merged
    assert leftovers(tmp_path) == []


def test_two_rename_fallback_also_replaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "_exchange", lambda a, b: False)
    target = tmp_path / "enforcers"
    write_tree_atomic(target, OLD)
    write_tree_atomic(target, NEW)
    assert read_tree(target) == NEW
    assert leftovers(tmp_path) == []


def test_failure_between_files_leaves_previous_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "enforcers"
    write_tree_atomic(target, OLD)

    def explode(rel: str) -> None:
        if rel == "controls/a.py":
            raise RuntimeError("injected failure half way")

    monkeypatch.setattr(writer, "_after_file", explode)
    with pytest.raises(RuntimeError):
        write_tree_atomic(target, NEW)
    assert read_tree(target) == OLD
    assert leftovers(tmp_path) == []


def test_disk_error_is_a_clear_error_and_keeps_the_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "enforcers"
    write_tree_atomic(target, OLD)

    def full(rel: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_after_file", full)
    with pytest.raises(InputError, match=r"previous tree is intact|cannot write"):
        write_tree_atomic(target, NEW)
    assert read_tree(target) == OLD


def test_killed_process_leaves_previous_tree(tmp_path: Path) -> None:
    """SIGKILL half way through a real write, in a real process."""
    target = tmp_path / "enforcers"
    write_tree_atomic(target, OLD)
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from mu.generator import files as writer
        def die(rel):
            if rel == "controls/a.py":
                os.kill(os.getpid(), signal.SIGKILL)
        writer._after_file = die
        writer.write_tree_atomic(Path({str(target)!r}), {NEW!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == -9
    assert read_tree(target) == OLD
    assert leftovers(tmp_path)  # the half-written staging tree is still there...
    recover(target)
    assert leftovers(tmp_path) == []  # ...and the next write cleans it up
    assert read_tree(target) == OLD


def test_recover_restores_backup_after_crash_between_renames(tmp_path: Path) -> None:
    target = tmp_path / "enforcers"
    write_tree_atomic(target, OLD)
    os.rename(target, tmp_path / ".enforcers.old-abc")
    recover(target)
    assert read_tree(target) == OLD


def test_compare_trees_names_each_kind_of_difference() -> None:
    diff = compare_trees(OLD, NEW)
    assert diff.changed == ("__init__.py", "controls/a.py")
    assert diff.removed == ("controls/b.py",)
    assert diff.added == ("controls/c.py",)
    assert compare_trees(OLD, dict(OLD)).clean


def test_read_tree_skips_bytecode_caches(tmp_path: Path) -> None:
    write_tree_atomic(tmp_path / "enforcers", OLD)
    (tmp_path / "enforcers" / "__pycache__").mkdir()
    (tmp_path / "enforcers" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert read_tree(tmp_path / "enforcers") == OLD


def test_a_full_disk_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "receipts" / "snapshots" / "x.json"

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer.os, "fsync", full)
    with pytest.raises(InputError, match="No space left"):
        write_file_atomic(target, b"{}")
    assert list(target.parent.iterdir()) == []


def test_unsafe_paths_in_a_tree_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(InputError, match="unsafe path"):
        write_tree_atomic(target, {"ok.py": b"", "a//../../escape.py": b"x"})
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_a_link_inside_a_tree_reads_as_a_changed_file(tmp_path: Path) -> None:
    target = tmp_path / "enforcers"
    write_tree_atomic(target, OLD)
    secret = tmp_path / "secret"
    secret.write_bytes(b"a-old\n")  # the same bytes the link replaces
    (target / "controls" / "a.py").unlink()
    (target / "controls" / "a.py").symlink_to(secret)
    assert compare_trees(OLD, read_tree(target)).changed == ("controls/a.py",)
