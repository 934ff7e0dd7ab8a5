"""The two sides of `mu diff`: what a user names on the command line, made concrete.

A side is a git ref, an ontology directory, a policy repository root or a
receipt file. A receipt side is evidence: `verify_receipt_sides` checks it
against the repository's trust root (from the pin) before it is compared, as
`mu replay` and `mu rollback` do. Whatever it is, it is materialised into its own fresh directory
under a work directory as a repository layout (`ontology/`, `golden/`), so the
rest of the diff compares two plain layouts and never touches the user's tree.
`compile_side` then compiles a side in memory, once, however often it is compared.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mu.generator.compile.pipeline import Compiled, ValidationFailed, compile_ontology
from mu.generator.compile.validate import ViolationKey
from mu.generator.errors import CheckFailed, InputError, Problem
from mu.generator.layout import Layout, controls_dir, sorted_files
from mu.generator.provenance.pinned import receipt_waiver, refuse_unverified, snapshot_ref
from mu.generator.provenance.receipt import RECEIPT_TYPE, read_receipt
from mu.generator.provenance.snapshot import ROOTS, extract, read_snapshot, safe_path
from mu.generator.provenance.verify_receipt import Verifier
from mu.generator.run.golden import GoldenCase, load_suite

SideKind = Literal["git", "directory", "receipt"]
# Only these trees of a commit or a directory are part of a side.
SPEC_HINT = (
    "name a git ref of the repository (`HEAD~1`, `main`), an ontology directory "
    "(holding `controls/`), a policy repository (holding `ontology/`) or a receipt file"
)


@dataclass(frozen=True)
class Side:
    """One side of a diff: the spec as the user gave it, its kind, and its materialised copy."""

    spec: str
    kind: SideKind
    layout: Layout
    waived: frozenset[ViolationKey] = frozenset()  # a receipt's override: what it lifted


def _materialise(files: Mapping[str, bytes], target: Path) -> Layout:
    for rel in sorted(files):
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])
    return Layout(target)


def _read_dir(directory: Path, prefix: str, pattern: str) -> dict[str, bytes]:
    files = {}
    for path in sorted_files(directory, pattern):
        rel = path.relative_to(directory).as_posix()
        try:
            files[f"{prefix}/{rel}"] = path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"cannot read `{path}`: {exc.strerror}",
                hint="make the file readable by the user running mu",
            ) from exc
    return files


def _directory_files(spec: str, ontology: Path, golden: Path) -> dict[str, bytes]:
    files = _read_dir(ontology, "ontology", "*.ttl")
    if not any(rel.startswith("ontology/controls/") for rel in files):
        raise InputError(
            f"`{spec}` holds no `*.ttl` files under `controls/`",
            hint="an ontology directory needs a `controls/` folder of Turtle files",
        )
    return {**files, **_read_dir(golden, "golden", "*.toml")}


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(
            f"cannot run git in `{root}`: {exc}",
            hint="install git, or compare ontology directories or receipts instead of refs",
        ) from exc


def _git_files(spec: str, root: Path) -> dict[str, bytes] | None:
    """The side's files at a commit, or None when `spec` names no commit of `root`."""
    # A spec starting with `-` would be read as an option by git: never a ref here.
    if spec.startswith("-") or not root.is_dir():
        return None
    try:
        probe = _git(root, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}")
    except InputError:
        return None  # no git at all: the spec cannot be a ref
    if probe.returncode != 0:
        return None
    commit = probe.stdout.decode("ascii").strip()
    # Paths are relative to `root` (ls-tree reads them from the working directory),
    # so a policy repository in a sub-directory of a larger git repository works.
    listing = _git(root, "ls-tree", "-r", "-z", commit, "--", *ROOTS)
    if listing.returncode != 0:
        raise InputError(
            f"cannot list the files of `{spec}`: {listing.stderr.decode(errors='replace').strip()}",
            hint="check that the commit is in this repository (`git log --oneline`)",
        )
    files: dict[str, bytes] = {}
    for entry in listing.stdout.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        _mode, kind, oid = meta.decode("ascii").split(" ")
        rel = name.decode("utf-8", errors="surrogateescape")
        # Submodules and anything outside the two roots are not part of a side.
        if kind != "blob" or not safe_path(rel):
            continue
        # `cat-file blob` gives the stored bytes; `show` could apply textconv filters.
        blob = _git(root, "cat-file", "blob", oid)
        if blob.returncode != 0:
            raise InputError(
                f"cannot read `{rel}` at `{spec}`",
                hint="the git object store may be damaged; run `git fsck`",
            )
        files[rel] = blob.stdout
    if not any(rel.startswith("ontology/controls/") for rel in files):
        raise InputError(
            f"`{spec}` (commit {commit[:12]}) has no `ontology/controls/` under `{root}`",
            hint="diff against a commit that holds the policy repository",
        )
    return files


def _receipt_layout(spec: str, path: Path, repo: Layout, target: Path) -> Layout:
    receipt = read_receipt(path)
    ref = snapshot_ref(receipt)
    # The snapshot lives in the repository the receipt belongs to: `--root`, or
    # else the repository around the receipt file (`<root>/receipts/NNNN-….json`).
    root = repo.root
    if not (root / ref.path).is_file():
        root = path.resolve().parent.parent
    files = read_snapshot(root, ref)
    return extract(files, target)


def verify_receipt_sides(
    repo: Layout,
    specs: tuple[str, ...],
    *,
    trust_root: str | None = None,
    public_key_path: Path | None = None,
) -> str | None:
    """Refuse (`CheckFailed`) any side that is a receipt file and does not verify under
    this repository's trust root; the history's warning when one was checked unpinned.

    Sides that are not files (git refs, directories) need no trust root.
    """
    receipts = [Path(spec) for spec in specs if Path(spec).is_file()]
    if not receipts:
        return None
    verifier = Verifier(repo, trust_root=trust_root, public_key_path=public_key_path)
    for path in receipts:
        verdict = verifier.path(path, RECEIPT_TYPE)
        refuse_unverified(verdict, path, "a diff compares only receipts that verify")
    return verifier.warning


def resolve_side(spec: str, repo: Layout, workdir: Path) -> Side:
    """Make `spec` concrete as a layout in a fresh directory under `workdir`.

    An existing file is a receipt (its snapshot); a directory with `controls/`
    is an ontology directory (with its sibling `golden/`, else the repository's);
    a directory with `ontology/` is a repository root; anything else must be a
    git ref of the repository at `repo.root`. None of these is an `InputError`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    path = Path(spec)
    if path.is_file():
        target = Path(tempfile.mkdtemp(prefix="receipt-", dir=workdir))
        layout = _receipt_layout(spec, path, repo, target)
        return Side(spec, "receipt", layout, receipt_waiver(repo, read_receipt(path)))
    if path.is_dir():
        if controls_dir(path).is_dir():
            sibling = path.parent / "golden"
            golden = sibling if sibling.is_dir() else repo.golden
            files = _directory_files(spec, path, golden)
        elif (path / "ontology").is_dir():
            files = _directory_files(spec, path / "ontology", path / "golden")
        else:
            raise InputError(
                f"`{spec}` is a directory without `controls/` or `ontology/`",
                hint=SPEC_HINT,
            )
        target = Path(tempfile.mkdtemp(prefix="directory-", dir=workdir))
        return Side(spec, "directory", _materialise(files, target))
    found = _git_files(spec, repo.root)
    if found is None:
        raise InputError(
            f"`{spec}` is neither a file, a directory nor a git ref of `{repo.root}`",
            hint=SPEC_HINT,
        )
    target = Path(tempfile.mkdtemp(prefix="git-", dir=workdir))
    return Side(spec, "git", _materialise(found, target))


@dataclass(frozen=True)
class CompiledSide:
    """A side compiled in memory, with its golden cases (empty if it has no suite)."""

    side: Side
    compiled: Compiled
    cases: tuple[GoldenCase, ...]


def compile_side(side: Side) -> CompiledSide:
    """Compile a side and load its suite; a side that does not conform is `CheckFailed`."""
    try:
        compiled = compile_ontology(side.layout.ontology, waived=side.waived)
    except ValidationFailed as exc:
        violations = exc.report.violations
        raise CheckFailed(
            f"side `{side.spec}` ({side.kind}) does not conform: {len(violations)} violation(s)",
            hint="both sides must compile; run `mu validate` on it to see every violation",
            problems=[
                Problem(f"ontology/{v.file}" if v.file else v.focus, f"{v.focus}: {v.message}")
                for v in violations
            ],
        ) from exc
    except InputError as exc:
        # Name the side, and show paths as inside it rather than inside the scratch copy.
        scratch = f"{side.layout.root}/"
        raise InputError(
            f"side `{side.spec}` ({side.kind}): {exc.message.replace(scratch, '')}",
            hint=exc.hint,
            problems=[
                Problem(p.where.replace(scratch, ""), p.message, p.hint) for p in exc.problems
            ],
        ) from exc
    cases: tuple[GoldenCase, ...] = ()
    if sorted_files(side.layout.golden, "*.toml"):
        try:
            cases = load_suite(side.layout.golden).cases
        except InputError as exc:
            raise InputError(
                f"the golden suite of `{side.spec}`: {exc.message}",
                hint=exc.hint,
                problems=exc.problems,
            ) from exc
    return CompiledSide(side, compiled, cases)
