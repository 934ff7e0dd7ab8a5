"""Renderers for `mu actions status` and `mu actions retry`. Pure functions.

Times are shown in UTC (`iso_time`); every string in an `OutboxStatus` was
made printable and bounded when it was read from the outbox.
"""

from __future__ import annotations

from typing import Any

from mu.generator.outbox import DeadLetter, Held, OutboxStatus, Recovered, iso_time
from mu.generator.outbox.status import STATES
from mu.generator.reports.common import to_json


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else iso_time(seconds)


def _dead_dict(d: DeadLetter) -> dict[str, Any]:
    return {
        "key": d.key,
        "channel": d.channel,
        "control_id": d.control_id,
        "attempts": d.attempts,
        "total_attempts": d.total_attempts,
        "retries": d.retries,
        "error": d.error,
        "created_at": _time(d.created_at),
        "first_attempt_at": _time(d.first_attempt_at),
        "last_attempt_at": _time(d.last_attempt_at),
        "dead_at": _time(d.dead_at),
    }


def _held_dict(h: Held) -> dict[str, Any]:
    return {
        "key": h.key,
        "channel": h.channel,
        "control_id": h.control_id,
        "created_at": _time(h.created_at),
        "waits_for": [{"key": w.key, "state": w.state} for w in h.waits],
    }


def _recovered_dict(r: Recovered) -> dict[str, Any]:
    return {
        "key": r.key,
        "channel": r.channel,
        "control_id": r.control_id,
        "attempts": r.total_attempts,
        "retries": r.retries,
        "created_at": _time(r.created_at),
        "delivered_at": _time(r.delivered_at),
        "late_seconds": round(r.late_seconds, 3),
        "last_error": r.last_error,
    }


def status_dict(status: OutboxStatus) -> dict[str, Any]:
    """The outbox status as plain data."""
    totals = {state: status.total(state) for state in STATES}
    totals["held"] = status.held_total
    return {
        "outbox": status.path,
        "high_water": status.high_water,
        "counts": {state: dict(sorted(status.counts.get(state, {}).items())) for state in STATES},
        "totals": totals,
        "oldest_undelivered_at": _time(status.oldest_pending_at),
        "dead_letters": [_dead_dict(d) for d in status.dead],
        "dead_total": status.dead_total,
        "held": [_held_dict(h) for h in status.held],
        "held_total": status.held_total,
        "recovered": [_recovered_dict(r) for r in status.recovered],
        "recovered_total": status.recovered_total,
    }


def status_json(status: OutboxStatus) -> str:
    """`status_dict` as JSON (no final newline)."""
    return to_json(status_dict(status))


def _by_channel(status: OutboxStatus, state: str) -> str:
    channels = status.counts.get(state, {})
    if not channels:
        return ""
    return " (" + ", ".join(f"{c} {n}" for c, n in sorted(channels.items())) + ")"


def _more(shown: int, total: int) -> list[str]:
    return [f"  … and {total - shown} more"] if total > shown else []


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def status_text(status: OutboxStatus) -> str:
    """Counts first, then every dead letter, held and recovered delivery, newest first."""
    lines = [f"outbox `{status.path}` (decisions enqueued up to log record {status.high_water})"]
    for state in STATES:
        line = f"  {state:<9} {status.total(state)}{_by_channel(status, state)}"
        if state == "pending" and status.held_total:
            line += f", {status.held_total} held for a dependency"
        if state == "delivered" and status.recovered_total:
            line += f", {status.recovered_total} after failures"
        lines.append(line)
    if status.oldest_pending_at is not None:
        lines.append(f"  oldest undelivered since {iso_time(status.oldest_pending_at)}")
    if status.dead:
        lines.append(f"dead letters ({status.dead_total}):")
        for d in status.dead:
            dead_at = iso_time(d.dead_at) if d.dead_at is not None else "?"
            lines.append(f"  {d.key}: dead since {dead_at} after {d.attempts} attempt(s)"
                         + (f", retried {_times(d.retries)}" if d.retries else ""))
            lines.append(f"    error: {d.error or '-'}")
            if d.first_attempt_at is not None:
                lines.append(f"    tried from {iso_time(d.first_attempt_at)} to "
                             f"{iso_time(d.last_attempt_at or d.first_attempt_at)}")
        lines += _more(len(status.dead), status.dead_total)
    if status.held:
        lines.append(f"held for a dependency ({status.held_total}):")
        for h in status.held:
            waits = ", ".join(f"{w.key} ({w.state})" for w in h.waits) or "-"
            lines.append(f"  {h.key} waits for {waits}")
        lines += _more(len(status.held), status.held_total)
    if status.recovered:
        lines.append(f"recovered ({status.recovered_total}):")
        for r in status.recovered:
            line = (f"  {r.key}: delivered after {r.total_attempts} attempts, "
                    f"{r.late_seconds:.1f} s late")
            if r.retries:
                line += f" (revived {_times(r.retries)})"
            lines.append(line + (f"; last error: {r.last_error}" if r.last_error else ""))
        lines += _more(len(status.recovered), status.recovered_total)
    if status.dead_total:
        lines.append("hint: `mu actions retry` revives every dead letter, "
                     "`mu actions retry KEY` one of them")
    return "\n".join(lines)


def retry_dict(count: int) -> dict[str, Any]:
    """The result of a retry as plain data."""
    return {"retried": count}


def retry_json(count: int) -> str:
    """`retry_dict` as JSON (no final newline)."""
    return to_json(retry_dict(count))


def retry_text(count: int) -> str:
    """How many dead letters are pending again."""
    if count == 0:
        return "no dead letters to retry"
    return (f"{count} dead letter(s) pending again; a running service delivers them within "
            "a second, in dependency order")
