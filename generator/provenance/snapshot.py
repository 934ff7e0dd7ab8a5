"""Ontology snapshots: O, the organisation's Σ and the golden suite in one
content-addressed file, so a build can be replayed without git and without
`ontology/` (docs/RECEIPTS.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mu.generator.errors import CheckFailed, InputError
from mu.generator.files import write_file_atomic
from mu.generator.foreign import read_bounded
from mu.generator.hashing import canonical_json, sha256_hex
from mu.generator.jsonread import DuplicateKey, loads_strict
from mu.generator.layout import SNAPSHOTS, Layout, sorted_files
from mu.generator.paths import inside_repository, safe_relative

FORMAT = "urn:mu:v1#Snapshot"
ROOTS = ("ontology", "golden")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Far above any real ontology (10,000 controls make a few MiB), far below harm.
MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024


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
            except OSError as exc:
                raise InputError(
                    f"cannot read `{rel}`: {exc.strerror or exc}",
                    hint="make the file readable by the user running mu",
                ) from exc
    return dict(sorted(files.items()))


def encode(files: dict[str, str]) -> bytes:
    """The snapshot file's bytes: canonical JSON, so equal content gives equal bytes."""
    return canonical_json({"format": FORMAT, "files": files})


def write_snapshot(layout: Layout, files: dict[str, str]) -> SnapshotRef:
    """Store the snapshot under `receipts/snapshots/<sha256>.json` (idempotent, atomic)."""
    data = encode(files)
    digest = sha256_hex(data)
    target = layout.snapshots / f"{digest}.json"
    inside_repository(layout, target)
    if target.is_symlink() or not target.is_file() or target.read_bytes() != data:
        write_file_atomic(target, data)
    return SnapshotRef(target.relative_to(layout.root).as_posix(), digest)


def safe_path(rel: str) -> bool:
    """A relative POSIX path under `ontology/` or `golden/` that cannot escape a directory."""
    return safe_relative(rel) and len(rel.split("/")) >= 2 and rel.split("/")[0] in ROOTS


def expected_path(sha256: str) -> str:
    """Where the snapshot with this digest lives, relative to the repository root."""
    return f"{SNAPSHOTS}/{sha256}.json"


def read_snapshot(root: Path, ref: SnapshotRef) -> dict[str, str]:
    """Read and check a snapshot: its sha256 must match `ref`, its paths must be safe.

    The receipt names the snapshot, but only `receipts/snapshots/<its sha256>.json`
    is ever opened: a signed receipt pointing anywhere else (`/dev/zero`,
    `../../etc`) is refused before anything is read.
    """
    if not HEX64.match(ref.sha256) or ref.path != expected_path(ref.sha256):
        raise CheckFailed(
            f"the receipt names snapshot `{ref.path!s}`, not `{SNAPSHOTS}/<its sha256>.json`",
            hint="mu stores snapshots only there; this receipt was not written by mu",
        )
    try:
        data = read_bounded(
            root / ref.path, what="snapshot", limit=MAX_SNAPSHOT_BYTES, follow_links=False
        )
    except InputError as exc:
        # What the receipt points at is gone or replaced: the check fails (exit 1).
        raise CheckFailed(
            exc.message,
            hint="snapshots live in `receipts/snapshots/`; restore it from the repository",
        ) from None
    actual = sha256_hex(data)
    if actual != ref.sha256:
        raise CheckFailed(
            f"snapshot `{ref.path}` has been altered: sha256 {actual[:12]}…, "
            f"the receipt records {ref.sha256[:12]}…",
            hint="the snapshot no longer matches what was signed; restore the original",
        )
    why = ""
    try:
        doc = loads_strict(data)
        files = doc["files"]
        ok = doc.get("format") == FORMAT and isinstance(files, dict)
    except DuplicateKey as exc:  # two `files` would read differently elsewhere
        ok, why = False, f": it {exc}"
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        ok = False
    if not ok or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise CheckFailed(
            f"snapshot `{ref.path}` is not a mu snapshot{why}",
            hint="restore `receipts/snapshots/` from version control; mu wrote it at build time",
        )
    unsafe = sorted(k for k in files if not safe_path(k))
    if unsafe:
        raise CheckFailed(
            f"snapshot `{ref.path}` names unsafe paths: "
            + ", ".join(f"`{k!r}`" for k in unsafe),
            hint="a snapshot holds only relative paths under `ontology/` and `golden/`",
        )
    return dict(sorted(files.items()))


def extract(files: dict[str, str], target: Path) -> Layout:
    """Write a snapshot's files under `target`, giving a replayable repository layout."""
    for rel, text in sorted(files.items()):
        if not safe_path(rel):
            raise CheckFailed(
                f"refusing to extract unsafe snapshot path `{rel!r}`",
                hint="mu writes only relative paths; restore the snapshot from version control",
            )
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.write_bytes(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise CheckFailed(
                f"snapshot file `{rel}` is not valid text: {exc.reason}",
                hint="mu writes snapshots as UTF-8; restore it from version control",
            ) from exc
    return Layout(target)
