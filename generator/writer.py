"""Stage 7, write: a rendered tree → a directory, atomically.

The new tree is written and fsynced in a temporary sibling directory, then
swapped in with one `renameat2(RENAME_EXCHANGE)` where the kernel offers it
(Linux), else with two renames and a recovery step. A crash at any point
leaves either the whole old tree or the whole new one: never half of each.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.errors import InputError

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
# Caches of interpreters and editors are never part of a tree.
IGNORED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})


@dataclass(frozen=True)
class TreeDiff:
    """Paths that differ between an expected and an actual tree, each sorted."""

    added: tuple[str, ...]  # in actual, not expected
    removed: tuple[str, ...]  # in expected, not actual
    changed: tuple[str, ...]

    @property
    def clean(self) -> bool:
        """True when both trees are byte-identical."""
        return not (self.added or self.removed or self.changed)


def read_tree(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (POSIX relative path → bytes), sorted, caches skipped."""
    if not directory.is_dir():
        return {}
    files = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if path.is_file() and not IGNORED_PARTS.intersection(rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    return dict(sorted(files.items()))


def compare_trees(expected: Mapping[str, bytes], actual: Mapping[str, bytes]) -> TreeDiff:
    """Which files were added, removed or changed going from `expected` to `actual`."""
    return TreeDiff(
        added=tuple(sorted(set(actual) - set(expected))),
        removed=tuple(sorted(set(expected) - set(actual))),
        changed=tuple(sorted(p for p in set(expected) & set(actual) if expected[p] != actual[p])),
    )


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2; False when the platform lacks it."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


# Tests replace this hook to crash between two files; production never sets it.
_after_file: Callable[[str], None] | None = None


def recover(target: Path) -> None:
    """Finish or undo an interrupted swap, and remove stale temporary trees."""
    parent = target.parent
    if not parent.is_dir():
        return
    backups = sorted(parent.glob(f".{target.name}.old-*"))
    if backups and not target.exists():
        # Crashed between the two renames of the fallback path: put the old tree back.
        os.rename(backups[-1], target)
        backups = backups[:-1]
    for stale in [*backups, *sorted(parent.glob(f".{target.name}.tmp-*"))]:
        shutil.rmtree(stale, ignore_errors=True)


def write_tree_atomic(target: Path, files: Mapping[str, bytes]) -> None:
    """Replace the directory `target` by exactly `files`, atomically."""
    target = target.absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        recover(target)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise InputError(f"cannot write `{target}`: {exc.strerror}") from exc
    try:
        for rel in sorted(files):
            _write_file(staging / rel, files[rel])
            if _after_file is not None:
                _after_file(rel)
        _fsync_dir(staging)
        if not target.exists():
            os.rename(staging, target)
        elif _exchange(staging, target):
            shutil.rmtree(staging)  # staging now holds the old tree
        else:
            backup = target.parent / f".{target.name}.old-{staging.name.rsplit('-', 1)[-1]}"
            os.rename(target, backup)
            os.rename(staging, target)
            shutil.rmtree(backup, ignore_errors=True)
        _fsync_dir(target.parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(
            f"cannot write `{target}`: {exc.strerror or exc}",
            hint="the previous tree is intact; check space and permissions, then run again",
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
