"""`read_records`: the decision records of a log, in order, from a given record on.

For the service's catch-up (records the outbox has not seen yet) and for
replay. It reads what is there without judging it — `verify_log` judges — but
it never hands on a line it cannot read as a decision: a damaged line is a
`CheckFailed` naming it. A cut last line (a write in progress, or a crash not
yet recovered) ends the records. Segments wholly before `after_seq` are
skipped by their first record.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mu.generator.decisionlog.chain import parse_line
from mu.generator.decisionlog.codec import Committed, committed
from mu.generator.decisionlog.segments import Unreadable, first_line, list_segments, read_lines
from mu.generator.errors import CheckFailed

_HINT = "run `mu decisions verify DIR` to see what is wrong with the log"
_FIELDS = ("decision_id", "time", "release", "tx_digest", "transaction", "outcome")


def read_records(directory: Path, after_seq: int = 0) -> Iterator[Committed]:
    """The decision records of the log at `directory` with `seq` > `after_seq`, in order.

    `InputError` when the directory cannot be listed; `CheckFailed` at a line that is
    not a readable record.
    """
    segments = list_segments(directory).segments
    numbers = list(segments)
    start = 0
    for index, number in enumerate(numbers):
        first = first_line(segments[number])
        parsed = parse_line(first)[0] if first else None
        seq = parsed.get("seq") if parsed else None
        if isinstance(seq, int) and seq <= after_seq + 1:
            start = index
    for number in numbers[start:]:
        path = segments[number]
        try:
            for raw in read_lines(path):
                if raw.status == "cut":
                    return
                where = f"`{path}` line {raw.number}"
                if raw.status == "long":
                    raise CheckFailed(f"{where} is longer than a record may be", hint=_HINT)
                line, why = parse_line(raw.data)
                if line is None:
                    raise CheckFailed(f"{where} {why}", hint=_HINT)
                seq = line.get("seq")
                if not isinstance(seq, int) or line.get("kind") != "decision" or seq <= after_seq:
                    continue
                if (
                    not all(name in line for name in _FIELDS)
                    or not isinstance(line.get("reasons"), list)
                    or not isinstance(line.get("actions"), list)
                ):
                    raise CheckFailed(f"{where} is not a complete decision record", hint=_HINT)
                yield committed(line, raw.data)
        except Unreadable as exc:
            raise CheckFailed(f"segment `{path}` {exc.reason}", hint=_HINT) from None
