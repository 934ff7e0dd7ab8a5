"""A content-addressed store of stage results: an optimisation, never evidence.

A build may skip work whose result it has seen before. Whatever the cache
holds, a build must produce what `--no-cache` produces, so the cache is
distrusted by construction:

- it lives in the git directory (`.git/mu-cache/`), which no commit can
  write: a pull request cannot plant an entry. No git directory, or one that
  leads outside the checkout (other than a `git worktree`'s): no cache;
- a key is the sha256 of the stage's name, the generator's own source digest
  and the digest of the stage's whole input (`cache_key`), so a changed input
  or a changed mu can never hit an old entry;
- each value carries an HMAC-SHA256 over (key, value) under a secret made on
  first use (`secret`, mode 0600): an entry that is truncated, corrupted,
  copied from elsewhere or written by anyone without the secret is a miss and
  is deleted;
- nothing here raises for a broken cache: a locked database is a miss, a
  corrupt one is moved aside and recreated, anything else turns the cache off
  for the rest of the run. Its size is bounded (least recently used first out).

SQLite (one file, WAL) holds the entries: ten thousand small values are read
or written in one transaction (`get_many`, `put_many`), and two builds at once
take turns (a busy timeout) instead of corrupting it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from mu.generator import cachedb
from mu.generator.cachedb import DATABASE, Row

T = TypeVar("T")

CACHE_DIR = "mu-cache"
DEFAULT_MAX_BYTES = 1 << 30  # ~30 cold builds of 10,000 controls at 3 KB per entry
# Refreshing an entry's use time rewrites its row: at most once a day per entry.
TOUCH_AFTER_SECONDS = 86_400
# SQLite result codes (`sqlite3.Error.sqlite_errorcode`, primary code in the low byte).
_CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED
# A database found corrupt more often than this in one run is given up on.
_MAX_RECOVERIES = 2


def cache_key(namespace: str, generator: str, inputs: str) -> str:
    """The key of one stage result: sha256 over the stage's name (`namespace`), the
    generator's own digest (`this_generator().source_sha256`) and its inputs' digest.

    JSON makes the encoding unambiguous whatever the three strings hold."""
    encoded = json.dumps(["mu-cache-key-v1", namespace, generator, inputs]).encode()
    return hashlib.sha256(encoded).hexdigest()


def git_directory(root: Path) -> Path | None:
    """The git directory of the checkout at `root`, resolved; None when there is none
    or when it lies outside the checkout (only a `git worktree`'s may).

    `.git` must be a real directory, or a file `gitdir: PATH` (a worktree or a
    submodule); a symbolic link is not followed."""
    base = root.resolve()
    dotgit = base / ".git"
    try:
        mode = os.lstat(dotgit).st_mode
        if stat.S_ISDIR(mode):
            return dotgit
        if not stat.S_ISREG(mode):
            return None
        with dotgit.open("rb") as handle:
            text = handle.read(4096).decode("utf-8").strip()
    except (OSError, UnicodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    named = Path(text.removeprefix("gitdir:").strip())
    target = (named if named.is_absolute() else base / named).resolve()
    if not target.is_dir():
        return None
    if target.is_relative_to(base) or _worktree_of(target, dotgit):
        return target
    return None


def _worktree_of(gitdir: Path, dotgit: Path) -> bool:
    """Whether `gitdir` is the administrative directory git keeps for the worktree whose
    `.git` file is `dotgit`: `<common>/worktrees/<id>/`, whose `gitdir` file points back."""
    try:
        back = (gitdir / "gitdir").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError):
        return False
    return (
        gitdir.parent.name == "worktrees"
        and (gitdir / "commondir").is_file()
        and Path(back).resolve() == dotgit
    )


@dataclass(frozen=True)
class CacheStats:
    """What the cache did in this run: entries found, not found, found broken and
    deleted, and written."""

    hits: int = 0
    misses: int = 0
    dropped: int = 0
    written: int = 0


class Cache:
    """Key → bytes, content-addressed, authenticated, bounded; disabled mode reads and
    writes nothing, so callers never branch on `--no-cache`.

    Nothing is created on disk until the first `get`/`put`. Safe to share between
    threads of one process; separate processes share the SQLite file.
    """

    def __init__(
        self,
        directory: Path | None,
        *,
        reason: str = "",
        max_bytes: int = DEFAULT_MAX_BYTES,
        generator: str = "",
    ) -> None:
        # The generator's own source digest, in every `stage_key`: without it no key can
        # be made, so a cache made without one stays disabled.
        if directory is not None and not generator:
            directory, reason = None, "no generator digest to key entries by"
        self._generator = generator
        self._directory = directory
        self._reason = reason
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0  # the process that opened `_conn`
        self._secret = b""
        self._recoveries = 0
        self._stats = CacheStats()

    @classmethod
    def disabled(cls, reason: str = "disabled (--no-cache)") -> Cache:
        """A cache that reads nothing and writes nothing."""
        return cls(None, reason=reason)

    @classmethod
    def for_repository(
        cls, root: Path, *, generator: str, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> Cache:
        """The cache of the checkout at `root`, in its git directory, keyed by `generator`
        (`this_generator().source_sha256`); disabled when it has no git directory mu may
        use."""
        gitdir = git_directory(root)
        if gitdir is None:
            return cls.disabled(f"no usable git directory at `{root / '.git'}`")
        return cls(gitdir / CACHE_DIR, max_bytes=max_bytes, generator=generator)

    @property
    def enabled(self) -> bool:
        """False for a disabled cache, and once the cache has given up in this run."""
        return self._directory is not None

    @property
    def reason(self) -> str:
        """Why the cache is disabled ('' while it is enabled)."""
        return self._reason

    @property
    def directory(self) -> Path | None:
        """Where the cache lives (None when disabled)."""
        return self._directory

    @staticmethod
    def key(namespace: str, generator: str, inputs: str) -> str:
        """`cache_key`: the key of a stage result."""
        return cache_key(namespace, generator, inputs)

    def stage_key(self, namespace: str, inputs: str) -> str:
        """The key of a result of stage `namespace` whose whole input has digest `inputs`,
        made by the generator this cache was opened for."""
        return cache_key(namespace, self._generator, inputs)

    def stats(self) -> CacheStats:
        """Counts of this run's hits, misses, dropped and written entries."""
        return self._stats

    def get(self, key: str) -> bytes | None:
        """The value stored under `key`, or None (a miss, or a broken entry now dropped)."""
        return self.get_many([key]).get(key)

    def put(self, key: str, value: bytes) -> None:
        """Store `value` under `key` (best effort)."""
        self.put_many({key: value})

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The authentic entries among `keys`, read in one transaction; the rest are misses."""
        wanted = sorted(set(keys))
        if not wanted or not self.enabled:
            return {}
        with self._lock:
            empty: list[Row] = []
            rows = self._guard(lambda conn: cachedb.select(conn, wanted), empty)
            found: dict[str, bytes] = {}
            bad: list[str] = []
            stale: list[str] = []
            now = int(time.time())
            for row in rows:
                if not isinstance(row.key, str):
                    continue  # not a key asked for: SQLite compared it as text
                value = cachedb.authentic(self._secret, row.key, row)
                if value is None:
                    bad.append(row.key)
                    continue
                found[row.key] = value
                if not isinstance(row.used, int) or row.used < now - TOUCH_AFTER_SECONDS:
                    stale.append(row.key)
            if bad or stale:
                self._guard(lambda conn: cachedb.tidy(conn, bad, stale, now), None)
            self._count(hits=len(found), misses=len(wanted) - len(found), dropped=len(bad))
            return found

    def put_many(self, items: Mapping[str, bytes]) -> None:
        """Store every item in one transaction, then evict beyond the size bound; a locked or
        broken database stores nothing (the next build just misses)."""
        if not items or not self.enabled:
            return
        with self._lock:
            stored = self._guard(lambda conn: self._insert(conn, items), False)
            if stored:
                self._count(written=len(items))

    def close(self) -> None:
        """Close the database (the cache reopens it if used again)."""
        with self._lock:
            self._close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Internals: every path below swallows a broken cache into a miss.

    def _count(self, *, hits: int = 0, misses: int = 0, dropped: int = 0, written: int = 0) -> None:
        s = self._stats
        self._stats = CacheStats(
            s.hits + hits, s.misses + misses, s.dropped + dropped, s.written + written
        )

    def _insert(self, conn: sqlite3.Connection, items: Mapping[str, bytes]) -> bool:
        # Called by `_guard` once the database is open, so the secret is loaded.
        now = int(time.time())
        rows = [
            (key, bytes(value), cachedb.mac(self._secret, key, value), len(value), now)
            for key, value in sorted(items.items())
        ]
        return cachedb.insert(conn, rows, self._max_bytes)

    def _guard(self, action: Callable[[sqlite3.Connection], T], default: T) -> T:
        """Run `action` on the open database; on any failure, `default` and a sound state.

        A corrupt database is moved aside and `action` tried once more on a new one."""
        for _attempt in range(2):
            try:
                conn = self._open()
                if conn is None:
                    return default
                return action(conn)
            except sqlite3.Error as exc:
                code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
                if code in _BUSY_CODES:
                    return default  # another build holds the lock: a miss, not an error
                if code in _CORRUPT_CODES and self._recoveries < _MAX_RECOVERIES:
                    self._recoveries += 1
                    self._move_aside()
                    continue
                self._give_up(f"the cache database failed: {exc}")
            except (OSError, ValueError, OverflowError, MemoryError) as exc:
                self._give_up(f"the cache is unusable: {exc}")
            return default
        return default

    def _open(self) -> sqlite3.Connection | None:
        if self._conn is not None and self._pid != os.getpid():
            # A forked child must not touch its parent's connection (SQLite forbids it):
            # it opens its own and leaves the parent's alone.
            self._conn = None
        if self._conn is not None:
            return self._conn
        directory = self._directory
        if directory is None:
            return None
        cachedb.make_private_directory(directory)
        secret = cachedb.load_secret(directory)
        path = directory / DATABASE
        for name in (path, *cachedb.companions(path)):
            if name.is_symlink():
                raise OSError(f"`{name}` is a symbolic link")
        conn = cachedb.connect(path)
        try:
            if secret.fresh:
                # Entries made under a lost secret would only ever be dropped one by one.
                cachedb.clear(conn)
        except BaseException:
            conn.close()
            raise
        self._secret, self._conn, self._pid = secret.value, conn, os.getpid()
        return conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _move_aside(self) -> None:
        """Keep one corrupt database for inspection (`*.corrupt`); the next use recreates it."""
        self._close()
        if self._directory is None:
            return
        path = self._directory / DATABASE
        for name in (path, *cachedb.companions(path)):
            try:
                os.replace(name, name.with_name(name.name + ".corrupt"))
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._give_up(f"cannot move the corrupt cache aside: {exc}")
                return

    def _give_up(self, reason: str) -> None:
        self._close()
        self._directory = None
        self._reason = reason


# The default of every call that takes a cache: reads and writes nothing.
NO_CACHE = Cache.disabled("no cache given")
