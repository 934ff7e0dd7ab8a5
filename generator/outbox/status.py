"""What `mu actions status` shows, and the checks every value read from an outbox passes.

The outbox file is input like any other: another process, a disk error or a
hostile hand may have written it. Every value read back is checked for its
type and range here, and every string is bounded and made printable, so a
damaged file gives an `InputError` naming the row and column (or, in the
workers, a dead letter saying so), never a traceback, a flood, or a forged
line in a report.

Times are seconds since the epoch (UTC), as `time.time()` gives them;
`iso_time` renders one.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mu.generator.errors import InputError
from mu.generator.jsonread import loads_strict

STATES = ("pending", "inflight", "delivered", "dead")
MAX_LISTED = 100  # dead letters, held and recovered deliveries shown by status
MAX_WAITS_LISTED = 20  # dependencies shown per held delivery
MAX_KEY = 1024
MAX_ERROR = 500
MAX_TARGETS = 1000  # recipients or ledgers of one action
MAX_PAYLOAD = 4 * 1024 * 1024
MAX_TIME = 1e11  # about the year 5138: beyond, a time is damage, not a date
DAMAGED_HINT = (
    "move the outbox aside and restart the service: it enqueues again from the decision log, "
    "and receivers drop repeats by their idempotency key"
)
HEARTBEAT_SECONDS = 1.0  # how often a running supervisor writes its heartbeat
# A heartbeat older than this: the supervisor's workers are dead or stuck, or its process gone.
HEARTBEAT_STALE_SECONDS = 10.0
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


@dataclass(frozen=True)
class DeadLetter:
    """A delivery that failed `max_attempts` times in a row; `mu actions retry` revives it."""

    key: str
    channel: str
    control_id: str
    attempts: int  # in the last round
    total_attempts: int  # over every round
    retries: int  # how often `mu actions retry` revived it
    error: str
    created_at: float
    first_attempt_at: float | None
    last_attempt_at: float | None
    dead_at: float | None


@dataclass(frozen=True)
class Wait:
    """A dependency a held delivery waits for, and its state (`missing` if not in the outbox)."""

    key: str
    state: str


@dataclass(frozen=True)
class Held:
    """A pending delivery held back because a delivery it depends on is not delivered yet."""

    key: str
    channel: str
    control_id: str
    created_at: float
    waits: tuple[Wait, ...]


@dataclass(frozen=True)
class Recovered:
    """A delivery that got through after failing: "delivered after N attempts, X s late"."""

    key: str
    channel: str
    control_id: str
    total_attempts: int
    retries: int
    created_at: float
    delivered_at: float
    last_error: str  # the last failure before it got through

    @property
    def late_seconds(self) -> float:
        """How long after the decision it was delivered."""
        return max(0.0, self.delivered_at - self.created_at)


@dataclass(frozen=True)
class OutboxStatus:
    """The outbox at one moment: counts, dead letters, held and recovered deliveries.

    `counts` maps state → channel → number of deliveries. The listed dead
    letters, held and recovered deliveries are the newest (held: oldest)
    `MAX_LISTED`; the `*_total` fields count all of them.
    """

    path: str
    high_water: int  # the greatest decision-log sequence number enqueued
    counts: Mapping[str, Mapping[str, int]]
    dead: tuple[DeadLetter, ...]
    dead_total: int
    held: tuple[Held, ...]
    held_total: int
    recovered: tuple[Recovered, ...]
    recovered_total: int
    oldest_pending_at: float | None

    def total(self, state: str) -> int:
        """How many deliveries are in `state`, over every channel."""
        return sum(self.counts.get(state, {}).values())


@dataclass(frozen=True)
class Heartbeat:
    """The last sign of life of the supervisor draining an outbox: when, and its process.

    Written every `HEARTBEAT_SECONDS` while all its workers are alive, removed
    when it stops; read from another process to see that delivery runs.
    """

    time: float  # seconds since the epoch
    pid: int

    def age(self, now: float | None = None) -> float:
        """Seconds since it was written (never negative)."""
        return max(0.0, (time.time() if now is None else now) - self.time)

    def fresh(self, within: float = HEARTBEAT_STALE_SECONDS, *,
              now: float | None = None) -> bool:
        """Whether it was written in the last `within` seconds."""
        return self.age(now) < within


def heartbeat(path: str, value: object) -> Heartbeat:
    """The heartbeat stored as `value` (`"<time> <pid>"`) in `meta`."""
    parts = value.split(" ") if isinstance(value, str) and len(value) < 64 else []
    try:
        moment, pid = (float(parts[0]), int(parts[1])) if len(parts) == 2 else (-1.0, 0)
    except ValueError:
        moment, pid = -1.0, 0
    if not (math.isfinite(moment) and 0 <= moment < MAX_TIME and 0 < pid < 2**31):
        raise Row(path, "meta", {}).damaged("heartbeat", "no time and process id")
    return Heartbeat(moment, pid)


def iso_time(seconds: float) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) for seconds since the epoch."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def printable(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters, control characters escaped."""
    if len(text) > limit:
        text = text[:limit] + "…"
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def one_line(text: str, limit: int = MAX_ERROR) -> str:
    """An error message as recorded: white space runs folded into one space, bounded."""
    return printable(" ".join(text.split()), limit)


class Row:
    """One row read from the outbox, whose values are checked as they are taken."""

    def __init__(self, path: str, table: str, values: Mapping[str, Any]) -> None:
        self._path = path
        self._table = table
        self._values = values
        key = values.get("key")
        self._where = (
            f"row `{printable(key, 80)}`" if isinstance(key, str) else f"a row of `{table}`"
        )

    def damaged(self, column: str, what: str) -> InputError:
        """The error for a bad value in `column`."""
        return InputError(
            f"the outbox `{self._path}` is damaged: {self._where} has {what} in `{column}`",
            hint=DAMAGED_HINT,
        )

    def text(self, column: str, limit: int = MAX_KEY) -> str:
        """A non-empty string, made printable."""
        value = self._values.get(column)
        if not isinstance(value, str) or not value or len(value) > limit:
            raise self.damaged(column, f"no string of 1 to {limit} characters")
        return printable(value, limit)

    def choice(self, column: str, allowed: tuple[str, ...]) -> str:
        """One of `allowed`."""
        value = self._values.get(column)
        if value not in allowed:
            raise self.damaged(column, f"none of {', '.join(allowed)}")
        return str(value)

    def count(self, column: str) -> int:
        """An integer from 0 to 2**31."""
        value = self._values.get(column)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**31:
            raise self.damaged(column, "no count")
        return value

    def time(self, column: str) -> float:
        """Seconds since the epoch."""
        value = self._values.get(column)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value < MAX_TIME
        ):
            raise self.damaged(column, "no time")
        return float(value)

    def optional_time(self, column: str) -> float | None:
        """Seconds since the epoch, or None (NULL)."""
        return None if self._values.get(column) is None else self.time(column)

    def error(self, column: str = "last_error") -> str:
        """A recorded error message (possibly empty), bounded and printable."""
        value = self._values.get(column)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.damaged(column, "no text")
        return one_line(value[: MAX_ERROR * 4])


def dead_letter(row: Row) -> DeadLetter:
    """A dead letter from a checked row."""
    return DeadLetter(
        key=row.text("key"),
        channel=row.text("channel", 64),
        control_id=row.text("control_id"),
        attempts=row.count("attempts"),
        total_attempts=row.count("total_attempts"),
        retries=row.count("retries"),
        error=row.error(),
        created_at=row.time("created_at"),
        first_attempt_at=row.optional_time("first_attempt_at"),
        last_attempt_at=row.optional_time("last_attempt_at"),
        dead_at=row.optional_time("dead_at"),
    )


def recovered(row: Row) -> Recovered:
    """A recovered delivery from a checked row."""
    return Recovered(
        key=row.text("key"),
        channel=row.text("channel", 64),
        control_id=row.text("control_id"),
        total_attempts=row.count("total_attempts"),
        retries=row.count("retries"),
        created_at=row.time("created_at"),
        delivered_at=row.time("delivered_at"),
        last_error=row.error(),
    )


def payload(row: Row) -> dict[str, Any]:
    """The payload JSON of a row: an object whose `targets` is a bounded list of strings."""
    raw = row.text("payload", MAX_PAYLOAD)
    try:
        value = loads_strict(raw)
    except (ValueError, RecursionError):
        raise row.damaged("payload", "no JSON") from None
    targets = value.get("targets") if isinstance(value, dict) else None
    if (
        not isinstance(targets, list)
        or len(targets) > MAX_TARGETS
        or not all(isinstance(t, str) and 0 < len(t) <= MAX_KEY for t in targets)
    ):
        raise row.damaged("payload", "no list of targets")
    assert isinstance(value, dict)
    return value
