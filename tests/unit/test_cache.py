"""The build cache: an optimisation, never evidence. What it returns is exactly what was
stored by the holder of its secret, or nothing; it lives in the git directory and nowhere
else; a broken cache is a miss, never an error."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from mu.generator import cachedb
from mu.generator.cache import CACHE_DIR, Cache, cache_key, git_directory
from mu.generator.cachedb import DATABASE, MAC_BYTES, SECRET, mac

GENERATOR = "a" * 64


def _key(i: int) -> str:
    return cache_key("render", GENERATOR, f"{i:064x}")


def _value(i: int) -> bytes:
    return f"value {i} ".encode() * 40


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout with a git directory (nothing else is needed for the cache)."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "ontology").mkdir()
    return root


def _tree(directory: Path) -> dict[str, bytes | None]:
    """Every path under `directory` (links not followed): file bytes, None for the rest."""
    out: dict[str, bytes | None] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        out[rel] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
    return out


def _database(root: Path) -> Path:
    return root / ".git" / CACHE_DIR / DATABASE


def _rows(root: Path) -> dict[str, tuple[bytes, bytes, int]]:
    with sqlite3.connect(_database(root)) as conn:
        found = conn.execute("SELECT key, value, mac, size FROM entries").fetchall()
    return {key: (value, tag, size) for key, value, tag, size in found}


def _update(root: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(_database(root))
    try:
        conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


def test_key_binds_the_stage_the_generator_and_the_inputs() -> None:
    base = cache_key("render", GENERATOR, "b" * 64)
    assert base == cache_key("render", GENERATOR, "b" * 64)
    assert len(base) == 64 and int(base, 16) >= 0
    others = {
        cache_key("lower", GENERATOR, "b" * 64),
        cache_key("render", "c" * 64, "b" * 64),
        cache_key("render", GENERATOR, "c" * 64),
        # The encoding is unambiguous: moving text between the parts changes the key.
        cache_key("render" + GENERATOR[:1], GENERATOR[1:], "b" * 64),
    }
    assert base not in others and len(others) == 4
    assert Cache.key("render", GENERATOR, "b" * 64) == base


def test_round_trip(checkout: Path) -> None:
    items = {_key(i): _value(i) for i in range(1200)}  # more than one chunk of keys
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        assert cache.enabled
        assert cache.get_many(items) == {}
        cache.put_many(items)
        asked = [*items, _key(5000)]
        assert cache.get_many(asked) == items
        cache.put(_key(9), b"replaced")
        assert cache.get(_key(9)) == b"replaced"
        assert cache.get(_key(5000)) is None
        stats = cache.stats()
    assert (stats.hits, stats.written, stats.dropped) == (1201, 1201, 0)
    assert stats.misses == 1200 + 1 + 1
    # A new run (a new object, a new connection) reads the same entries.
    with Cache.for_repository(checkout, generator=GENERATOR) as again:
        assert again.get(_key(3)) == _value(3)
    directory = checkout / ".git" / CACHE_DIR
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / SECRET).stat().st_mode) == 0o600
    assert len((directory / SECRET).read_bytes()) == 32


def test_nothing_is_created_until_used(checkout: Path) -> None:
    cache = Cache.for_repository(checkout, generator=GENERATOR)
    assert cache.enabled and cache.directory == checkout.resolve() / ".git" / CACHE_DIR
    assert not (checkout / ".git" / CACHE_DIR).exists()


@pytest.mark.parametrize("column", ["value", "mac"])
def test_a_flipped_byte_is_a_miss_and_the_entry_is_dropped(checkout: Path, column: str) -> None:
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put_many({_key(1): _value(1), _key(2): _value(2)})
    stored = _rows(checkout)[_key(1)]
    original = stored[0] if column == "value" else stored[1]
    flipped = bytes([original[0] ^ 0x01]) + original[1:]
    _update(checkout, f"UPDATE entries SET {column} = ? WHERE key = ?", flipped, _key(1))
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        assert cache.get_many([_key(1), _key(2)]) == {_key(2): _value(2)}
        assert cache.stats().dropped == 1
    assert set(_rows(checkout)) == {_key(2)}


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE entries SET value = substr(value, 1, 10) WHERE key = ?",  # truncated
        "UPDATE entries SET size = size + 1 WHERE key = ?",  # wrong length
        "UPDATE entries SET mac = substr(mac, 1, 16) WHERE key = ?",  # short MAC
        "UPDATE entries SET value = CAST(value AS TEXT) WHERE key = ?",  # not bytes
    ],
)
def test_a_truncated_or_mistyped_entry_is_a_miss(checkout: Path, sql: str) -> None:
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put(_key(1), _value(1))
    _update(checkout, sql, _key(1))
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        assert cache.get(_key(1)) is None
    assert _rows(checkout) == {}


def test_an_entry_planted_without_the_secret_is_a_miss(checkout: Path) -> None:
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put(_key(1), _value(1))  # makes the database and the secret
    planted = b"def evaluate(tx): return 'APPROVE'\n"
    for i, tag in ((2, mac(os.urandom(32), _key(2), planted)), (3, b"\x00" * MAC_BYTES)):
        _update(
            checkout,
            "INSERT INTO entries VALUES (?, ?, ?, ?, ?)",
            _key(i),
            planted,
            tag,
            len(planted),
            0,
        )
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        assert cache.get_many([_key(1), _key(2), _key(3)]) == {_key(1): _value(1)}
    assert set(_rows(checkout)) == {_key(1)}


def test_an_entry_copied_from_another_cache_is_a_miss(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for root in (first, second):
        (root / ".git").mkdir(parents=True)
        with Cache.for_repository(root, generator=GENERATOR) as cache:
            cache.put(_key(0), b"made here")
    # The whole database of `first`, entries and MACs, copied over `second`'s.
    (second / ".git" / CACHE_DIR / DATABASE).write_bytes(_database(first).read_bytes())
    with Cache.for_repository(second, generator=GENERATOR) as cache:
        assert cache.get(_key(0)) is None


def test_a_lost_secret_voids_every_entry(checkout: Path) -> None:
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put(_key(1), _value(1))
    (checkout / ".git" / CACHE_DIR / SECRET).write_bytes(b"short")
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        assert cache.get(_key(1)) is None
        cache.put(_key(2), _value(2))
        assert cache.get(_key(2)) == _value(2)
    assert len((checkout / ".git" / CACHE_DIR / SECRET).read_bytes()) == 32


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_database_is_moved_aside_and_recreated(checkout: Path, damage: str) -> None:
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put_many({_key(i): _value(i) for i in range(300)})
    path = _database(checkout)
    data = path.read_bytes()
    assert len(data) > 8192
    if damage == "garbage":
        path.write_bytes(b"this is not a database at all" * 200)
    else:
        # Keep the header, lose most pages: SQLite reports a malformed image on reading.
        path.write_bytes(data[:4096] + b"\xff" * 4096)
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        found = cache.get_many([_key(i) for i in range(300)])
        assert found == {}
        cache.put(_key(1), b"after")
        assert cache.get(_key(1)) == b"after"
        assert cache.enabled
    assert path.with_name(DATABASE + ".corrupt").exists()


def test_no_git_directory_no_cache(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "ontology").mkdir(parents=True)
    cache = Cache.for_repository(root, generator=GENERATOR)
    assert not cache.enabled and "no usable git directory" in cache.reason
    cache.put(_key(1), b"x")
    assert cache.get(_key(1)) is None
    assert _tree(tmp_path) == {"repo": None, "repo/ontology": None}


def _outside_git(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere" / "gitdir"
    outside.mkdir(parents=True)
    return outside


@pytest.mark.parametrize("how", ["gitdir-file", "relative-gitdir-file", "symlink"])
def test_a_git_directory_outside_the_checkout_is_refused(tmp_path: Path, how: str) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    outside = _outside_git(tmp_path)
    if how == "gitdir-file":
        (root / ".git").write_text(f"gitdir: {outside}\n")
    elif how == "relative-gitdir-file":
        (root / ".git").write_text("gitdir: ../elsewhere/gitdir\n")
    else:
        (root / ".git").symlink_to(outside)
    assert git_directory(root) is None
    cache = Cache.for_repository(root, generator=GENERATOR)
    assert not cache.enabled
    cache.put(_key(1), b"x")
    assert list(outside.iterdir()) == []


def test_a_worktree_without_its_back_link_is_refused(tmp_path: Path) -> None:
    # Shaped like `<common>/worktrees/<id>`, but its `gitdir` names another checkout.
    root = tmp_path / "repo"
    root.mkdir()
    admin = tmp_path / "main" / ".git" / "worktrees" / "repo"
    admin.mkdir(parents=True)
    (admin / "commondir").write_text("../..\n")
    (admin / "gitdir").write_text(f"{tmp_path / 'other' / '.git'}\n")
    (root / ".git").write_text(f"gitdir: {admin}\n")
    assert git_directory(root) is None
    (admin / "gitdir").write_text(f"{root / '.git'}\n")
    assert git_directory(root) == admin.resolve()


def test_a_git_directory_inside_the_checkout_is_used(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "meta" / "git").mkdir(parents=True)
    (root / ".git").write_text("gitdir: meta/git\n")
    with Cache.for_repository(root, generator=GENERATOR) as cache:
        cache.put(_key(1), b"x")
        assert cache.get(_key(1)) == b"x"
    assert (root / "meta" / "git" / CACHE_DIR / DATABASE).is_file()


@pytest.mark.slow
def test_a_git_worktree_keeps_its_cache_in_its_own_git_directory(tmp_path: Path) -> None:
    main, tree = tmp_path / "main", tmp_path / "tree"
    main.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(main), *args], check=True, capture_output=True)

    git("init", "-q")
    (main / "a.txt").write_text("a\n")
    git("add", "a.txt")
    git("-c", "user.email=a@example.org", "-c", "user.name=a", "commit", "-qm", "a")
    git("worktree", "add", "-q", str(tree))
    with Cache.for_repository(tree, generator=GENERATOR) as cache:
        assert cache.enabled
        cache.put(_key(1), b"x")
        assert cache.get(_key(1)) == b"x"
    assert (main / ".git" / "worktrees" / "tree" / CACHE_DIR / DATABASE).is_file()
    assert not (tree / CACHE_DIR).exists()


def test_a_linked_cache_directory_is_not_followed(checkout: Path, tmp_path: Path) -> None:
    outside = _outside_git(tmp_path)
    (checkout / ".git" / CACHE_DIR).symlink_to(outside)
    cache = Cache.for_repository(checkout, generator=GENERATOR)
    cache.put(_key(1), b"x")
    assert cache.get(_key(1)) is None
    assert not cache.enabled and "symbolic link" in cache.reason
    assert list(outside.iterdir()) == []


def test_a_linked_database_is_not_followed(checkout: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.sqlite"
    (checkout / ".git" / CACHE_DIR).mkdir()
    _database(checkout).symlink_to(target)
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put(_key(1), b"x")
        assert cache.get(_key(1)) is None
    assert not target.exists()


def test_a_linked_secret_is_replaced_not_followed(checkout: Path, tmp_path: Path) -> None:
    target = tmp_path / "someone-elses-secret"
    target.write_bytes(b"k" * 32)
    (checkout / ".git" / CACHE_DIR).mkdir()
    (checkout / ".git" / CACHE_DIR / SECRET).symlink_to(target)
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put(_key(1), b"x")
        assert cache.get(_key(1)) == b"x"
    assert target.read_bytes() == b"k" * 32
    assert not (checkout / ".git" / CACHE_DIR / SECRET).is_symlink()


def test_nothing_is_written_outside_the_git_directory(checkout: Path, tmp_path: Path) -> None:
    (tmp_path / "neighbour").mkdir()
    (tmp_path / "neighbour" / "file").write_text("n")
    before = _tree(tmp_path)
    with Cache.for_repository(checkout, generator=GENERATOR, max_bytes=50_000) as cache:
        cache.put_many({_key(i): _value(i) for i in range(200)})  # evicts too
        cache.get_many([_key(i) for i in range(300)])
    after = _tree(tmp_path)
    new = {path for path in after if path not in before}
    assert new and all(p.startswith(f"repo/.git/{CACHE_DIR}") for p in new), sorted(new)
    assert {p: v for p, v in after.items() if p in before} == before


def test_the_disabled_cache_reads_and_writes_nothing(checkout: Path) -> None:
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put(_key(1), b"stored")
    before = _tree(checkout)
    disabled = Cache.disabled()
    assert not disabled.enabled and disabled.directory is None and "--no-cache" in disabled.reason
    disabled.put_many({_key(2): b"y"})
    assert disabled.get(_key(1)) is None and disabled.get_many([_key(1), _key(2)]) == {}
    assert disabled.stats().written == 0 and disabled.stats().hits == 0
    assert _tree(checkout) == before


def test_the_size_is_bounded_least_recently_used_first(checkout: Path) -> None:
    value = b"v" * 1000
    with Cache.for_repository(checkout, generator=GENERATOR, max_bytes=20_000) as cache:
        cache.put_many({_key(i): value for i in range(15)})
        # The first fifteen were last used long ago, entry 0 longest ago...
        _update(checkout, "UPDATE entries SET used = 2 WHERE key != ?", _key(0))
        _update(checkout, "UPDATE entries SET used = 1 WHERE key = ?", _key(0))
        # ...but entry 14 is read now, which counts as a use.
        assert cache.get(_key(14)) == value
        cache.put_many({_key(i): value for i in range(15, 25)})
        kept = cache.get_many([_key(i) for i in range(25)])
    assert sum(len(v) for v in kept.values()) <= 20_000
    assert _key(0) not in kept
    assert all(_key(i) in kept for i in range(14, 25))  # the recently used survive


def test_a_database_locked_by_another_build_is_a_miss_not_an_error(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cachedb, "BUSY_TIMEOUT_SECONDS", 0.05)
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put(_key(1), b"before")
    other = sqlite3.connect(_database(checkout), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with Cache.for_repository(checkout, generator=GENERATOR) as cache:
            cache.put(_key(2), b"while locked")  # gives up quietly
            assert cache.get(_key(1)) in (None, b"before")
            assert cache.stats().written == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        assert cache.enabled
        assert cache.get_many([_key(1), _key(2)]) == {_key(1): b"before"}


def test_two_builds_writing_at_once_leave_a_sound_cache(checkout: Path) -> None:
    errors: list[BaseException] = []

    def build(offset: int) -> None:
        try:
            for round_ in range(5):
                with Cache.for_repository(checkout, generator=GENERATOR) as cache:
                    start = offset + round_ * 100
                    cache.put_many({_key(i): _value(i) for i in range(start, start + 100)})
                    cache.get_many([_key(i) for i in range(0, 2000)])
        except BaseException as exc:  # the cache must never raise
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(o,)) for o in (0, 1000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        found = cache.get_many([_key(i) for i in range(2000)])
    # Whatever each build managed to store is there and authentic; nothing else is.
    assert found == {k: _value(i) for i in range(2000) if (k := _key(i)) in found}
    assert len(found) > 0
    with sqlite3.connect(_database(checkout)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.slow  # forks
def test_a_forked_child_opens_its_own_connection(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Path] = []
    connect = cachedb.connect

    def counting(path: Path) -> sqlite3.Connection:
        opened.append(path)
        return connect(path)

    monkeypatch.setattr(cachedb, "connect", counting)
    with Cache.for_repository(checkout, generator=GENERATOR) as cache:
        cache.put(_key(1), b"parent")
        assert len(opened) == 1
        pid = os.fork()
        if pid == 0:  # the child: its own connection, never the parent's
            code = 1
            try:
                cache.put(_key(2), b"child")
                both = {_key(1): b"parent", _key(2): b"child"}
                code = 0 if len(opened) == 2 and cache.get_many(both) == both else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert cache.get(_key(2)) == b"child"
        assert len(opened) == 1  # the parent kept its own
