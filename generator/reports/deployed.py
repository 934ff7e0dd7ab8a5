"""Renderers of `mu receipt --deployment NAME`: the signed record of what runs there.

Pure functions, and their table keyed by `--format` (as `generator.reports.tables`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mu.generator.operate.deployed import Deployment
from mu.generator.reports import common


def deployment_dict(d: Deployment) -> dict[str, Any]:
    """The deployed receipt as plain data."""
    return {
        "environment": d.environment,
        "target": str(d.target),
        "release": str(d.release),
        "receipt": str(d.receipt),
        "sequence": d.sequence,
        "statement_digest": d.digest,
        "signed_by": list(d.signers),
        "keyids": list(d.keyids),
        "signed_at": d.signed_at,
        "trust_root_version": d.trust_root_version,
        "trust_root_from": d.pinned_by,
        "target_pin_version": d.pin_version,
        "deployed_since": d.since,
        "deployed_by": d.action,
        "files": d.files,
        "verified": True,
        "warning": d.warning,
    }


def deployment_text(d: Deployment) -> str:
    """The answer first (what runs, since when), then the evidence that it verified.

    The unpinned-trust warning goes to standard error (the command prints it)."""
    where = f"`{d.environment}` (`{d.target}`)" if d.environment else f"`{d.target}`"
    since = f" since {d.since}" if d.since else ""
    how = " (switched back)" if d.action == "rollback" else ""
    signers = ", ".join(f"`{s}`" for s in d.signers) or "-"
    keyids = ", ".join(d.keyids) or "-"
    pin = {
        "trust-root": "reached from `--trust-root`",
        "target": f"reached from this target's pin, version {d.pin_version}",
    }.get(d.pinned_by, "the repository's own, unpinned")
    lines = [
        f"ok: {where} runs receipt {d.sequence} (`{d.receipt.name}`){since}{how}",
        f"  release:          `{d.release.name}`",
        f"  statement digest: sha256:{d.digest}",
        f"  signed by:        {signers} at {d.signed_at or 'an unrecorded time'}",
        f"  keyid:            {keyids}",
        f"  verified:         signature, chain link and approvals under trust root version "
        f"{d.trust_root_version} ({pin})",
        f"  files:            all {d.files} are the bytes the receipt signed",
    ]
    return "\n".join(lines)


DEPLOYMENT: Mapping[str, Callable[[Deployment], str]] = {
    "text": lambda d: deployment_text(d) + "\n",
    "json": lambda d: common.to_json(deployment_dict(d)) + "\n",
}
