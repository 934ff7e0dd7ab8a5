"""`mu verify`: the quarterly check. Every difference is a `Drift` with its
file, its cause and — for a module — a unified diff, so the operator ends
with an answer, not an investigation.

Causes of a generated file's drift, decided from digests rather than guessed:
- `hand edit`: the file's sha256 matches no receipt's record of that path;
- `older release`: it matches what an older receipt recorded;
- `uncompiled ontology change`: today's ontology digest is not the newest receipt's;
- `generator change`: same ontology, but this generator's source digest differs;
- `deleted file` / `extra file`: a file recorded or produced is missing, or one
  nobody produced is present.
The chain's drifts are named by the receipt check that failed (`signature`,
`trust`, `repository`, `approvals` — a re-check of its approval evidence —, ...)
or `gap`, every receipt checked against the trust root verified from the pin;
the ontology's by `violation` or `unrecorded`; the suite's by `failing case` or
`unreadable suite`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mu.generator.build.gates import run_golden
from mu.generator.compile.pipeline import Compiled, ValidationFailed, compile_ontology
from mu.generator.errors import MuError
from mu.generator.files import compare_trees, read_tree
from mu.generator.hashing import sha256_hex
from mu.generator.layout import Layout
from mu.generator.provenance.identity import this_generator
from mu.generator.provenance.receipt import StoredReceipt
from mu.generator.provenance.verify_receipt import STATEMENT_CHECKS, StatementCheck, verify_chain

DriftArea = Literal["chain", "ontology", "enforcers", "deployed", "golden"]
PackageArea = Literal["enforcers", "deployed"]
FileCause = Literal[
    "hand edit",
    "older release",
    "uncompiled ontology change",
    "generator change",
    "unexplained difference",
    "unrecorded",
    "deleted file",
    "extra file",
]
# The chain's drifts: a failed check of a receipt, or a gap in the sequence.
ChainCause = StatementCheck | Literal["gap"]
DriftCause = FileCause | ChainCause | Literal["violation", "failing case", "unreadable suite"]


@dataclass(frozen=True)
class Drift:
    """One difference between what should be and what is, with its cause.

    `reason` says what makes `cause` the cause here, when its name alone does
    not ("its sha256 matches no receipt"); reports print both as `explanation`.
    """

    area: DriftArea
    where: str
    cause: DriftCause
    detail: str
    diff: str = ""
    reason: str = ""

    @property
    def explanation(self) -> str:
        """`cause: reason`, or the cause alone."""
        return f"{self.cause}: {self.reason}" if self.reason else self.cause


@dataclass(frozen=True)
class VerifyReport:
    """Every check's summary line and every drift found."""

    summary: tuple[str, ...]
    drifts: tuple[Drift, ...]
    warning: str | None = None  # the trust history's: nothing pinned the trust root

    @property
    def ok(self) -> bool:
        """No drift at all."""
        return not self.drifts


def _unified(path: str, expected: bytes, actual: bytes) -> str:
    try:
        a, b = expected.decode("utf-8"), actual.decode("utf-8")
    except UnicodeDecodeError:
        return "(binary content differs)"
    lines = difflib.unified_diff(
        a.splitlines(keepends=True),
        b.splitlines(keepends=True),
        fromfile=f"generated/{path}",
        tofile=f"on disk/{path}",
    )
    return "".join(lines)


def _recorded_by(chain: Sequence[StoredReceipt], name: str, digest: str) -> StoredReceipt | None:
    """The newest receipt that recorded `digest` for subject `name`."""
    for receipt in reversed(chain):
        if receipt.subjects.get(name) == digest:
            return receipt
    return None


def _why_fresh_differs(newest: StoredReceipt | None, compiled: Compiled) -> tuple[FileCause, str]:
    # `newest` comes from a chain of well-formed receipts: its fields are typed.
    if newest is None:
        return "unrecorded", "no receipt records any build yet"
    if newest.predicate.ontology.digest != compiled.semantic_digest:
        return "uncompiled ontology change", f"ontology/ is newer than receipt {newest.path.name}"
    if newest.predicate.generator.source_sha256 != this_generator().source_sha256:
        return "generator change", f"this mu differs from the one that made {newest.path.name}"
    return "unexplained difference", "this generator makes other bytes of this ontology"


def _chain_cause(check: str) -> ChainCause:
    """A failed receipt check names the chain's drift."""
    return next((c for c in STATEMENT_CHECKS if c == check), "chain")


def compare_package(
    area: PackageArea,
    directory: Path,
    compiled: Compiled,
    chain: Sequence[StoredReceipt],
) -> list[Drift]:
    """Explain every file that differs between a fresh A and `directory`.

    `chain` holds well-formed receipts only (their fields are read typed).
    """
    fresh, actual = compiled.files, read_tree(directory.resolve())
    newest = chain[-1] if chain else None
    diff = compare_trees(fresh, actual)
    drifts = []
    for path in diff.changed:
        name, digest = f"enforcers/{path}", sha256_hex(actual[path])
        recorded = _recorded_by(chain, name, digest)
        cause: FileCause
        if recorded is None:
            cause, reason = "hand edit", "its sha256 matches no receipt"
        elif newest is not None and recorded.digest == newest.digest:
            cause, reason = _why_fresh_differs(newest, compiled)
        else:
            cause, reason = "older release", f"it is what receipt {recorded.path.name} recorded"
        drifts.append(
            Drift(
                area,
                f"{directory}/{path}",
                cause,
                "content differs",
                _unified(path, fresh[path], actual[path]),
                reason,
            )
        )
    for path in diff.removed:
        drifts.append(Drift(area, f"{directory}/{path}", "deleted file", "expected, not present"))
    for path in diff.added:
        name = f"enforcers/{path}"
        recorded = _recorded_by(chain, name, sha256_hex(actual[path]))
        if recorded is not None:
            cause, reason = "older release", f"present in receipt {recorded.path.name}"
        else:
            cause, reason = "extra file", "produced by no receipt and not by the generator"
        drifts.append(
            Drift(area, f"{directory}/{path}", cause, "present, not expected", reason=reason)
        )
    return drifts


def quarterly_verify(
    layout: Layout,
    *,
    deployed: Path | None = None,
    public_key_path: Path | None = None,
    trust_root: str | None = None,
) -> VerifyReport:
    """Chain, signatures, trust and approvals (from the pinned trust root), O ⊨ Σ,
    ontology vs newest receipt, fresh A vs committed and deployed A, golden cases on
    the fresh A — every difference explained.

    Raises `NoTrustRoot`, or `CheckFailed` when the trust root does not verify from
    the pin: nothing else can be vouched for then.
    """
    summary: list[str] = []
    drifts: list[Drift] = []
    chain_report = verify_chain(layout, public_key_path=public_key_path, trust_root=trust_root)
    history = chain_report.history
    warning = chain_report.warning
    # A malformed receipt is reported below as a chain drift; only well-formed
    # ones (typed fields) explain the other drifts.
    chain = [v.receipt for v in chain_report.verdicts if v.receipt.is_receipt]
    for verdict in chain_report.verdicts:
        for check in verdict.failures:
            drifts.append(
                Drift("chain", verdict.receipt.path.name, _chain_cause(check.name), check.detail)
            )
    drifts += [Drift("chain", "receipts/", "gap", gap) for gap in chain_report.gaps]
    count = len(chain_report.verdicts)
    summary.append(f"chain: {count} receipts, {'verified' if chain_report.ok else 'FAILED'}")
    if history is not None:
        start = history.first
        summary.append(
            f"trust root: `{history.repository}` versions {start.version}–"
            f"{history.newest.version}, verified from "
            + (f"the pin (sha256 {start.digest[:12]}…)" if history.pinned else "its own version 1")
        )
    try:
        compiled = compile_ontology(layout.ontology)
    except ValidationFailed as exc:
        for v in exc.report.violations:
            drifts.append(
                Drift("ontology", v.file or v.focus, "violation", f"{v.shape}: {v.message}")
            )
        summary.append(f"ontology: {len(exc.report.violations)} violation(s)")
        return VerifyReport(tuple(summary), tuple(drifts), warning)
    summary.append("ontology: O ⊨ Σ")
    newest = chain[-1] if chain else None
    if newest is None:
        drifts.append(Drift("ontology", "receipts/", "unrecorded", "no receipt records any build"))
    elif newest.predicate.ontology.digest != compiled.semantic_digest:
        recorded_files = newest.predicate.ontology.files
        today = {s.path: s.sha256 for s in compiled.sources}
        changed = sorted(
            p for p in set(recorded_files) | set(today) if recorded_files.get(p) != today.get(p)
        )
        drifts.append(
            Drift(
                "ontology",
                ", ".join(f"ontology/{p}" for p in changed) or "ontology/",
                "uncompiled ontology change",
                f"today's ontology digest differs from receipt {newest.path.name}; run `mu build`",
            )
        )
    drifts += compare_package("enforcers", layout.enforcers, compiled, chain)
    summary.append(f"enforcers: compared {len(compiled.files)} files with a fresh build")
    if deployed is not None:
        drifts += compare_package("deployed", deployed, compiled, chain)
        summary.append(f"deployed: compared `{deployed}` with a fresh build")
    try:
        golden = run_golden(compiled.files, layout.golden)
    except MuError as exc:
        drifts.append(Drift("golden", "golden/", "unreadable suite", exc.message))
    else:
        for result in golden.results:
            if not result.passed:
                drifts.append(
                    Drift(
                        "golden",
                        result.file,
                        "failing case",
                        "; ".join(result.mismatches),
                        reason=f"`{result.case_id}`",
                    )
                )
        summary.append(f"golden: {golden.passed}/{golden.total} cases pass on the fresh A")
    return VerifyReport(tuple(summary), tuple(drifts), warning)
