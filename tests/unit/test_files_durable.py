"""A staged tree is made durable with one wait for the whole tree, not one per file;
a scratch tree waits for nothing; a failed sync leaves the previous tree."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest

from mu.generator import files as writer
from mu.generator.errors import InputError
from mu.generator.files import StagedTree, read_tree, write_tree_atomic

OLD = {"__init__.py": b"old\n", "controls/a.py": b"a-old\n"}
NEW = {"__init__.py": b"new\n", "controls/a.py": b"a-new\n", "controls/deep/c.py": b"c\n"}


class Waits:
    """Counts every wait for the disk a write makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, syncfs: bool) -> None:
        self.syncfs = 0
        self.fsynced: list[Path] = []
        self.fsync_fds = 0
        self._available = syncfs
        real_fsync = os.fsync

        def fake_syncfs(fd: int) -> bool:
            self.syncfs += 1
            return self._available

        def fsync(fd: int) -> None:
            self.fsync_fds += 1
            real_fsync(fd)

        def fsync_path(path: Path) -> None:
            self.fsynced.append(path)

        monkeypatch.setattr(writer, "_syncfs", fake_syncfs)
        monkeypatch.setattr(writer.os, "fsync", fsync)
        monkeypatch.setattr(writer, "_fsync_path", fsync_path)


def test_a_durable_tree_waits_once_for_all_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = Waits(monkeypatch, syncfs=True)
    with StagedTree(tmp_path / "enforcers", NEW) as staged:
        assert (waits.syncfs, waits.fsynced, waits.fsync_fds) == (1, [], 1)  # + its directory
        staged.commit()
    assert read_tree(tmp_path / "enforcers") == NEW
    assert waits.fsynced == [tmp_path]  # the swap itself: the parent directory


def test_without_syncfs_every_file_and_directory_is_fsynced_after_the_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = Waits(monkeypatch, syncfs=False)
    staged = StagedTree(tmp_path / "enforcers", NEW)
    root = staged.staging
    assert waits.fsynced == [
        *(root / rel for rel in sorted(NEW)),
        root / "controls" / "deep",
        root / "controls",
        root,
    ]
    staged.discard()


def test_a_scratch_tree_waits_for_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    waits = Waits(monkeypatch, syncfs=True)
    with StagedTree(tmp_path / "scratch", NEW, durable=False):
        assert (waits.syncfs, waits.fsynced, waits.fsync_fds) == (0, [], 0)
    write_tree_atomic(tmp_path / "scratch", NEW, durable=False)
    assert read_tree(tmp_path / "scratch") == NEW and waits.syncfs == 0


def test_a_failed_sync_leaves_the_previous_tree_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "enforcers"
    write_tree_atomic(target, OLD)

    def failing(fd: int) -> bool:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(writer, "_syncfs", failing)
    with pytest.raises(InputError, match=r"cannot write .*Input/output error") as info:
        write_tree_atomic(target, NEW)
    assert "previous tree is intact" in info.value.hint
    assert read_tree(target) == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["enforcers"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_syncfs_is_there_on_linux(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        assert writer._syncfs(fd)
    finally:
        os.close(fd)
