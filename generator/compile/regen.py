"""A second, independent compile in a fresh process, for the determinism gate.

`python -m mu.generator.compile.regen ONTOLOGY_DIR [WAIVED]` compiles from
scratch and sends every byte it rendered back on its standard output; the
determinism gate runs it under another `PYTHONHASHSEED` and compares every
byte with what the first process rendered. `WAIVED` (JSON
`[[shape, focus], …]`) lets through the violations a compliance override
lifted, exactly as the first compile did.

The stream is one JSON line — the semantic digest and each file's path and
length, in sorted order — followed by the files' bytes, back to back. No tree
is written to disk and read back: the parent reads the pipe while it compiles.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from mu.generator.compile.pipeline import compile_ontology
from mu.generator.compile.validate import ViolationKey
from mu.generator.errors import MuError


@dataclass(frozen=True)
class Rendered:
    """What a second compile sent back: its semantic digest and every file it rendered."""

    semantic_digest: str
    files: dict[str, bytes]


def encode(semantic_digest: str, files: Mapping[str, bytes]) -> Iterator[bytes]:
    """The stream `decode` reads: a JSON header line, then each file's bytes in its order."""
    paths = sorted(files)
    header = {"semantic_digest": semantic_digest, "files": [[p, len(files[p])] for p in paths]}
    yield json.dumps(header, sort_keys=True).encode("utf-8") + b"\n"
    for path in paths:
        yield files[path]


def decode(stream: bytes) -> Rendered:
    """Read what `encode` wrote; ValueError unless the stream is exactly that, no more."""
    line, newline, body = stream.partition(b"\n")
    if not newline:
        raise ValueError("no header line")
    try:
        header = json.loads(line)
        digest, entries = header["semantic_digest"], header["files"]
        sizes = [(str(path), int(size)) for path, size in entries]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed header: {exc}") from exc
    if not isinstance(digest, str) or any(size < 0 for _, size in sizes):
        raise ValueError("malformed header")
    files: dict[str, bytes] = {}
    offset = 0
    for path, size in sizes:
        if path in files:
            raise ValueError(f"`{path}` sent twice")
        files[path] = body[offset : offset + size]
        offset += size
    if offset != len(body):
        raise ValueError(f"{len(body)} bytes of files, the header names {offset}")
    return Rendered(digest, files)


def _exit_with_parent() -> None:
    """Exit at once when standard input ends: the parent keeps it open (never writing) for
    as long as it wants this compile, so end of file means it stopped or died."""
    try:
        # The raw descriptor, not `sys.stdin`: a buffered reader's lock, held by this
        # daemon thread, would abort the interpreter's shutdown after a normal exit.
        while os.read(0, 65536):
            pass
    finally:
        os._exit(3)


def main(argv: list[str]) -> int:
    """Compile `argv[0]` (waiving `argv[1]`); write `encode`'s stream to standard output."""
    out = sys.stdout.buffer
    # Only the stream goes to the parent: anything a library prints goes to stderr.
    sys.stdout = sys.stderr
    try:
        pairs = json.loads(argv[1]) if len(argv) > 1 else []
        waived = frozenset(ViolationKey(str(shape), str(focus)) for shape, focus in pairs)
        compiled = compile_ontology(Path(argv[0]), waived=waived)
    except MuError as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return exc.code
    out.writelines(encode(compiled.semantic_digest, compiled.files))
    out.flush()
    return 0


if __name__ == "__main__":
    # Only as the gate's child: in-process callers (tests) keep their standard input.
    threading.Thread(target=_exit_with_parent, name="mu-parent-watch", daemon=True).start()
    sys.exit(main(sys.argv[1:]))
