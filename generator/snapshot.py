"""Ontology snapshots: O, the organisation's Σ and the golden suite in one
content-addressed file, so a build can be replayed without git and without
`ontology/` (docs/RECEIPTS.md).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from generator.errors import CheckFailed, InputError
from generator.hashing import canonical_json, sha256_hex
from generator.layout import Layout, sorted_files

FORMAT = "urn:mu:v1#Snapshot"
ROOTS = ("ontology", "golden")


@dataclass(frozen=True)
class SnapshotRef:
    """Where a snapshot lives (relative to the repository root) and its sha256."""

    path: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        """As recorded in receipts."""
        return {"path": self.path, "sha256": self.sha256}


def collect(layout: Layout) -> dict[str, str]:
    """The snapshot's files: `ontology/**/*.ttl` and `golden/**/*.toml`, as text."""
    files: dict[str, str] = {}
    for root, pattern in (("ontology", "*.ttl"), ("golden", "*.toml")):
        base = layout.root / root
        for path in sorted_files(base, pattern):
            rel = f"{root}/{path.relative_to(base).as_posix()}"
            try:
                files[rel] = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"`{rel}` is not UTF-8", hint="save it as UTF-8") from exc
    return dict(sorted(files.items()))


def encode(files: dict[str, str]) -> bytes:
    """The snapshot file's bytes: canonical JSON, so equal content gives equal bytes."""
    return canonical_json({"format": FORMAT, "files": files})


def write_snapshot(layout: Layout, files: dict[str, str]) -> SnapshotRef:
    """Store the snapshot under `receipts/snapshots/<sha256>.json` (idempotent, atomic)."""
    data = encode(files)
    digest = sha256_hex(data)
    directory = layout.receipts / "snapshots"
    target = directory / f"{digest}.json"
    if not target.is_file() or target.read_bytes() != data:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".snapshot-", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    return SnapshotRef(target.relative_to(layout.root).as_posix(), digest)


def safe_path(rel: str) -> bool:
    """A relative POSIX path under `ontology/` or `golden/` that cannot escape a directory."""
    path = PurePosixPath(rel)
    return (
        not path.is_absolute()
        and ".." not in path.parts
        and len(path.parts) >= 2
        and path.parts[0] in ROOTS
        and "\\" not in rel
    )


def read_snapshot(root: Path, ref: SnapshotRef) -> dict[str, str]:
    """Read and check a snapshot: its sha256 must match `ref`, its paths must be safe."""
    path = root / ref.path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckFailed(
            f"snapshot `{ref.path}` is missing",
            hint="snapshots live in `receipts/snapshots/`; restore it from the repository",
        ) from exc
    actual = sha256_hex(data)
    if actual != ref.sha256:
        raise CheckFailed(
            f"snapshot `{ref.path}` has been altered: sha256 {actual[:12]}…, "
            f"the receipt records {ref.sha256[:12]}…",
            hint="the snapshot no longer matches what was signed; restore the original",
        )
    try:
        doc = json.loads(data)
        files = doc["files"]
        ok = doc.get("format") == FORMAT and isinstance(files, dict)
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise CheckFailed(f"snapshot `{ref.path}` is not a mu snapshot")
    unsafe = sorted(k for k in files if not safe_path(k))
    if unsafe:
        raise CheckFailed(f"snapshot `{ref.path}` names unsafe paths: {', '.join(unsafe)}")
    return dict(sorted(files.items()))


def extract(files: dict[str, str], target: Path) -> Layout:
    """Write a snapshot's files under `target`, giving a replayable repository layout."""
    for rel, text in sorted(files.items()):
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return Layout(target)
