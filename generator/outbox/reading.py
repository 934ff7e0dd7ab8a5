"""Reading the outbox back: status, counts, the heartbeat, and claimed rows as deliveries.

Functions of an open connection (the `Outbox` holds its lock and turns
SQLite's errors into `InputError`s around them). Every value read passes the
checks of `status.Row`, so a damaged file gives an error naming the row and
column, or a claim carrying its problem, never a guess.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mu.generator.errors import InputError
from mu.generator.outbox import status as st
from mu.generator.outbox.config import CHANNELS
from mu.generator.outbox.plan import KINDS, Delivery

COLUMNS = (
    "rowid, key, idempotency_key, seq, channel, kind, control_id, payload, state, attempts, "
    "total_attempts, retries, created_at, next_at, first_attempt_at, last_attempt_at, "
    "delivered_at, dead_at, last_error"
)
_NAMES = tuple(name.strip() for name in COLUMNS.split(","))
# Delivered after failures (by the partial index: the planner would scan every delivery).
_RECOVERED = (
    "INDEXED BY deliveries_recovered WHERE state = 'delivered' AND total_attempts > 1"
)
_HELD = "WHERE state = 'pending' AND waiting > 0"


@dataclass(frozen=True)
class Claim:
    """A delivery a worker took (now `inflight`); `attempt` counts this round's attempts.

    `delivery` is None when the row is damaged; `problem` then says how, and
    the worker makes it a dead letter instead of delivering a guess.
    """

    rowid: int
    attempt: int
    delivery: Delivery | None
    problem: str | None = None


def row(shown: str, values: Sequence[Any]) -> st.Row:
    """A row of `deliveries` read as `COLUMNS`."""
    return st.Row(shown, "deliveries", dict(zip(_NAMES, values, strict=True)))


def high_water(db: sqlite3.Connection, shown: str) -> int:
    """The greatest decision-log sequence number enqueued (0 when none)."""
    value = db.execute("SELECT value FROM meta WHERE name = 'high_water'").fetchall()
    text = value[0][0] if value else "0"
    if not isinstance(text, str) or not text.isdigit() or len(text) > 18:
        raise st.Row(shown, "meta", {}).damaged("high_water", "no sequence number")
    return int(text)


def heartbeat(db: sqlite3.Connection, shown: str) -> st.Heartbeat | None:
    """The supervisor's last heartbeat, or None when none runs (or ever ran)."""
    value = db.execute("SELECT value FROM meta WHERE name = 'heartbeat'").fetchall()
    return st.heartbeat(shown, value[0][0]) if value else None


def counts(db: sqlite3.Connection) -> dict[str, int]:
    """Deliveries by state, plus `held`."""
    out = dict.fromkeys(st.STATES, 0)
    for state, count in db.execute(
        "SELECT state, COUNT(*) FROM deliveries GROUP BY state LIMIT 64"
    ):
        if state in out and isinstance(count, int):
            out[state] = count
    out["held"] = _count(db, _HELD)
    return out


def status(db: sqlite3.Connection, shown: str) -> st.OutboxStatus:
    """Counts by state and channel, dead letters, held and recovered deliveries."""
    by_state: dict[str, dict[str, int]] = {}
    for state, channel, count in db.execute(
        "SELECT state, channel, COUNT(*) FROM deliveries GROUP BY state, channel LIMIT 64"
    ):
        checked = st.Row(shown, "deliveries", {"state": state, "channel": channel})
        by_state.setdefault(checked.choice("state", st.STATES), {})[
            checked.choice("channel", CHANNELS)] = count
    dead = [st.dead_letter(r) for r in _rows(db, shown, "WHERE state = 'dead' "
                                                      "ORDER BY dead_at DESC")]
    held = [_held(db, r) for r in _rows(db, shown, f"{_HELD} ORDER BY created_at")]
    recovered = [st.recovered(r) for r in _rows(db, shown, f"{_RECOVERED} "
                                                          "ORDER BY delivered_at DESC")]
    oldest = db.execute(
        "SELECT min(created_at) FROM deliveries WHERE state IN ('pending', 'inflight')"
    ).fetchone()
    oldest_row = st.Row(shown, "deliveries", {"created_at": oldest[0]})
    return st.OutboxStatus(
        path=shown,
        high_water=high_water(db, shown),
        counts=by_state,
        dead=tuple(dead),
        dead_total=_count(db, "WHERE state = 'dead'"),
        held=tuple(held),
        held_total=_count(db, _HELD),
        recovered=tuple(recovered),
        recovered_total=_count(db, _RECOVERED),
        oldest_pending_at=oldest_row.optional_time("created_at"),
    )


def claimed(db: sqlite3.Connection, shown: str, rows: Sequence[Sequence[Any]]) -> list[Claim]:
    """The claims of rows just taken (read as `COLUMNS`); a damaged row is claimed with its
    problem."""
    keys = [r[1] for r in rows if isinstance(r[1], str)]
    after: dict[str, list[str]] = {}
    for first in range(0, len(keys), 500):
        chunk = keys[first:first + 500]
        for key, dependency in db.execute(
            f"SELECT key, after FROM dependencies WHERE key IN ({', '.join('?' * len(chunk))})",
            chunk,
        ):
            if isinstance(dependency, str):
                after.setdefault(key, []).append(dependency)
    return [_claim(row(shown, r), after) for r in rows]


def _claim(taken: st.Row, dependencies: dict[str, list[str]]) -> Claim:
    rowid, attempt = taken.count("rowid"), taken.count("attempts")
    try:
        key = taken.text("key")
        payload = st.payload(taken)
        after = tuple(dependencies.get(key, ())[:1000])
        delivery = Delivery(
            key=key,
            idempotency_key=taken.text("idempotency_key"),
            seq=taken.count("seq"),
            channel=taken.choice("channel", CHANNELS),
            kind=taken.choice("kind", KINDS),
            control_id=taken.text("control_id"),
            targets=tuple(payload["targets"]),
            after=after,
            payload=payload,
        )
    except InputError as exc:
        return Claim(rowid, attempt, None, exc.message)
    return Claim(rowid, attempt, delivery)


def _count(db: sqlite3.Connection, clause: str) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM deliveries {clause}").fetchone()[0])


def _rows(db: sqlite3.Connection, shown: str, clause: str) -> list[st.Row]:
    query = f"SELECT {COLUMNS} FROM deliveries {clause} LIMIT {st.MAX_LISTED}"
    return [row(shown, values) for values in db.execute(query)]


def _held(db: sqlite3.Connection, held: st.Row) -> st.Held:
    key = held.text("key")
    waits = [
        st.Wait(st.printable(after, st.MAX_KEY) if isinstance(after, str) else "?",
                state if state in st.STATES else "missing")
        for after, state in db.execute(
            "SELECT p.after, q.state FROM dependencies p LEFT JOIN deliveries q "
            "ON q.key = p.after WHERE p.key = ? AND (q.state IS NULL OR "
            f"q.state != 'delivered') LIMIT {st.MAX_WAITS_LISTED}",
            (key,),
        )
    ]
    return st.Held(key, held.text("channel", 64), held.text("control_id"),
                   held.time("created_at"), tuple(waits))
