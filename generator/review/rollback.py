"""`mu rollback --receipt`: regenerate A exactly as a receipt recorded it,
proven by digests, and write it atomically.

By default the receipt's ontology and golden suite are restored too, so the
repository is coherent again and the next `mu build` records the rollback as
a change back to the earlier ontology. `--output DIR` writes only A, elsewhere.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from mu.generator.compile.pipeline import compile_ontology
from mu.generator.errors import CheckFailed, Problem
from mu.generator.files import TreeDiff, compare_trees, read_tree, write_tree_atomic
from mu.generator.hashing import sha256_hex
from mu.generator.layout import Layout
from mu.generator.paths import output_directory
from mu.generator.provenance.pinned import verified_snapshot
from mu.generator.provenance.receipt import StoredReceipt
from mu.generator.provenance.snapshot import extract


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback wrote and what it changed."""

    receipt: StoredReceipt
    output: Path
    files: int
    enforcers_diff: TreeDiff  # from the A that was there before
    restored_sources: bool
    warning: str | None = None  # the trust history's: nothing pinned the trust root


def _check_subjects(receipt: StoredReceipt, files: dict[str, bytes]) -> None:
    recorded = receipt.subjects
    fresh = {f"enforcers/{path}": sha256_hex(data) for path, data in files.items()}
    problems = [
        Problem(name, "does not match the receipt")
        for name in sorted(set(recorded) | set(fresh))
        if recorded.get(name) != fresh.get(name)
    ]
    if problems:
        raise CheckFailed(
            f"the regenerated enforcers differ from receipt `{receipt.path.name}` "
            f"in {len(problems)} file(s); nothing was written",
            hint="the snapshot or the generator does not reproduce this receipt; "
            "run `mu replay --receipt` for details",
            problems=problems,
        )


def _merge(directory: Path, suffix: str, restored: dict[str, bytes]) -> dict[str, bytes]:
    """Keep a directory's other files (READMEs); replace its `suffix` files by `restored`."""
    kept = {p: d for p, d in read_tree(directory).items() if not p.endswith(suffix)}
    return dict(sorted({**kept, **restored}.items()))


def _restore_sources(layout: Layout, snapshot: dict[str, str]) -> None:
    for root, suffix, target in (
        ("ontology/", ".ttl", layout.ontology),
        ("golden/", ".toml", layout.golden),
    ):
        restored = {
            path[len(root) :]: text.encode("utf-8")
            for path, text in snapshot.items()
            if path.startswith(root)
        }
        write_tree_atomic(target, _merge(target, suffix, restored))


def rollback(
    layout: Layout,
    receipt_path: Path,
    *,
    output: Path | str | None = None,
    public_key_path: Path | None = None,
    trust_root: str | None = None,
) -> RollbackResult:
    """Verify the receipt under the trust root (pinned by `trust_root`), regenerate from
    its snapshot, prove every digest, write.

    `output` (checked by the path policy) receives A alone; without it A goes
    to `enforcers/` and the snapshot's sources are restored to `ontology/` and
    `golden/`.
    """
    target = layout.enforcers if output is None else output_directory(layout, output)
    verified = verified_snapshot(
        layout,
        receipt_path,
        public_key_path=public_key_path,
        purpose="nothing was written",
        trust_root=trust_root,
    )
    receipt, snapshot = verified.receipt, verified.files
    with tempfile.TemporaryDirectory(prefix="mu-rollback-") as scratch:
        extracted = extract(snapshot, Path(scratch)).ontology
        files = compile_ontology(extracted, waived=verified.waived).files
    _check_subjects(receipt, files)
    before = read_tree(target)
    write_tree_atomic(target, files)
    restore = output is None
    if restore:
        _restore_sources(layout, snapshot)
    return RollbackResult(
        receipt, target, len(files), compare_trees(before, files), restore, verified.warning
    )
