"""The generator's own identity: name, version and a digest of its source.

The source digest covers every file of the `generator` package that can
influence A — code, templates, vocabulary, core shapes, grammar — so a receipt
pins exactly which μ produced it, and replay refuses any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mu.generator import NAME, __version__
from mu.generator.files import IGNORED_PARTS
from mu.generator.hashing import tree_digest

# The whole `generator` package, whichever sub-package this module sits in.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
SOURCE_SUFFIXES = frozenset({".py", ".j2", ".ttl", ".lark"})


@dataclass(frozen=True)
class GeneratorId:
    """Which generator made something: name, version, sha256 of its source."""

    name: str
    version: str
    source_sha256: str

    def to_dict(self) -> dict[str, str]:
        """As recorded in receipts."""
        return {"name": self.name, "version": self.version, "source_sha256": self.source_sha256}


def source_files(package_dir: Path = PACKAGE_DIR) -> dict[str, bytes]:
    """The generator's source files (relative POSIX path → bytes), sorted."""
    files = {}
    for path in sorted(package_dir.rglob("*")):
        rel = path.relative_to(package_dir)
        if (
            path.is_file()
            and path.suffix in SOURCE_SUFFIXES
            and not IGNORED_PARTS.intersection(rel.parts)
        ):
            files[rel.as_posix()] = path.read_bytes()
    return files


@lru_cache(maxsize=1)
def this_generator() -> GeneratorId:
    """The identity of the generator running now."""
    return GeneratorId(NAME, __version__, tree_digest(source_files()))
