"""What TARGET runs, verified: the check the decision service makes before it decides.

`mu deploy` verified the receipt before the switch; the service checks again
whenever it loads a release (at start and after every switch), because the
release tree, the deployment record or the repository may have changed since.
The release is trusted only when the record names the release TARGET points
at, that record's receipt verifies under the trust root the target was first
deployed under (or the given pin), and every byte of the release is what the
receipt signed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mu.generator.errors import CheckFailed, Problem
from mu.generator.files import read_tree
from mu.generator.layout import Layout
from mu.generator.operate.deploy import expected_files, mismatches, verifier_for
from mu.generator.operate.releases import read_record, same_path
from mu.generator.provenance.receipt import RECEIPT_TYPE, StoredReceipt


@dataclass(frozen=True)
class Running:
    """A release whose receipt verified and whose bytes are the ones it signed."""

    path: Path  # the release directory TARGET resolves to
    receipt: StoredReceipt
    files: dict[str, bytes]

    @property
    def digest(self) -> str:
        """The receipt's statement digest: the release's name in answers and logs."""
        return self.receipt.digest


def _refused(
    target: Path, what: str, hint: str, problems: list[Problem] | None = None
) -> CheckFailed:
    return CheckFailed(
        f"the release at `{target}` is not trusted: {what}", hint=hint, problems=problems or []
    )


def verify_running(layout: Layout, target: Path, trust_root: str | None = None) -> Running:
    """The release TARGET points at, once verified; else `CheckFailed` saying why."""
    target = Path(os.path.abspath(target))
    if not target.exists():
        raise _refused(target, "nothing is deployed there", "deploy a receipt with `mu deploy`")
    resolved = Path(os.path.realpath(target))
    record = read_record(target)
    current = record.get("current") if record else None
    if not isinstance(current, dict) or not same_path(Path(str(current.get("path"))), resolved):
        raise _refused(
            target,
            "its deployment record does not name the release it points at",
            "deploy with `mu deploy`, which records what it switched; a hand-made switch "
            "is never served",
        )
    receipt_path = current.get("receipt")
    if not isinstance(receipt_path, str):
        raise _refused(
            target,
            "it was adopted without a receipt",
            "deploy a build receipt with `mu deploy --receipt R --target DIR`",
        )
    verifier = verifier_for(layout, target, record, trust_root, None)
    verdict = verifier.path(Path(receipt_path), RECEIPT_TYPE)
    if not verdict.ok:
        raise _refused(
            target,
            f"receipt `{receipt_path}` does not verify: "
            + ", ".join(c.name for c in verdict.failures),
            "`mu verify-receipt` explains each check",
            [Problem(c.name, c.detail) for c in verdict.failures],
        )
    files = read_tree(resolved)
    problems = mismatches(expected_files(verdict.receipt), files)
    if problems:
        raise _refused(
            target,
            f"{len(problems)} file(s) differ from what `{Path(receipt_path).name}` signed",
            "redeploy the receipt with `mu deploy`; `mu verify --deployed` names the drift",
            problems,
        )
    return Running(resolved, verdict.receipt, files)
