"""Where things live in a policy repository (SPEC §2)."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mu.generator.errors import InputError

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")

# Where `mu build` stores snapshots, relative to the repository root: receipts
# name a snapshot by this path (SPEC §6), so it is part of the evidence format.
SNAPSHOTS = "receipts/snapshots"


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
    def snapshots(self) -> Path:
        """Content-addressed snapshots of O, Σ and the golden suite (`<sha256>.json`)."""
        return self.root / SNAPSHOTS

    @property
    def approvals(self) -> Path:
        """Signed compliance approvals (`mu approve`)."""
        return self.receipts / "approvals"

    @property
    def rejected(self) -> Path:
        """Signed rejection receipts of failed builds: not links of the chain."""
        return self.receipts / "rejected"

    @property
    def audits(self) -> Path:
        """Auditors' signed replay statements (`mu replay --sign-key`)."""
        return self.receipts / "audits"

    @property
    def upgrades(self) -> Path:
        """Signed upgrade statements (`mu upgrade-check --sign-key`)."""
        return self.receipts / "upgrades"

    @property
    def trust_file(self) -> Path:
        """The newest version of the signed trust root (a copy of `trust/<N>.json`)."""
        return self.receipts / "trust.json"

    @property
    def trust_dir(self) -> Path:
        """Every signed version of the trust root: `receipts/trust/<N>.json`."""
        return self.receipts / "trust"

    @property
    def trust_proposal(self) -> Path:
        """The next version of the trust root while it collects signatures."""
        return self.trust_dir / "proposed.json"

    @property
    def enforcers(self) -> Path:
        """A: the generated enforcer package."""
        return self.root / "enforcers"

    @property
    def config(self) -> Path:
        """The repository's configuration, `mu.toml` (named deploy environments); optional,
        only ever read by mu."""
        return self.root / "mu.toml"

    def shown(self, path: Path) -> str:
        """`path` as messages name it: relative to the root when inside it (`ontology`,
        as receipts and SARIF name files), else exactly as the user gave it."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()


def controls_dir(ontology: Path) -> Path:
    """The directory of O inside an ontology directory."""
    return ontology / "controls"


def shapes_dir(ontology: Path) -> Path:
    """The directory of the organisation's Σ inside an ontology directory."""
    return ontology / "shapes"


def sorted_files(directory: Path, pattern: str) -> tuple[Path, ...]:
    """Regular files under `directory` whose name matches `pattern`, recursively, in a fixed order.

    Sorted by their relative POSIX path so that the order never depends on the
    file system's listing order. Everything found here is policy that gets
    hashed and copied into signed snapshots, so a symbolic link anywhere
    (file or directory, `directory` itself included) is refused rather than
    followed: `golden/x.toml -> ~/.ssh/id_ed25519` would otherwise put that
    file into the repository's evidence. A name that is not UTF-8 is refused
    too, since it cannot be recorded faithfully in a receipt.
    """
    if directory.is_symlink():
        raise _symlink(directory)
    if not directory.is_dir():
        return ()
    found: list[tuple[str, Path]] = []
    pending: list[tuple[Path, str]] = [(directory, "")]
    while pending:
        current, prefix = pending.pop()
        for entry in _entries(current):
            path = current / entry.name
            _check_name(path, entry.name)
            if entry.is_symlink():
                raise _symlink(path)
            rel = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                pending.append((path, f"{rel}/"))
            elif entry.is_file(follow_symlinks=False) and fnmatch.fnmatchcase(entry.name, pattern):
                found.append((rel, path))
    return tuple(path for _, path in sorted(found))


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    # os.walk would silently skip a directory it cannot list, and with it
    # controls: an unreadable part of the policy must stop the command instead.
    try:
        with os.scandir(directory) as listing:
            return list(listing)
    except OSError as exc:
        raise InputError(
            f"cannot list `{shown_path(directory)}`: {(exc.strerror or str(exc)).lower()}",
            hint="make the directory readable",
        ) from None


def _check_name(path: Path, name: str) -> None:
    try:
        os.fsencode(name).decode("utf-8")
    except UnicodeError:
        raise InputError(
            f"the file name {shown_path(path)} is not valid UTF-8",
            hint="rename it: names under `ontology/` and `golden/` are recorded in receipts",
        ) from None
    if _UNSAFE_NAME.search(name):
        # A snapshot path with these is refused at replay (generator/paths.py):
        # refusing it here keeps a build from signing a snapshot nobody can replay.
        raise InputError(
            f"the file name {shown_path(path)} holds a control character or a back-slash",
            hint="rename it: names under `ontology/` and `golden/` are recorded in receipts",
        )


def _symlink(path: Path) -> InputError:
    return InputError(
        f"`{shown_path(path)}` is a symbolic link; mu does not follow links in policy files",
        hint="replace the link with a copy of the file or directory it points to",
    )


def shown_path(path: Path) -> str:
    """`path` for a message: as typed when it is plain UTF-8, else escaped like `!r`.

    A name holding undecodable bytes (surrogate escapes) or control characters
    would garble, or crash, the terminal it is printed to.
    """
    text = str(path)
    try:
        os.fsencode(text).decode("utf-8")
    except UnicodeError:  # undecodable bytes, or a surrogate not even fsencode accepts
        return repr(text)
    return text if text.isprintable() else repr(text)
