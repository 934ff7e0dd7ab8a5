"""`mu diff --old A_old --new A_new`: two enforcer packages on disk, compared (SPEC §7).

Where `review.diff` compiles two ontologies, this compares what was compiled: two
directories written by `mu generate` (each holds a `MANIFEST.json`). Files are
compared by their bytes (sha256), modules sorted into changed, added, removed and
identical; every golden case of the repository runs against both packages, imported
from memory as `mu diff` does for ontologies, and each case whose outcome, reasons or
actions differ is a flip. A side whose files disagree with its own `MANIFEST.json`
(edited by hand) is named, since its bytes are not what mu wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mu.generator.errors import InputError
from mu.generator.files import read_tree
from mu.generator.hashing import sha256_hex
from mu.generator.jsonread import loads_strict
from mu.generator.layout import Layout
from mu.generator.paths import MANIFEST, is_generated
from mu.generator.review.diff import Flip, ModuleChanges, OutcomeSummary, check_limit
from mu.generator.review.packages import imported
from mu.generator.run.golden import CaseResult, GoldenCase, load_suite, run_case


@dataclass(frozen=True)
class EnforcerSide:
    """One package as the user named it, and the files that differ from its MANIFEST."""

    spec: str
    files: int
    not_as_manifest: tuple[str, ...]  # changed, missing or unlisted against MANIFEST.json


@dataclass(frozen=True)
class EnforcerDiff:
    """What differs between two enforcer packages, file by file and decision by decision."""

    old: EnforcerSide
    new: EnforcerSide
    modules: ModuleChanges
    flips: tuple[Flip, ...]
    cases_run: int
    golden: str | None  # the suite run, as shown; None when the repository has none
    blast_total: int  # control modules on either side
    max_blast_radius: float | None = None

    @property
    def control_modules(self) -> tuple[str, ...]:
        """Control modules changed, added or removed (`controls/<id>.py`)."""
        touched = (*self.modules.changed, *self.modules.added, *self.modules.removed)
        return tuple(sorted(p for p in touched if is_control_module(p)))

    @property
    def blast_radius(self) -> float:
        """Control modules changed, added or removed over all control modules."""
        return len(self.control_modules) / self.blast_total if self.blast_total else 0.0

    @property
    def ok(self) -> bool:
        """False when a limit was given and the blast radius exceeds it."""
        return self.max_blast_radius is None or self.blast_radius <= self.max_blast_radius


def is_control_module(path: str) -> bool:
    """`controls/<id>.py`, not the package's `controls/__init__.py`."""
    top, _, name = path.partition("/")
    return top == "controls" and "/" not in name and name.endswith(".py") and name != "__init__.py"


def are_enforcer_dirs(old: str, new: str) -> bool:
    """Both specs name enforcer packages written by mu; one alone is a usage error, since
    an enforcer package cannot be compared with an ontology, a receipt or a git ref."""
    old_is, new_is = is_generated(Path(old)), is_generated(Path(new))
    if old_is != new_is:
        package, other = (old, new) if old_is else (new, old)
        raise InputError(
            f"`{package}` is an enforcer package but `{other}` is not",
            hint="compare two enforcer directories (each holds `MANIFEST.json`), or two "
            "ontology directories, receipts or git refs",
        )
    return old_is


def _not_as_manifest(files: Mapping[str, bytes]) -> tuple[str, ...]:
    """Paths whose bytes disagree with the package's own MANIFEST.json."""
    manifest = loads_strict(files[MANIFEST])  # is_generated checked it parses, with `files`
    listed: dict[str, str] = manifest["files"]
    actual = {p: sha256_hex(d) for p, d in files.items() if p != MANIFEST}
    return tuple(sorted(p for p in set(listed) | set(actual) if listed.get(p) != actual.get(p)))


def _side(spec: str) -> tuple[EnforcerSide, dict[str, bytes]]:
    files = read_tree(Path(spec))
    return EnforcerSide(spec, len(files), _not_as_manifest(files)), files


def _modules(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> ModuleChanges:
    """Every file by what happened to it going OLD → NEW, compared by sha256."""
    a = {p: sha256_hex(d) for p, d in old.items()}
    b = {p: sha256_hex(d) for p, d in new.items()}
    both = set(a) & set(b)
    return ModuleChanges(
        changed=tuple(sorted(p for p in both if a[p] != b[p])),
        added=tuple(sorted(set(b) - set(a))),
        removed=tuple(sorted(set(a) - set(b))),
        identical=tuple(sorted(p for p in both if a[p] == b[p])),
    )


def _summary(result: CaseResult) -> OutcomeSummary:
    # As `review.diff` reports a case: an INVALID transaction's reasons are its fields.
    if result.outcome == "INVALID":
        return OutcomeSummary("INVALID", (), (), result.reasons)
    return OutcomeSummary(result.outcome, result.reasons, result.actions, ())


def _flips(
    old: Mapping[str, bytes], new: Mapping[str, bytes], cases: tuple[GoldenCase, ...]
) -> tuple[Flip, ...]:
    if not cases:
        return ()
    flips = []
    with imported((old, new)) as (before, after):
        for case in cases:
            a, b = _summary(run_case(before, case)), _summary(run_case(after, case))
            if a != b:
                flips.append(Flip(case.case_id, case.file, case.description, a, b))
    return tuple(flips)


def diff_enforcers(
    old: str, new: str, layout: Layout, *, max_blast_radius: float | None = None
) -> EnforcerDiff:
    """Compare two enforcer directories: files by digest, and the repository's golden
    decisions run against both (none when the repository has no `golden/`)."""
    check_limit(max_blast_radius)
    old_side, old_files = _side(old)
    new_side, new_files = _side(new)
    has_suite = layout.golden.is_dir()
    cases = load_suite(layout.golden).cases if has_suite else ()
    return EnforcerDiff(
        old=old_side,
        new=new_side,
        modules=_modules(old_files, new_files),
        flips=_flips(old_files, new_files, cases),
        cases_run=len(cases),
        golden=layout.shown(layout.golden) if has_suite else None,
        blast_total=len({p for p in (*old_files, *new_files) if is_control_module(p)}),
        max_blast_radius=max_blast_radius,
    )
