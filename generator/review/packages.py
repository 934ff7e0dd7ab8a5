"""The two sides' enforcer packages of `mu diff`, imported from memory.

The loader is `generator.run.packages` (the golden gate of `mu build`, a
layer below, imports rendered packages the same way); the sides of a diff
are named `_mu_diff_<side>_<digest>`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType

from mu.generator.run import packages


@contextmanager
def imported(sides: Sequence[Mapping[str, bytes]]) -> Iterator[list[ModuleType]]:
    """Import each side's rendered package (relative path → bytes); unload on exit."""
    with packages.imported(sides, "diff") as modules:
        yield modules
