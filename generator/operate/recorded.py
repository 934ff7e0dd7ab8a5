"""Which receipt of the chain records an enforcer directory (`mu deploy --enforcer DIR`).

A runbook names the package, not the receipt: `--enforcer A_new`. The receipt that
records A is found by content, never by name or date: every file of DIR, and no
other, must have exactly the sha256 the receipt's subjects record. The newest such
link of the chain wins (two builds of the same policy record the same A). A copy
edited by hand matches none, and is refused naming the files that differ from the
closest receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mu.generator.errors import CheckFailed, InputError, Problem
from mu.generator.files import read_tree
from mu.generator.layout import Layout
from mu.generator.operate.deploy import SUBJECT_PREFIX, expected_files, mismatches
from mu.generator.provenance.receipt import StoredReceipt, load_chain


@dataclass(frozen=True)
class Recorded:
    """The enforcer directory and the newest receipt that records exactly its files."""

    directory: Path
    receipt: StoredReceipt


def _records_a(receipt: StoredReceipt) -> bool:
    """A well-formed build receipt whose subjects are an enforcer package."""
    subjects = receipt.subjects if receipt.is_receipt else {}
    return bool(subjects) and all(n.startswith(SUBJECT_PREFIX) for n in subjects)


def receipt_recording(layout: Layout, directory: Path) -> Recorded:
    """The newest receipt of the chain whose enforcer subjects are exactly DIR's files.

    `InputError` (exit 2) when DIR is not a directory holding files; `CheckFailed`
    (exit 1) when no receipt records it, with the differences from the closest one.
    """
    shown = layout.shown(directory)
    if not directory.is_dir():
        raise InputError(
            f"`{shown}` is not a directory", hint="pass the enforcer package directory (A)"
        )
    files = read_tree(directory)
    if not files:
        raise InputError(
            f"`{shown}` holds no files", hint="pass the enforcer package directory (A)"
        )
    links = sorted(
        (r for r in load_chain(layout.receipts) if _records_a(r)),
        key=lambda r: r.sequence,
        reverse=True,
    )
    differences = [(mismatches(expected_files(r), files), r) for r in links]
    for problems, receipt in differences:
        if not problems:
            return Recorded(directory, receipt)
    if not differences:
        raise CheckFailed(
            f"no receipt records `{shown}`: the chain in `{layout.shown(layout.receipts)}` "
            "has no build receipt",
            hint="build and sign it with `mu build`; only a signed A is deployed",
        )
    # The closest receipt (fewest differences, the newer on a tie) explains the refusal.
    problems, closest = min(differences, key=lambda d: len(d[0]))
    raise CheckFailed(
        f"no receipt of the chain records `{shown}`: {len(problems)} file(s) differ from "
        f"the closest, `{closest.path.name}`",
        hint="deploy only a package `mu build` signed (a hand-edited copy never deploys); "
        "regenerate it with `mu generate`, or name the receipt with `--receipt`",
        problems=[Problem(f"`{p.where}`", p.message) for p in problems],
    )
