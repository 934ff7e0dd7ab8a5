"""Deploying to a named environment, and the signed record of what runs there.

`mu deploy --target NAME --enforcer DIR` (SPEC §7, the runbooks' spelling): NAME
is resolved through `mu.toml` (`generator.operate.environments`), DIR to the
receipt that records it (`generator.operate.recorded`), and the receipt goes
through the one verified, health-checked, atomic path of `generator.operate.deploy`.

`mu receipt --deployment NAME`: what runs in an environment, proven rather than
remembered — the release TARGET resolves to must be the one its deployment record
names, that record's receipt must verify under the target's pinned trust root, and
every byte must be what the receipt signed (`generator.operate.running`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mu.generator.errors import InputError
from mu.generator.layout import Layout
from mu.generator.operate.deploy import DeployResult, deploy, rollback_deploy, verifier_for
from mu.generator.operate.environments import Target, resolve_target
from mu.generator.operate.recorded import receipt_recording
from mu.generator.operate.releases import read_record, record_path, recorded_pin
from mu.generator.operate.running import verify_running


def deploy_to(
    layout: Layout,
    target: str,
    *,
    receipt: Path | None = None,
    enforcer: Path | None = None,
    switch_back: bool = False,
    public_key_path: Path | None = None,
    trust_root: str | None = None,
    now: Callable[[], str] | None = None,
) -> DeployResult:
    """Deploy the receipt (given, or the one recording `enforcer`) to TARGET, or switch
    TARGET back; TARGET an environment of `mu.toml` or a directory.

    Exactly one of `receipt` and `enforcer` unless switching back (then neither):
    `InputError` otherwise.
    """
    given = [f"`--{n}`" for n, v in (("receipt", receipt), ("enforcer", enforcer)) if v]
    if switch_back and given:
        raise InputError(
            f"`--switch-back` takes no {' or '.join(given)}",
            hint="switch back alone, or deploy a receipt without `--switch-back`",
        )
    if not switch_back and len(given) != 1:
        raise InputError(
            "`mu deploy` needs exactly one of `--receipt` and `--enforcer` (or `--switch-back`)",
            hint="pass `--receipt RECEIPT`, or `--enforcer DIR` to deploy the receipt that "
            "records that A, or `--switch-back` to return TARGET to its previous release",
        )
    where = resolve_target(layout, target)
    if switch_back:
        result = rollback_deploy(
            layout, where.path, public_key_path=public_key_path, trust_root=trust_root, now=now
        )
        return dataclasses.replace(result, environment=_name(where))
    found = receipt_recording(layout, enforcer) if enforcer is not None else None
    chosen = found.receipt.path if found is not None else receipt
    assert chosen is not None  # exactly one of the two was given
    result = deploy(
        layout, chosen, where.path, public_key_path=public_key_path, trust_root=trust_root, now=now
    )
    return dataclasses.replace(result, environment=_name(where), enforcer=enforcer)


def _name(where: Target) -> str | None:
    return where.environment.name if where.environment is not None else None


@dataclass(frozen=True)
class Deployment:
    """What runs in one environment, verified: its receipt, who signed it, since when."""

    environment: str | None  # None when a directory was named
    target: Path
    release: Path  # the release directory TARGET resolves to
    receipt: Path
    sequence: int
    digest: str  # the receipt's statement digest
    signers: tuple[str, ...]  # release identities whose signatures count
    keyids: tuple[str, ...]
    signed_at: str | None  # the signer's claimed time
    trust_root_version: int | None  # the version it verified under
    # What the trust root was verified from: `trust-root` (the option), `target` (the
    # version the target was first deployed under, `pin_version`) or `repository` (unpinned).
    pinned_by: str
    pin_version: int | None
    since: str | None  # when the switch to this release was recorded
    action: str | None  # what made it current: `deploy` or `rollback`
    files: int  # files of the release, each the bytes the receipt signed
    warning: str | None = None  # nothing pinned the trust root


def deployed_receipt(layout: Layout, name: str, *, trust_root: str | None = None) -> Deployment:
    """The verified receipt of what runs at NAME (an environment of `mu.toml`, or a directory).

    `InputError` (exit 2) for an unknown environment or when nothing was deployed
    there; `CheckFailed` (exit 1) saying why when the deployed release does not verify.
    """
    where = resolve_target(layout, name)
    target = Path(os.path.abspath(where.path))
    shown = f"environment `{name}` (`{target}`)" if where.environment else f"`{target}`"
    record = read_record(target)
    if record is None or not os.path.lexists(target):
        raise InputError(
            f"nothing is deployed to {shown}: no deployment record `{record_path(target)}`",
            hint="deploy a receipt there with `mu deploy --target "
            f"{name} --enforcer DIR` (or `--receipt R`)",
        )
    running = verify_running(layout, target, trust_root)
    verdict = verifier_for(layout, target, record, trust_root, None).loaded(running.receipt)
    time, action = record.get("time"), record.get("action")
    pin = recorded_pin(record)
    pinned_by = "trust-root" if trust_root else "target" if pin is not None else "repository"
    return Deployment(
        environment=_name(where),
        target=target,
        release=running.path,
        receipt=running.receipt.path,
        sequence=running.receipt.sequence,
        digest=running.digest,
        signers=verdict.signers,
        keyids=verdict.keyids,
        signed_at=verdict.signed_at,
        trust_root_version=verdict.version,
        pinned_by=pinned_by,
        pin_version=pin["version"] if pin is not None else None,
        since=time if isinstance(time, str) else None,
        action=action if isinstance(action, str) else None,
        files=len(running.files),
        warning=verdict.warning,
    )
