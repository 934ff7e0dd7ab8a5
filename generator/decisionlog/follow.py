"""`LogFollower`: the decision records appended to a log since the last look, read by offset.

The delivery process follows the log the service writes, so that filling the
outbox costs the deciding process nothing: it starts with `read_records`
(every record after the outbox's high-water mark), then reads only the bytes
appended since, segment by segment. A line still being written (no newline
yet) is left for the next look. The writer is the judge of the chain and
`verify_log` of the whole log; the follower only refuses lines it cannot read
as records, like `read_records`.
"""

from __future__ import annotations

import os
from pathlib import Path

from mu.generator.decisionlog.chain import parse_line
from mu.generator.decisionlog.codec import Committed, committed
from mu.generator.decisionlog.reader import read_records
from mu.generator.decisionlog.segments import list_segments
from mu.generator.errors import CheckFailed

_CHUNK = 1024 * 1024
_MAX_LINE = 1024 * 1024
_HINT = "run `mu decisions verify DIR` to see what is wrong with the log"


class LogFollower:
    """Reads the decision records of `directory` after `after_seq`, then what is appended."""

    def __init__(self, directory: Path, after_seq: int) -> None:
        self.directory = directory
        self.last_seq = after_seq
        self._segment: int | None = None  # the segment being followed, once caught up
        self._offset = 0
        self._partial = b""

    def poll(self, limit: int = 10_000) -> list[Committed]:
        """The decision records appended since the last call (at most about `limit`)."""
        if self._segment is None:
            return self._catch_up(limit)
        out: list[Committed] = []
        while len(out) < limit:
            read = self._read_more(out)
            if read:
                continue
            following = self._next_segment()
            if following is None:
                break
            self._segment, self._offset, self._partial = following, 0, b""
        return out

    def _catch_up(self, limit: int) -> list[Committed]:
        """The first look: `read_records`, then follow the newest segment from its end."""
        listing = list_segments(self.directory)
        if not listing.segments:
            return []
        newest = max(listing.segments)
        size = os.path.getsize(listing.segments[newest])
        out = [r for r in read_records(self.directory, after_seq=self.last_seq)]
        # Records appended while we read are read again from `size`; skip what we have.
        if out:
            self.last_seq = out[-1].seq
        self._segment, self._offset = newest, _line_start(listing.segments[newest], size)
        out += self.poll(limit)
        return out

    def _path(self, number: int) -> Path:
        return list_segments(self.directory).segments.get(number) or Path("/nonexistent")

    def _read_more(self, out: list[Committed]) -> bool:
        """Read the bytes appended to the current segment; whether there were any."""
        assert self._segment is not None
        path = self._path(self._segment)
        try:
            with open(path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read(_CHUNK)
        except OSError:
            return False
        if not data:
            return False
        self._offset += len(data)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        if len(self._partial) > _MAX_LINE:
            raise CheckFailed(f"`{path}` holds a line longer than a record may be", hint=_HINT)
        for raw in lines:
            record = self._record(raw, path)
            if record is not None and record.seq > self.last_seq:
                out.append(record)
                self.last_seq = record.seq
        return True

    def _record(self, raw: bytes, path: Path) -> Committed | None:
        line, why = parse_line(raw)
        if line is None:
            raise CheckFailed(f"`{path}` has a line that {why}", hint=_HINT)
        if line.get("kind") != "decision" or not isinstance(line.get("seq"), int):
            return None
        return committed(line, raw)

    def _next_segment(self) -> int | None:
        """The segment after the current one, once the writer rotated to it."""
        assert self._segment is not None
        later = [n for n in list_segments(self.directory).segments if n > self._segment]
        return min(later) if later else None


def _line_start(path: Path, size: int) -> int:
    """Where the line holding byte `size` starts: what was read up to `size` whole, and the
    line cut at `size` is read again in full by the next poll."""
    if size == 0:
        return 0
    with open(path, "rb") as handle:
        back = max(0, size - _MAX_LINE)
        handle.seek(back)
        data = handle.read(size - back)
    cut = data.rfind(b"\n")
    return back + cut + 1 if cut >= 0 else back
