"""Renderers for `mu trust`: a change (proposal or new version) and the listing."""

from __future__ import annotations

from typing import Any

from mu.generator.provenance.trustedit import TrustChange, TrustListing
from mu.generator.provenance.trustroot import ROLES, Quorum, RootMetadata, RootVersion


def _quorum_dict(q: Quorum | None) -> dict[str, Any] | None:
    if q is None:
        return None
    return {
        "version": q.version,
        "threshold": q.threshold,
        "signed_by": list(q.identities),
        "ok": q.ok,
    }


def metadata_dict(m: RootMetadata) -> dict[str, Any]:
    """A version as plain data, keys listed under their identities."""
    return {
        "version": m.version,
        "repository": m.repository,
        "effective_after": m.effective_after,
        "identities": {
            name: {
                "keys": {k: list(m.roles_of(k)) for k in sorted(i.keys)},
            }
            for name, i in sorted(m.identities.items())
        },
        "roles": {r: m.roles[r].to_dict() for r in ROLES},
        "policy": {"approvals": m.approvals},
        "previous": m.previous,
        "legacy": len(m.legacy),
    }


def change_dict(c: TrustChange) -> dict[str, Any]:
    """`mu trust init|add|remove|policy|sign|migrate --format json`."""
    return {
        "action": c.action,
        "detail": c.detail,
        "version": c.metadata.version,
        "took_effect": c.promoted,
        "path": str(c.path),
        "root_signatures": {"own": _quorum_dict(c.own), "previous": _quorum_dict(c.previous)},
        "missing": c.missing,
        "trust_root": metadata_dict(c.metadata),
    }


def change_text(c: TrustChange) -> str:
    """What changed, and what the version still needs before it takes effect."""
    lines = [f"{c.action}: {c.detail}"]
    if c.promoted:
        lines.append(
            f"trust root version {c.metadata.version} took effect ({c.path.name}; "
            "`receipts/trust.json` updated)"
        )
    else:
        lines.append(f"proposed version {c.metadata.version} ({c.path}): not yet in effect")
        lines.append(f"needs: {c.missing}")
        lines.append("next: each root identity runs `mu trust sign --key ROOT_KEY`")
    return "\n".join(lines)


def _version_lines(v: RootVersion, label: str) -> list[str]:
    m = v.metadata
    lines = [
        f"{label} {m.version} of repository `{m.repository}` (sha256 {v.digest})",
        f"  policy: {m.approvals} compliance approval(s) per change; "
        f"takes effect after receipt {m.effective_after}",
    ]
    for role in ROLES:
        spec = m.roles[role]
        holders = ", ".join(f"{m.identity_of(k)} ({k[:12]})" for k in spec.keyids) or "nobody"
        lines.append(f"  {role:<10} threshold {spec.threshold}: {holders}")
    if m.legacy:
        lines.append(f"  adopted {len(m.legacy)} statement(s) made before trust roots")
    return lines


def listing_text(t: TrustListing) -> str:
    """`mu trust list`: the verified newest version, its history, and any proposal."""
    history = t.history
    lines = _version_lines(history.newest, "trust root version")
    lines.append(
        "history: "
        + ", ".join(f"v{v.version} {v.digest[:12]}" for v in history.versions)
        + (" (verified from the pin)" if history.pinned else " (verified from version 1)")
    )
    if t.proposal is not None:
        lines += _version_lines(t.proposal, "proposed version")
        own = t.proposal.envelope.signatures
        lines.append(f"  signatures so far: {len(own)}")
    return "\n".join(lines)


def listing_dict(t: TrustListing) -> dict[str, Any]:
    """`mu trust list --format json`."""
    return {
        "trust_root": metadata_dict(t.history.newest.metadata),
        "digest": t.history.newest.digest,
        "versions": [{"version": v.version, "digest": v.digest} for v in t.history.versions],
        "pinned": t.history.pinned,
        "proposal": metadata_dict(t.proposal.metadata) if t.proposal else None,
    }
