"""A hostile or damaged outbox file gives an `InputError` with a hint, never a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.outbox import Outbox, deliveries_for
from tests.unit.outbox.helpers import LEDGER, NOTIFY, Record, config

T0 = 1_700_000_000.0


def made(tmp_path: Path) -> Path:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox.open(path)
    box.enqueue(deliveries_for(Record(actions=(LEDGER, NOTIFY)), config()), 1, now=T0)
    claim = box.claim(now=T0)
    assert claim is not None
    box.fail(claim.rowid, "boom", retry_at=None, now=T0)
    box.close()
    return path


def tamper(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def refused(path: Path, use: Callable[[Outbox], object] = Outbox.status) -> InputError:
    with pytest.raises(InputError) as caught:
        box = Outbox.open(path, create=False)
        try:
            use(box)
        finally:
            box.close()
    assert caught.value.hint
    return caught.value


@pytest.mark.parametrize(
    "content",
    [b"", b"not a database at all\n" * 100, b"SQLite format 3\x00" + b"\xff" * 4000],
)
def test_files_that_are_not_outboxes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(content)
    refused(path)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a regular file"):
        Outbox.open(tmp_path)


def test_a_truncated_outbox(tmp_path: Path) -> None:
    path = made(tmp_path)
    data = path.read_bytes()
    for wal in tmp_path.glob("outbox.sqlite3-*"):
        wal.unlink()
    path.write_bytes(data[: len(data) // 2])
    refused(path)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE extra (x)",
        "CREATE VIEW v AS SELECT 1",
        "CREATE TRIGGER t AFTER UPDATE ON deliveries BEGIN DELETE FROM meta; END",
        "DROP INDEX deliveries_ready",
        "UPDATE meta SET value = 'mu-outbox/9' WHERE name = 'format'",
        "CREATE TABLE other (a)",
    ],
)
def test_a_different_schema_is_refused(tmp_path: Path, statement: str) -> None:
    path = made(tmp_path)
    tamper(path, statement)
    err = refused(path)
    assert "not an outbox" in err.message


def test_a_foreign_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    tamper(path, "CREATE TABLE deliveries (key)")
    refused(path)


@pytest.mark.parametrize(
    ("statement", "column"),
    [
        ("UPDATE deliveries SET state = 'lost' WHERE state = 'dead'", "state"),
        ("UPDATE deliveries SET channel = 'pigeon' WHERE state = 'dead'", "channel"),
        ("UPDATE deliveries SET attempts = -3 WHERE state = 'dead'", "attempts"),
        ("UPDATE deliveries SET dead_at = 1e300 WHERE state = 'dead'", "dead_at"),
        ("UPDATE deliveries SET created_at = -1 WHERE state = 'dead'", "created_at"),
        ("UPDATE deliveries SET control_id = '' WHERE state = 'dead'", "control_id"),
        ("UPDATE deliveries SET key = printf('%.5000c', 'k') WHERE state = 'dead'", "key"),
        ("UPDATE meta SET value = 'lots' WHERE name = 'high_water'", "high_water"),
    ],
)
def test_damaged_values_are_named(tmp_path: Path, statement: str, column: str) -> None:
    path = made(tmp_path)
    tamper(path, statement)
    err = refused(path)
    assert "damaged" in err.message and f"`{column}`" in err.message


def test_control_characters_are_escaped_in_status(tmp_path: Path) -> None:
    path = made(tmp_path)
    tamper(path, "UPDATE deliveries SET last_error = 'a' || char(10) || 'forged: line' || "
                 "char(27) || '[31m' WHERE state = 'dead'")
    box = Outbox.open(path, create=False)
    (dead,) = box.status().dead
    box.close()
    assert "\n" not in dead.error and "\x1b" not in dead.error
    assert dead.error.startswith("a forged: line\\u001b")


def test_a_huge_value_is_refused_not_read(tmp_path: Path) -> None:
    path = made(tmp_path)
    tamper(path, "UPDATE deliveries SET last_error = printf('%.5000000c', 'x') "
                 "WHERE state = 'dead'")
    refused(path)


@pytest.mark.parametrize(
    "payload",
    ["not json", '{"targets": "x"}', "[1]", '{"targets": [1]}', '{"a": 1, "a": 2}'],
)
def test_a_damaged_payload_is_claimed_as_damaged(tmp_path: Path, payload: str) -> None:
    path = made(tmp_path)
    tamper(path, "UPDATE deliveries SET state = 'pending', waiting = 0, next_at = 0",
           "DELETE FROM dependencies")
    db = sqlite3.connect(path)
    db.execute("UPDATE deliveries SET payload = ? WHERE key LIKE '%/smtp'", (payload,))
    db.commit()
    db.close()
    box = Outbox.open(path, create=False)
    claims = [box.claim(now=T0) for _ in range(3)]
    box.close()
    damaged = [c for c in claims if c is not None and c.delivery is None]
    assert len(damaged) == 1 and damaged[0].problem and "payload" in damaged[0].problem
