"""`mu verify-hashes`: an enforcer package on disk against its `MANIFEST.json` and the
receipt that records it (SPEC §7, the runbooks' spelling).

Two references, compared file by file: the package's own `MANIFEST.json` (every file's
sha256, written by `mu generate`) and the subjects of a build receipt (what `mu build`
signed). Every file that differs, is missing or is not recorded is reported against
each. This checks bytes only: whether the receipt itself verifies — signature, trust
root, chain link — is `mu verify-receipt`'s job, and the report says which receipt was
used so the two can be run together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mu.generator.errors import CheckFailed, InputError
from mu.generator.files import read_tree
from mu.generator.hashing import sha256_hex
from mu.generator.jsonread import read_json_object
from mu.generator.layout import Layout
from mu.generator.operate.deploy import expected_files
from mu.generator.operate.recorded import receipt_recording
from mu.generator.paths import MANIFEST
from mu.generator.provenance.receipt import StoredReceipt, read_chain, read_receipt

Kind = Literal["changed", "missing", "extra"]
# How the receipt was picked: named by `--receipt`, the newest recording exactly these
# files, or (none does) the newest of the chain.
Chosen = Literal["given", "matching", "newest"]


@dataclass(frozen=True)
class HashMismatch:
    """One file that does not match a reference: its bytes differ, it is missing from
    disk, or it is on disk but not in the reference."""

    path: str  # relative to the enforcer package
    kind: Kind
    expected: str | None  # sha256 the reference records (None: not recorded)
    actual: str | None  # sha256 on disk (None: missing)


@dataclass(frozen=True)
class HashCheck:
    """The package compared with one reference (`MANIFEST.json` or a receipt)."""

    reference: str  # what was compared against, as shown to the user
    files: int  # how many files the reference records
    mismatches: tuple[HashMismatch, ...]

    @property
    def ok(self) -> bool:
        """Every recorded file is on disk with the recorded sha256, and nothing else is."""
        return not self.mismatches


@dataclass(frozen=True)
class HashReport:
    """`mu verify-hashes`'s result: the package against its MANIFEST and its receipt."""

    enforcers: str  # the package directory, as the user named it
    receipt: str  # the receipt file used
    sequence: int  # its position in the chain
    chosen: Chosen
    manifest: HashCheck
    against_receipt: HashCheck

    @property
    def ok(self) -> bool:
        """Both references match the package exactly."""
        return self.manifest.ok and self.against_receipt.ok


def compare_digests(
    expected: Mapping[str, str], actual: Mapping[str, str]
) -> tuple[HashMismatch, ...]:
    """Every path whose sha256 differs, is missing from `actual`, or is not in `expected`;
    sorted by path."""
    out = []
    for path in sorted(set(expected) | set(actual)):
        want, have = expected.get(path), actual.get(path)
        if have is None:
            out.append(HashMismatch(path, "missing", want, None))
        elif want is None:
            out.append(HashMismatch(path, "extra", None, have))
        elif want != have:
            out.append(HashMismatch(path, "changed", want, have))
    return tuple(out)


def _manifest_files(enforcers: Path, shown: str) -> dict[str, str]:
    """The `files` map of the package's `MANIFEST.json` (path → sha256)."""
    path = enforcers / MANIFEST
    hint = f"regenerate the package with `mu generate --output {shown}`"
    if not enforcers.is_dir():
        raise InputError(
            f"enforcer directory `{shown}` does not exist",
            hint="pass `--enforcers DIR`, a package written by `mu generate`",
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"`{shown}` has no readable `{MANIFEST}` ({exc.strerror}): it is not an enforcer "
            "package written by mu",
            hint=hint,
        ) from exc
    manifest = read_json_object(data, "manifest", f"{shown}/{MANIFEST}", hint)
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in listed.items()
    ):
        raise InputError(f"`{shown}/{MANIFEST}` has no `files` map of sha256 digests", hint=hint)
    return dict(listed)


def _pick_receipt(layout: Layout, directory: Path) -> tuple[StoredReceipt, Chosen]:
    """The newest build receipt recording exactly the package's files (as `mu deploy
    --enforcer` finds it), else the newest one, whose differences are then the report."""
    try:
        return receipt_recording(layout, directory).receipt, "matching"
    except CheckFailed:
        links = [r for r in read_chain(layout.receipts) if r.is_receipt]
    if not links:
        raise InputError(
            f"no build receipt in `{layout.shown(layout.receipts)}`: nothing records which "
            "enforcers were built",
            hint="run `mu build` to sign a receipt, or pass `--receipt R`",
        )
    return max(links, key=lambda r: r.sequence), "newest"


def verify_hashes(
    layout: Layout, enforcers: Path | None = None, receipt_path: Path | None = None
) -> HashReport:
    """Compare every file of the package (default `enforcers/`) with its `MANIFEST.json`
    and with a receipt: `receipt_path`, else the newest receipt of the chain recording
    exactly these files, else the newest receipt. Raises `InputError` for a package
    without a readable manifest or when no receipt exists."""
    directory = enforcers if enforcers is not None else layout.enforcers
    shown = layout.shown(directory)
    listed = _manifest_files(directory, shown)
    on_disk = {path: sha256_hex(data) for path, data in read_tree(directory).items()}
    chosen: Chosen
    if receipt_path is not None:
        receipt, chosen = read_receipt(receipt_path), "given"
    else:
        receipt, chosen = _pick_receipt(layout, directory)
    recorded = expected_files(receipt)
    # MANIFEST.json cannot list its own digest: against the manifest, it is not a file.
    without_manifest = {p: d for p, d in on_disk.items() if p != MANIFEST}
    return HashReport(
        enforcers=shown,
        receipt=layout.shown(receipt.path),
        sequence=receipt.sequence,
        chosen=chosen,
        manifest=HashCheck(
            f"{shown}/{MANIFEST}", len(listed), compare_digests(listed, without_manifest)
        ),
        against_receipt=HashCheck(
            layout.shown(receipt.path), len(recorded), compare_digests(recorded, on_disk)
        ),
    )
