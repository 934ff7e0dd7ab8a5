"""Where things live in a policy repository (SPEC §2)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """The directories of one policy repository, all derived from its root."""

    root: Path

    @property
    def ontology(self) -> Path:
        """O and the organisation's Σ."""
        return self.root / "ontology"

    @property
    def golden(self) -> Path:
        """Golden cases, `*.toml`."""
        return self.root / "golden"

    @property
    def receipts(self) -> Path:
        """Signed receipts, snapshots, approvals and the trust policy."""
        return self.root / "receipts"

    @property
    def enforcers(self) -> Path:
        """A: the generated enforcer package."""
        return self.root / "enforcers"


def controls_dir(ontology: Path) -> Path:
    """The directory of O inside an ontology directory."""
    return ontology / "controls"


def shapes_dir(ontology: Path) -> Path:
    """The directory of the organisation's Σ inside an ontology directory."""
    return ontology / "shapes"


def sorted_files(directory: Path, pattern: str) -> tuple[Path, ...]:
    """Files under `directory` matching `pattern`, recursively, in a fixed order.

    Sorted by their relative POSIX path so that the order never depends on the
    file system's listing order.
    """
    if not directory.is_dir():
        return ()
    found = [p for p in directory.rglob(pattern) if p.is_file()]
    return tuple(sorted(found, key=lambda p: p.relative_to(directory).as_posix()))
