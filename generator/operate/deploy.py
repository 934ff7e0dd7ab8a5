"""`mu deploy`: a verified, health-checked, atomic switch of a deployed A (SPEC §7).

Nothing goes live unless the receipt verifies under the trust root — a link of
this repository's chain, signed by its release quorum, its approvals re-checked;
`--public-key` only narrows, it never makes a key trusted — every byte matches
what it signed, and a fresh process passed its golden suite. The target
remembers the trust root it was first deployed under, and later deploys verify
from that pin. Deploying a link older than the chain's newest succeeds with a
warning, kept in the record. This module decides what
goes live: it verifies the receipt, obtains its A (from `enforcers/` or
regenerated from the receipt's snapshot), stages it and health-checks it.
Where releases live beside TARGET, the one-rename switch of the TARGET symlink
and the deployment record are `generator.operate.releases`; its public names used by
callers of this module (`releases_dir`, `record_path`, `release_name`,
`read_record`, ...) are re-exported here.

A release tree is never written once it has gone live, and the switch is one
`rename(2)` of a symlink, so a reader that resolves TARGET once sees wholly the
old or wholly the new release.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu.generator.build.gates import run_gates
from mu.generator.errors import CheckFailed, InputError, Problem
from mu.generator.files import compare_trees, read_tree, write_tree_atomic
from mu.generator.hashing import sha256_hex, tree_digest
from mu.generator.layout import Layout
from mu.generator.operate.healthcheck import HealthReport, check_release
from mu.generator.operate.releases import RECORD_FORMAT as RECORD_FORMAT
from mu.generator.operate.releases import Action as Action
from mu.generator.operate.releases import Entry as Entry
from mu.generator.operate.releases import (
    locked,
    make_entry,
    recorded_pin,
    running_entry,
    running_release,
    same_path,
    switch,
    utc_now,
    write_record,
)
from mu.generator.operate.releases import read_record as read_record
from mu.generator.operate.releases import record_path as record_path
from mu.generator.operate.releases import release_name as release_name
from mu.generator.operate.releases import releases_dir as releases_dir
from mu.generator.paths import deploy_target
from mu.generator.provenance.identity import this_generator
from mu.generator.provenance.pinned import check_generator_pin, receipt_waiver, snapshot_ref
from mu.generator.provenance.receipt import RECEIPT_TYPE, StoredReceipt
from mu.generator.provenance.snapshot import extract, read_snapshot
from mu.generator.provenance.verify_receipt import StatementVerdict, Verifier

SUBJECT_PREFIX = "enforcers/"
# A release made from a receipt: `<NNNN>-<12 hex>`, as `releases.release_name` gives.
RELEASE_NAME = re.compile(r"^[0-9]{4,}-[0-9a-f]{12}$")

# Tests set this to damage a staged release before its health check; never set in production.
_after_stage: Callable[[Path], None] | None = None


@dataclass(frozen=True)
class DeployResult:
    """What a deploy (or rollback) switched, and what a restart has to reload."""

    action: Action
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
    warnings: tuple[str, ...] = ()  # an older link of the chain went live
    trust_root: dict[str, Any] | None = None  # the pin the target keeps
    signed_by: tuple[str, ...] = ()  # the release identities that signed the receipt
    trust_warning: str | None = None  # the history's: nothing pinned the trust root
    environment: str | None = None  # the `mu.toml` environment TARGET was named by
    enforcer: Path | None = None  # the directory whose receipt was deployed (`--enforcer`)


def _is_control(rel: str) -> bool:
    return rel.startswith("controls/") and rel.endswith(".py") and rel != "controls/__init__.py"


def expected_files(receipt: StoredReceipt) -> dict[str, str]:
    """The receipt's subjects as package-relative path → sha256."""
    subjects = receipt.subjects
    if not subjects or any(not n.startswith(SUBJECT_PREFIX) for n in subjects):
        raise CheckFailed(
            f"`{receipt.path.name}` does not list an enforcer package as its subjects",
            hint="deploy a build receipt from `receipts/`",
        )
    return {n.removeprefix(SUBJECT_PREFIX): d for n, d in subjects.items()}


def mismatches(expected: Mapping[str, str], files: Mapping[str, bytes]) -> list[Problem]:
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
    if not mismatches(expected, files):
        return files, False
    check_generator_pin(receipt, this_generator())
    # Held to the coverage bar the receipt recorded, as `mu replay` holds it.
    bar = receipt.predicate.coverage
    run = run_gates(
        snapshot,
        waived=receipt_waiver(layout, receipt),
        min_coverage=bar.required if bar is not None else None,
    )
    if not run.ok or run.compiled is None:
        failed = ", ".join(g.name for g in run.gates if not g.ok)
        raise CheckFailed(
            f"`enforcers/` differs from `{receipt.path.name}` and its snapshot fails: {failed}",
            hint="the receipt cannot be reproduced; deploy another receipt",
        )
    problems = mismatches(expected, run.compiled.files)
    if problems:
        raise CheckFailed(
            f"A regenerated from `{receipt.path.name}` differs from what it signed: "
            + ", ".join(f"`{p.where}`" for p in problems),
            hint="`mu replay --receipt` explains the difference; nothing was deployed",
            problems=problems,
        )
    return run.compiled.files, True


def _health_problems(
    release: Path, receipt: StoredReceipt, golden: Path
) -> tuple[HealthReport, list[Problem]]:
    """A fresh process's health check of `release`, and every byte that differs from the receipt."""
    report = check_release(release, golden)
    problems = report.problems(receipt.predicate.golden.sha256)
    # Re-read after the check: what goes live must be the signed bytes, not merely healthy ones.
    problems += [
        Problem(p.where, f"staged: {p.message}")
        for p in mismatches(expected_files(receipt), read_tree(release))
    ]
    return report, problems


def _stage(
    release: Path, files: Mapping[str, bytes], receipt: StoredReceipt, golden: Path
) -> HealthReport:
    """Write the release, then refuse it unless a fresh process finds it healthy."""
    expected = expected_files(receipt)
    existed = release.exists()
    if not existed or mismatches(expected, read_tree(release)):
        write_tree_atomic(release, files)
        # The staging directory was private (0700); the service may run as another user.
        os.chmod(release, 0o755)
    if _after_stage is not None:
        _after_stage(release)
    report, problems = _health_problems(release, receipt, golden)
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


@dataclass(frozen=True)
class Trusted:
    """A receipt that verified for a deploy: its verdict, the pin the target keeps, and
    what the deploy warns about."""

    verdict: StatementVerdict
    pin: dict[str, Any]
    warnings: tuple[str, ...]

    @property
    def receipt(self) -> StoredReceipt:
        """The verified receipt."""
        return self.verdict.receipt


def _result(
    action: Action,
    target: Path,
    entry: Entry,
    previous: Entry | None,
    old: Mapping[str, bytes],
    new: Mapping[str, bytes],
    trusted: Trusted,
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
        warnings=trusted.warnings,
        trust_root=trusted.pin,
        signed_by=trusted.verdict.signers,
        trust_warning=trusted.verdict.warning,
    )


def verifier_for(
    layout: Layout,
    target: Path,
    record: Mapping[str, Any] | None,
    trust_root: str | None,
    public_key_path: Path | None,
) -> Verifier:
    """The trust root to verify from: `--trust-root` when given, else the one the target
    was first deployed under (its record's pin), else — the first deploy — the
    repository's own, said loudly. A pinned target also refuses a `--trust-root` that
    does not reach its pin: the repository's root was replaced."""
    pinned = recorded_pin(record)
    if pinned is not None:
        try:
            by_record = Verifier(
                layout, trust_root=pinned["digest"], public_key_path=public_key_path
            )
        except CheckFailed as exc:
            raise CheckFailed(
                f"`{target}` was first deployed under trust root version {pinned['version']} "
                f"(sha256 {pinned['digest'][:12]}…), which this repository's trust root no "
                f"longer reaches: {exc.message}",
                hint="a replaced trust root never deploys to an existing target; if compliance "
                f"replaced it, have them confirm the new one and move `{record_path(target)}` "
                "aside, so the next deploy pins it afresh",
                problems=exc.problems,
            ) from exc
        if trust_root is None:
            return by_record
    return Verifier(layout, trust_root=trust_root, public_key_path=public_key_path)


def _trusted(
    verifier: Verifier,
    verdict: StatementVerdict,
    receipt_path: Path,
    record: Mapping[str, Any] | None,
) -> Trusted:
    """The receipt, once every check of `mu verify-receipt` passed; else refuse."""
    if not verdict.ok:
        failed = ", ".join(c.name for c in verdict.failures)
        raise CheckFailed(
            f"receipt `{receipt_path}` does not verify: {failed} failed",
            hint="`mu verify-receipt` explains each check; nothing was deployed",
            problems=[Problem(c.name, c.detail) for c in verdict.failures],
        )
    receipt = verdict.receipt
    links = [r for r in verifier.chain if r.is_receipt]
    head = max(links, key=lambda r: r.sequence) if links else None
    warnings: tuple[str, ...] = ()
    if head is not None and receipt.sequence < head.sequence:
        warnings = (
            f"`{receipt.path.name}` is receipt {receipt.sequence}, older than the newest link "
            f"of the chain (`{head.path.name}`, receipt {head.sequence}): this deploys an "
            "older policy",
        )
    pin = recorded_pin(record) or verifier.history.first.ref()
    return Trusted(verdict, pin, warnings)


def deploy(
    layout: Layout,
    receipt_path: Path,
    target: Path,
    *,
    public_key_path: Path | None = None,
    trust_root: str | None = None,
    now: Callable[[], str] | None = None,
) -> DeployResult:
    """Verify the receipt, stage its A beside TARGET, health-check it, switch atomically.

    Every refusal raises before the switch and leaves TARGET as it was.
    Deploying the receipt already running changes nothing and succeeds.
    """
    target = deploy_target(layout, target)
    pinned_by = read_record(target)
    verifier = verifier_for(layout, target, pinned_by, trust_root, public_key_path)
    verdict = verifier.path(receipt_path, RECEIPT_TYPE)
    trusted = _trusted(verifier, verdict, receipt_path, pinned_by)
    receipt = trusted.receipt
    expected = expected_files(receipt)
    release = releases_dir(target) / release_name(receipt)
    with locked(target):
        running = running_release(target)
        old = read_tree(running) if running else {}
        record = read_record(target)
        if running is not None and same_path(running, release):
            if mismatches(expected, old):
                raise CheckFailed(
                    f"the running release `{release.name}` no longer matches its receipt",
                    hint="someone edited a live release: roll back, then deploy this receipt again",
                )
            kept = (record or {}).get("previous")
            kept = kept if isinstance(kept, dict) else None
            entry = make_entry(running, receipt, old)
            return _result("deploy", target, entry, kept, old, old, trusted, changed=False)
        adopt_to = None
        if running is not None and not target.is_symlink():
            adopt_to = releases_dir(target) / f"adopted-{tree_digest(old)[:12]}"
            if adopt_to.exists():
                raise InputError(
                    f"`{adopt_to}` already exists; cannot adopt `{target}` there",
                    hint=f"move `{adopt_to}` aside, then deploy again",
                )
        with tempfile.TemporaryDirectory(prefix="mu-deploy-") as scratch:
            snapshot = extract(read_snapshot(layout.root, snapshot_ref(receipt)), Path(scratch))
            files, regenerated = _obtain(layout, receipt, expected, snapshot)
            health = _stage(release, files, receipt, snapshot.golden)
        previous = running_entry(record, running, old, adopt_to)
        entry = make_entry(release, receipt, files)
        switch(target, release, adopt_to)
        write_record(
            target,
            "deploy",
            entry,
            previous,
            (now or utc_now)(),
            trust_root=trusted.pin,
            warnings=trusted.warnings,
        )
    return _result(
        "deploy",
        target,
        entry,
        previous,
        old,
        files,
        trusted,
        health=health,
        regenerated=regenerated,
        adopted=adopt_to,
    )


def _previous_release(verifier: Verifier, target: Path, back: object) -> tuple[Path, StoredReceipt]:
    """The previous release of the record, found by name under `TARGET.releases/` only.

    The record is a file beside TARGET that anyone with write access could edit,
    so nothing in it is followed: its release name must be a receipt's
    (`NNNN-<12 hex>`), the directory is looked up under `TARGET.releases/`, and
    the receipt is looked up in this repository's own chain.
    """
    name = back.get("release") if isinstance(back, dict) else None
    if not isinstance(name, str) or not RELEASE_NAME.match(name):
        raise CheckFailed(
            f"the previous release of `{target}` ({name!r}) was not deployed from a receipt",
            hint="only a verified release can be switched back to; deploy a receipt "
            "with `mu deploy --receipt`",
        )
    release = releases_dir(target) / name
    if release.is_symlink() or not release.is_dir():
        raise CheckFailed(
            f"the previous release `{name}` is missing from `{releases_dir(target)}`",
            hint="deploy its receipt again with `mu deploy`",
        )
    receipt = next((r for r in verifier.chain if r.is_receipt and release_name(r) == name), None)
    if receipt is None:
        raise CheckFailed(
            f"the previous release `{name}` matches no receipt of this repository's chain",
            hint="switch back from the policy repository that deployed it, or deploy a receipt",
        )
    return release, receipt


def rollback_deploy(
    layout: Layout,
    target: Path,
    *,
    public_key_path: Path | None = None,
    trust_root: str | None = None,
    now: Callable[[], str] | None = None,
) -> DeployResult:
    """Switch TARGET back to the previous release of its record — only a verified one.

    The previous release must be a receipt's release under `TARGET.releases/`;
    the receipt must verify (from the target's pinned trust root), the release's
    bytes must be exactly what it signed, and a fresh process must find it healthy,
    as for a deploy. Rolling back twice returns to where it started.
    """
    target = deploy_target(layout, target)
    with locked(target):
        record = read_record(target)
        if record is None:
            raise InputError(
                f"`{target}` has no deployment record", hint="deploy it with `mu deploy` first"
            )
        back = record.get("previous")
        if not isinstance(back, dict):
            raise CheckFailed(
                f"`{target}` has no previous release to switch back to",
                hint="deploy the release you want with `mu deploy --receipt RECEIPT`",
            )
        verifier = verifier_for(layout, target, record, trust_root, public_key_path)
        path, found = _previous_release(verifier, target, back)
        trusted = _trusted(verifier, verifier.loaded(found), found.path, record)
        receipt = trusted.receipt
        files = read_tree(path)
        problems = mismatches(expected_files(receipt), files)
        if problems:
            raise CheckFailed(
                f"the previous release `{path.name}` has changed since it ran",
                hint="deploy its receipt again with `mu deploy`",
                problems=problems,
            )
        with tempfile.TemporaryDirectory(prefix="mu-deploy-") as scratch:
            snapshot = extract(read_snapshot(layout.root, snapshot_ref(receipt)), Path(scratch))
            health, problems = _health_problems(path, receipt, snapshot.golden)
        if problems:
            raise CheckFailed(
                f"the health check of the previous release `{path.name}` failed; "
                "nothing was switched",
                hint="deploy a receipt that passes with `mu deploy`",
                problems=problems,
            )
        running = running_release(target)
        if running is not None and not target.is_symlink():
            raise InputError(
                f"`{target}` is a plain directory, not a deployed symlink",
                hint="deploy a receipt to it with `mu deploy` first; it adopts the directory",
            )
        old = read_tree(running) if running else {}
        current = running_entry(record, running, old, None)
        entry = make_entry(path, receipt, files)
        switch(target, path, None)
        write_record(
            target,
            "rollback",
            entry,
            current,
            (now or utc_now)(),
            trust_root=trusted.pin,
            warnings=trusted.warnings,
        )
    return _result("rollback", target, entry, current, old, files, trusted, health=health)
