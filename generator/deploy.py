"""`mu deploy`: a verified, health-checked, atomic switch of a deployed A (SPEC §7).

On disk, beside TARGET:

    TARGET -> TARGET.releases/0002-1a2b3c4d5e6f   a symlink, switched by one rename
    TARGET.releases/<NNNN>-<12 hex>/              one immutable tree per receipt
    TARGET.releases/adopted-<12 hex>/             a plain directory found at TARGET
    TARGET.releases/deployments.jsonl             one line per switch
    TARGET.deploy.json                            the current and the previous release

A release tree is never written once it has gone live, and the switch is one
`rename(2)` of a symlink, so a reader that resolves TARGET once sees wholly the
old or wholly the new release. Nothing goes live unless the receipt verifies,
every byte matches what it signed, and a fresh process passed its golden suite.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from generator.errors import CheckFailed, InputError, Problem
from generator.gates import run_gates
from generator.hashing import sha256_hex, tree_digest
from generator.healthcheck import HealthReport, check_release
from generator.layout import Layout
from generator.provenance import this_generator
from generator.receipt import StoredReceipt
from generator.replay import check_generator_pin, snapshot_ref
from generator.snapshot import extract, read_snapshot
from generator.verification import verify_receipt
from generator.writer import compare_trees, read_tree, write_tree_atomic

RECORD_FORMAT = "urn:mu:v1#Deployment"
SUBJECT_PREFIX = "enforcers/"
Entry = dict[str, Any]  # one release in the record: release, path, receipt, digest, sequence, tree

# Tests set this to damage a staged release before its health check; never set in production.
_after_stage: Callable[[Path], None] | None = None


@dataclass(frozen=True)
class DeployResult:
    """What a deploy (or rollback) switched, and what a restart has to reload."""

    action: str  # "deploy" or "rollback"
    target: Path
    release: Path  # the release TARGET now resolves to
    previous: Path | None  # kept for an instant switch back
    receipt: Path | None  # None for an adopted directory
    digest: str | None  # statement digest of the running receipt
    sequence: int | None
    changed: bool  # False when the receipt was already running
    modules_changed: tuple[str, ...]  # control modules, relative to the package
    modules_added: tuple[str, ...]
    modules_removed: tuple[str, ...]
    package_changed: tuple[str, ...]  # other files: runtime, dispatch, schema, MANIFEST
    health: HealthReport | None  # cases passed/total; None when nothing was staged
    regenerated: bool  # A came from the receipt's snapshot, not `enforcers/`
    adopted: Path | None  # where a plain directory found at TARGET was moved
    record: Path


def releases_dir(target: Path) -> Path:
    """`TARGET.releases/`, beside TARGET so that every rename stays on one file system."""
    return target.parent / f"{target.name}.releases"


def record_path(target: Path) -> Path:
    """`TARGET.deploy.json`."""
    return target.parent / f"{target.name}.deploy.json"


def release_name(receipt: StoredReceipt) -> str:
    """`<NNNN>-<12 hex of the statement digest>`, like the receipt's own file name."""
    return f"{receipt.sequence:04d}-{receipt.digest[:12]}"


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_control(rel: str) -> bool:
    return rel.startswith("controls/") and rel.endswith(".py") and rel != "controls/__init__.py"


def _same(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _running(target: Path) -> Path | None:
    """The directory TARGET serves now: a symlink's release, a plain directory, or None."""
    if target.is_symlink():
        resolved = Path(os.path.realpath(target))
        return resolved if resolved.is_dir() else None
    if target.is_dir():
        return target
    if target.exists():
        raise InputError(f"`{target}` is not a directory", hint="pass the directory A runs from")
    return None


def _expected(receipt: StoredReceipt) -> dict[str, str]:
    """The receipt's subjects as package-relative path → sha256."""
    subjects = receipt.subjects
    if not subjects or any(not n.startswith(SUBJECT_PREFIX) for n in subjects):
        raise CheckFailed(
            f"`{receipt.path.name}` does not list an enforcer package as its subjects",
            hint="deploy a build receipt from `receipts/`",
        )
    return {n.removeprefix(SUBJECT_PREFIX): d for n, d in subjects.items()}


def _mismatches(expected: Mapping[str, str], files: Mapping[str, bytes]) -> list[Problem]:
    """Every file whose bytes differ from the receipt, is missing, or is not in it."""
    actual = {p: sha256_hex(d) for p, d in files.items()}
    out = []
    for rel in sorted(set(expected) | set(actual)):
        if rel not in actual:
            out.append(Problem(rel, "recorded in the receipt, but missing"))
        elif rel not in expected:
            out.append(Problem(rel, "not recorded in the receipt"))
        elif actual[rel] != expected[rel]:
            out.append(Problem(rel, f"sha256 {actual[rel][:12]}… ≠ {expected[rel][:12]}…"))
    return out


def _obtain(
    layout: Layout, receipt: StoredReceipt, expected: Mapping[str, str], snapshot: Layout
) -> tuple[dict[str, bytes], bool]:
    """The receipt's A: `enforcers/` when byte-identical, else regenerated from the snapshot."""
    files = read_tree(layout.enforcers)
    if not _mismatches(expected, files):
        return files, False
    check_generator_pin(receipt, this_generator())
    run = run_gates(snapshot)
    if not run.ok or run.compiled is None:
        failed = ", ".join(g.name for g in run.gates if g.status != "PASS")
        raise CheckFailed(
            f"`enforcers/` differs from `{receipt.path.name}` and its snapshot fails: {failed}",
            hint="the receipt cannot be reproduced; deploy another receipt",
        )
    problems = _mismatches(expected, run.compiled.files)
    if problems:
        raise CheckFailed(
            f"A regenerated from `{receipt.path.name}` differs from what it signed: "
            + ", ".join(f"`{p.where}`" for p in problems),
            hint="`mu replay --receipt` explains the difference; nothing was deployed",
            problems=problems,
        )
    return run.compiled.files, True


def _stage(
    release: Path, files: Mapping[str, bytes], receipt: StoredReceipt, golden: Path
) -> HealthReport:
    """Write the release, then refuse it unless a fresh process finds it healthy."""
    expected = _expected(receipt)
    existed = release.exists()
    if not existed or _mismatches(expected, read_tree(release)):
        write_tree_atomic(release, files)
        # The staging directory was private (0700); the service may run as another user.
        os.chmod(release, 0o755)
    if _after_stage is not None:
        _after_stage(release)
    report = check_release(release, golden)
    problems = report.problems(receipt.predicate.get("golden", {}).get("sha256"))
    # Re-read after the check: what goes live must be the signed bytes, not merely healthy ones.
    problems += [
        Problem(p.where, f"staged: {p.message}") for p in _mismatches(expected, read_tree(release))
    ]
    if not problems:
        return report
    if not existed:  # a release that never ran is debris; one that did stays for rollback
        shutil.rmtree(release, ignore_errors=True)
    raise CheckFailed(
        f"the health check of release `{release.name}` failed "
        f"({report.headline(len(problems))}); nothing was switched",
        hint="the running release is untouched; `mu replay --receipt` reproduces the build",
        problems=problems,
    )


def _switch(target: Path, release: Path, adopt_to: Path | None) -> None:
    """Point TARGET at `release` with one rename; move a plain directory to `adopt_to`."""
    link = target.parent / f".{target.name}.link-{uuid.uuid4().hex[:12]}"
    try:
        # Relative, so the whole deployment can be moved or mounted elsewhere.
        os.symlink(os.path.relpath(release, target.parent), link)
        if adopt_to is not None:
            # Once, from a plain copy: a reader may briefly find no TARGET, never a mixture.
            os.rename(target, adopt_to)
        try:
            os.replace(link, target)
        except OSError:
            if adopt_to is not None:
                os.rename(adopt_to, target)  # put the plain directory back where it ran
            raise
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # the switch survives a crash once deploy returns
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(
            f"cannot switch `{target}`: {exc.strerror or exc}",
            hint="check permissions beside the target; the running release is unchanged",
        ) from exc
    finally:
        if link.is_symlink():
            link.unlink()


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """One deploy or rollback per target at a time, so records never interleave."""
    releases = releases_dir(target)
    try:
        releases.mkdir(parents=True, exist_ok=True)
        fd = os.open(releases / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(
            f"cannot write beside `{target}`: {exc.strerror or exc}",
            hint="the releases live in `TARGET.releases/`; check permissions",
        ) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"another deploy to `{target}` is in progress", hint="wait for it, then retry"
            ) from None
        yield
    finally:
        os.close(fd)


def _entry(path: Path, receipt: StoredReceipt | None, files: Mapping[str, bytes]) -> Entry:
    return {
        "release": path.name,
        "path": str(path),
        "receipt": os.path.abspath(receipt.path) if receipt else None,
        "digest": receipt.digest if receipt else None,
        "sequence": receipt.sequence if receipt else None,
        "tree": tree_digest(files),
    }


def read_record(target: Path) -> dict[str, Any] | None:
    """`TARGET.deploy.json`, or None before the first deploy."""
    path = record_path(Path(os.path.abspath(target)))
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"deployment record `{path}` is unreadable: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        raise InputError(f"`{path}` is not a mu deployment record")
    return data


def _running_entry(
    record: dict[str, Any] | None, running: Path | None, files: Mapping[str, bytes], at: Path | None
) -> Entry | None:
    """What runs now, as a record entry: the record's when it agrees, else receipt unknown."""
    if running is None:
        return None
    current = record.get("current") if record else None
    if isinstance(current, dict) and _same(Path(str(current.get("path"))), running):
        return current
    return _entry(at or running, None, files)


def _write_record(
    target: Path, action: str, current: Entry, previous: Entry | None, at: str
) -> None:
    """Replace `TARGET.deploy.json` atomically, then append the switch to the journal."""
    path = record_path(target)
    doc: dict[str, Any] = {"format": RECORD_FORMAT, "action": action, "target": str(target)}
    doc |= {"time": at, "current": current, "previous": previous}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        handle.flush()
        os.fchmod(handle.fileno(), 0o644)  # mkstemp's 0600 would hide it from operators
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    line = {**current, "action": action, "time": at, "target": str(target)}
    line["previous"] = previous["release"] if previous else None
    with open(releases_dir(target) / "deployments.jsonl", "a", encoding="utf-8") as journal:
        journal.write(json.dumps(line, sort_keys=True) + "\n")
        journal.flush()
        os.fsync(journal.fileno())


def _result(
    action: str,
    target: Path,
    entry: Entry,
    previous: Entry | None,
    old: Mapping[str, bytes],
    new: Mapping[str, bytes],
    *,
    changed: bool = True,
    health: HealthReport | None = None,
    regenerated: bool = False,
    adopted: Path | None = None,
) -> DeployResult:
    """The result of a switch from tree `old` to `new` (equal trees: nothing changed)."""
    diff = compare_trees(old, new)
    differs = (*diff.changed, *diff.added, *diff.removed)
    receipt = entry.get("receipt")
    return DeployResult(
        action=action,
        target=target,
        release=Path(entry["path"]),
        previous=Path(previous["path"]) if previous else None,
        receipt=Path(receipt) if isinstance(receipt, str) else None,
        digest=entry.get("digest"),
        sequence=entry.get("sequence"),
        changed=changed,
        modules_changed=tuple(p for p in diff.changed if _is_control(p)),
        modules_added=tuple(p for p in diff.added if _is_control(p)),
        modules_removed=tuple(p for p in diff.removed if _is_control(p)),
        package_changed=tuple(sorted(p for p in differs if not _is_control(p))),
        health=health,
        regenerated=regenerated,
        adopted=adopted,
        record=record_path(target),
    )


def deploy(
    layout: Layout,
    receipt_path: Path,
    target: Path,
    *,
    public_key_path: Path | None = None,
    now: Callable[[], str] | None = None,
) -> DeployResult:
    """Verify the receipt, stage its A beside TARGET, health-check it, switch atomically.

    Every refusal raises before the switch and leaves TARGET as it was.
    Deploying the receipt already running changes nothing and succeeds.
    """
    target = Path(os.path.abspath(target))
    verdict = verify_receipt(layout, receipt_path, public_key_path=public_key_path)
    if not verdict.ok:
        failed = ", ".join(c.name for c in verdict.failures)
        raise CheckFailed(
            f"receipt `{receipt_path}` does not verify: {failed} failed",
            hint="`mu verify-receipt` explains each check; nothing was deployed",
            problems=[Problem(c.name, c.detail) for c in verdict.failures],
        )
    receipt = verdict.receipt
    expected = _expected(receipt)
    release = releases_dir(target) / release_name(receipt)
    with _locked(target):
        running = _running(target)
        old = read_tree(running) if running else {}
        record = read_record(target)
        if running is not None and _same(running, release):
            if _mismatches(expected, old):
                raise CheckFailed(
                    f"the running release `{release.name}` no longer matches its receipt",
                    hint="someone edited a live release: roll back, then deploy this receipt again",
                )
            kept = (record or {}).get("previous")
            kept = kept if isinstance(kept, dict) else None
            entry = _entry(running, receipt, old)
            return _result("deploy", target, entry, kept, old, old, changed=False)
        adopt_to = None
        if running is not None and not target.is_symlink():
            adopt_to = releases_dir(target) / f"adopted-{tree_digest(old)[:12]}"
            if adopt_to.exists():
                raise InputError(f"`{adopt_to}` already exists; cannot adopt `{target}` there")
        with tempfile.TemporaryDirectory(prefix="mu-deploy-") as scratch:
            snapshot = extract(read_snapshot(layout.root, snapshot_ref(receipt)), Path(scratch))
            files, regenerated = _obtain(layout, receipt, expected, snapshot)
            health = _stage(release, files, receipt, snapshot.golden)
        previous = _running_entry(record, running, old, adopt_to)
        entry = _entry(release, receipt, files)
        _switch(target, release, adopt_to)
        _write_record(target, "deploy", entry, previous, (now or _utc_now)())
    return _result(
        "deploy",
        target,
        entry,
        previous,
        old,
        files,
        health=health,
        regenerated=regenerated,
        adopted=adopt_to,
    )


def rollback_deploy(target: Path, *, now: Callable[[], str] | None = None) -> DeployResult:
    """Switch TARGET back to the previous release of its record, after checking its bytes.

    The previous release passed its health check when it was deployed, and its
    tree digest proves it unchanged since, so the switch back is instant.
    Rolling back twice returns to where it started.
    """
    target = Path(os.path.abspath(target))
    with _locked(target):
        record = read_record(target)
        if record is None:
            raise InputError(
                f"`{target}` has no deployment record", hint="deploy it with `mu deploy` first"
            )
        back = record.get("previous")
        if not isinstance(back, dict):
            raise CheckFailed(f"`{target}` has no previous release to switch back to")
        path = Path(str(back.get("path")))
        files = read_tree(path)
        if not path.is_dir() or tree_digest(files) != back.get("tree"):
            raise CheckFailed(
                f"the previous release `{path.name}` is missing or has changed since it ran",
                hint="deploy its receipt again with `mu deploy`",
            )
        running = _running(target)
        if running is not None and not target.is_symlink():
            raise InputError(f"`{target}` is a plain directory, not a deployed symlink")
        old = read_tree(running) if running else {}
        current = _running_entry(record, running, old, None)
        _switch(target, path, None)
        _write_record(target, "rollback", back, current, (now or _utc_now)())
    return _result("rollback", target, back, current, old, files)
