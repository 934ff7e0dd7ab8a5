"""Changing the trust root: `mu trust add|remove|policy|sign|list` (SPEC §7, §9);
version 1 is `trustinit.py`.

Every change is a *proposal* of the next version, kept in
`receipts/trust/proposed.json` while it collects signatures. It takes effect
— becomes `receipts/trust/<N>.json` and `receipts/trust.json` — only once a
quorum of the current version's root identities and a quorum of its own have
signed it (`mu trust sign --key`). Changing a proposal drops the signatures it
had: they were over other bytes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mu.generator.errors import CheckFailed, InputError
from mu.generator.files import write_file_atomic
from mu.generator.layout import Layout
from mu.generator.paths import inside_repository
from mu.generator.provenance.dsse import (
    PAYLOAD_TYPE,
    Envelope,
    match_signatures,
    read_envelope_file,
    sign,
)
from mu.generator.provenance.keys import keyid_of, load_public_key, public_pem
from mu.generator.provenance.legacytrust import default_name
from mu.generator.provenance.receipt import RECEIPT_NAME, chain_paths, store
from mu.generator.provenance.signing import Signer, resolve_signer
from mu.generator.provenance.trusthistory import (
    TrustHistory,
    load_history,
    parse_version,
    version_paths,
)
from mu.generator.provenance.trustroot import (
    ROLES,
    Identity,
    Quorum,
    Role,
    RoleKeys,
    RootMetadata,
    RootVersion,
    quorum,
)

Action = Literal["init", "migrate", "add", "remove", "policy", "sign"]


@dataclass(frozen=True)
class TrustChange:
    """A proposed (or now effective) version, what changed, and whose signatures it has."""

    action: Action
    detail: str
    metadata: RootMetadata
    own: Quorum  # root signatures counted against the proposal itself
    previous: Quorum | None  # ... and against the version it replaces (None for version 1)
    promoted: bool
    path: Path

    @property
    def missing(self) -> str:
        """What the proposal still needs, in a line ("" once it took effect)."""
        if self.promoted:
            return ""
        needs = [q for q in (self.previous, self.own) if q is not None and not q.ok]
        return "; ".join(
            f"{q.threshold - len(q.identities)} more root signature(s) of version {q.version}"
            for q in needs
        )


def chain_head(layout: Layout) -> int:
    """The sequence of the newest receipt of the chain (0 when there is none)."""
    paths = chain_paths(layout.receipts)
    match = RECEIPT_NAME.match(paths[-1].name) if paths else None
    return int(match.group(1)) if match else 0


def empty_roles() -> dict[Role, RoleKeys]:
    """Every role with no key and threshold 1: where version 1 starts from."""
    return {r: RoleKeys((), 1) for r in ROLES}


def checked(metadata: RootMetadata) -> RootMetadata:
    """Re-read `metadata` as a verifier would; a version nobody could satisfy is refused."""
    try:
        return RootMetadata.from_dict(metadata.to_dict(), "the proposal")
    except CheckFailed as exc:
        first = exc.problems[0] if exc.problems else None
        what = f"{first.where} {first.message}" if first else exc.message
        raise InputError(
            f"the change would make an invalid trust root: {what}",
            hint="lower the threshold with `mu trust policy --threshold ROLE=N`, or add keys first",
            problems=exc.problems,
        ) from None


def merge_signature(envelope: Envelope, signer: Signer) -> Envelope:
    """`envelope` with `signer`'s signature added (one per key, sorted by keyid)."""
    new = sign(PAYLOAD_TYPE, envelope.payload, signer.key).signatures[0]
    # The signer's earlier signature is replaced whatever keyid another tool gave it.
    mine = match_signatures(envelope, {signer.keyid: signer.key.public_key()})
    kept = tuple(
        s
        for s, k in zip(envelope.signatures, mine.keyids, strict=True)
        if k is None and s.keyid != new.keyid
    )
    return dataclasses.replace(
        envelope, signatures=tuple(sorted((*kept, new), key=lambda s: s.keyid))
    )


def unsigned(metadata: RootMetadata) -> Envelope:
    """A proposal of `metadata` that no one has signed yet."""
    return Envelope(PAYLOAD_TYPE, metadata.statement(), ())


def _read_proposal(layout: Layout) -> RootVersion | None:
    path = layout.trust_proposal
    if not path.exists():
        return None
    envelope = read_envelope_file(path, "trust-root proposal", unsigned_ok=True)
    return parse_version(envelope, path)


def _newest(layout: Layout) -> TrustHistory:
    return load_history(layout)


def _base(layout: Layout) -> tuple[RootMetadata, RootVersion]:
    """The metadata a new change starts from: the pending proposal, else the next version."""
    history = _newest(layout)
    newest = history.newest
    proposal = _read_proposal(layout)
    if proposal is not None and proposal.metadata.previous == newest.digest:
        return dataclasses.replace(proposal.metadata, effective_after=chain_head(layout)), newest
    # No proposal, or one made against an older version: start from the newest.
    return (
        dataclasses.replace(
            newest.metadata,
            version=newest.version + 1,
            previous=newest.digest,
            effective_after=chain_head(layout),
            legacy=(),
        ),
        newest,
    )


def _write_proposal(
    layout: Layout, action: Action, detail: str, metadata: RootMetadata, previous: RootVersion
) -> TrustChange:
    metadata = checked(metadata)
    envelope = unsigned(metadata)
    path = inside_repository(layout, layout.trust_proposal)
    write_file_atomic(path, envelope.to_json())
    return TrustChange(
        action,
        detail,
        metadata,
        quorum(envelope, metadata, "root"),
        quorum(envelope, previous.metadata, "root"),
        False,
        path,
    )


def propose_add(
    layout: Layout, public_key_path: Path, role: Role, identity: str | None
) -> TrustChange:
    """Propose a version in which the key in `public_key_path` holds `role` for `identity`."""
    key = load_public_key(public_key_path)
    keyid = keyid_of(key)
    name = (identity if identity is not None else default_name(public_key_path)).strip()
    if not name:
        raise InputError("the identity name is empty", hint="pass `--identity NAME`")
    metadata, previous = _base(layout)
    holder = metadata.identity_of(keyid)
    if holder is not None and holder != name:
        raise InputError(
            f"key `{keyid[:12]}` is already held by identity `{holder}`",
            hint=f"a key belongs to one identity; pass `--identity {holder}` to give it a role",
        )
    if keyid in metadata.roles[role].keyids:
        raise InputError(
            f"key `{keyid[:12]}` (`{name}`) already holds role `{role}`", hint="nothing to change"
        )
    identities = dict(metadata.identities)
    old = identities.get(name)
    keys = {**(old.keys if old else {}), keyid: public_pem(key)}
    identities[name] = Identity(name, keys)
    roles = dict(metadata.roles)
    spec = roles[role]
    roles[role] = RoleKeys(tuple(sorted({*spec.keyids, keyid})), spec.threshold)
    changed = dataclasses.replace(metadata, identities=identities, roles=roles)
    detail = f"key `{keyid[:12]}` of identity `{name}` gains role `{role}`"
    return _write_proposal(layout, "add", detail, changed, previous)


def _find_key(metadata: RootMetadata, given: str) -> str:
    given = given.strip().lower()
    known = sorted(k for i in metadata.identities.values() for k in i.keys)
    found = [k for k in known if k.startswith(given)] if len(given) >= 8 else []
    if len(found) != 1:
        raise InputError(
            f"`{given}` names {'no' if not found else 'more than one'} key of the trust root",
            hint="pass a keyid (or at least 8 of its first hex digits) from `mu trust list`",
        )
    return found[0]


def propose_remove(layout: Layout, keyid: str) -> TrustChange:
    """Propose a version without the key `keyid` (a full keyid or a unique prefix)."""
    metadata, previous = _base(layout)
    found = _find_key(metadata, keyid)
    owner = metadata.identity_of(found)
    assert owner is not None
    identities = dict(metadata.identities)
    rest = {k: v for k, v in identities[owner].keys.items() if k != found}
    if rest:
        identities[owner] = Identity(owner, rest)
    else:
        del identities[owner]
    roles = {
        r: RoleKeys(tuple(k for k in s.keyids if k != found), s.threshold)
        for r, s in metadata.roles.items()
    }
    changed = dataclasses.replace(metadata, identities=identities, roles=roles)
    detail = f"key `{found[:12]}` of identity `{owner}` is removed from every role"
    return _write_proposal(layout, "remove", detail, changed, previous)


def propose_policy(
    layout: Layout, approvals: int | None, thresholds: dict[Role, int]
) -> TrustChange:
    """Propose a version with another approvals policy and/or role thresholds."""
    if approvals is None and not thresholds:
        raise InputError("nothing to change", hint="pass `--approvals N` or `--threshold ROLE=N`")
    if approvals is not None and approvals < 1:
        raise InputError(
            "every change needs at least one compliance approval",
            hint="pass `--approvals 1` or more",
        )
    multi = sorted(r for r, n in thresholds.items() if r != "root" and n != 1)
    if multi:
        # One build, approval or audit is signed by one key: a threshold above 1
        # could never be met (approvals count identities through the policy instead).
        raise InputError(
            f"the `{multi[0]}` role signs with one key per statement: its threshold stays 1",
            hint="raise `--approvals N` to require more compliance identities per change; "
            "only the root threshold can be raised",
        )
    metadata, previous = _base(layout)
    roles = dict(metadata.roles)
    for role, n in thresholds.items():
        roles[role] = RoleKeys(roles[role].keyids, n)
    changed = dataclasses.replace(
        metadata,
        roles=roles,
        approvals=approvals if approvals is not None else metadata.approvals,
    )
    parts = [f"approvals {changed.approvals}"] + [
        f"{r} threshold {n}" for r, n in thresholds.items()
    ]
    return _write_proposal(layout, "policy", "policy: " + ", ".join(parts), changed, previous)


def sign_proposal(layout: Layout, key_path: Path) -> TrustChange:
    """Sign the pending proposal; it takes effect once both root quorums have signed.

    A key that is a root key of neither the current version nor the proposal
    is refused (`CheckFailed`, exit 1): its signature could count for nothing.
    """
    proposal = _read_proposal(layout)
    if proposal is None:
        raise InputError(
            "there is no trust-root proposal to sign",
            hint="propose a change first with `mu trust add|remove|policy`",
        )
    versions = version_paths(layout)
    previous = _newest(layout).newest if versions else None
    if previous is not None and proposal.metadata.previous != previous.digest:
        raise CheckFailed(
            f"the proposal replaces a version older than version {previous.version}",
            hint="make the change again with `mu trust add|remove|policy`",
        )
    signer = resolve_signer(layout, key_path)
    roots = set(proposal.metadata.roles["root"].keyids)
    if previous is not None:
        roots |= set(previous.metadata.roles["root"].keyids)
    if signer.keyid not in roots:
        raise CheckFailed(
            f"key `{signer.keyid[:12]}` is not a root key of the trust root or of the proposal",
            hint="only root identities sign trust-root versions; `mu trust list` shows them",
        )
    envelope = merge_signature(proposal.envelope, signer)
    return settle(
        layout,
        "sign",
        f"signed by `{_name(proposal, previous, signer)}`",
        envelope,
        proposal.metadata,
        previous,
    )


def _name(proposal: RootVersion, previous: RootVersion | None, signer: Signer) -> str:
    for m in (proposal.metadata, previous.metadata if previous else None):
        if m is not None and (n := m.identity_of(signer.keyid)):
            return n
    return signer.keyid[:12]


def settle(
    layout: Layout,
    action: Action,
    detail: str,
    envelope: Envelope,
    metadata: RootMetadata,
    previous: RootVersion | None,
) -> TrustChange:
    """Keep a signed proposal, or — once both quorums signed — make it the newest version."""
    own = quorum(envelope, metadata, "root")
    prior = quorum(envelope, previous.metadata, "root") if previous else None
    ready = own.ok and (prior is None or prior.ok)
    if ready and metadata.effective_after != chain_head(layout):
        raise CheckFailed(
            f"the chain has grown since this proposal was made (it takes effect after "
            f"receipt {metadata.effective_after}, the newest is {chain_head(layout)})",
            hint="make the change again with `mu trust add|remove|policy` and collect the "
            "signatures again, so no receipt is made under a version it would revoke",
        )
    if not ready:
        path = inside_repository(layout, layout.trust_proposal)
        write_file_atomic(path, envelope.to_json())
        return TrustChange(action, detail, metadata, own, prior, False, path)
    path = store(layout, layout.trust_dir, f"{metadata.version}.json", envelope)
    write_file_atomic(inside_repository(layout, layout.trust_file), envelope.to_json())
    layout.trust_proposal.unlink(missing_ok=True)
    return TrustChange(action, detail, metadata, own, prior, True, path)


@dataclass(frozen=True)
class TrustListing:
    """What `mu trust list` shows: the verified history and any pending proposal."""

    history: TrustHistory
    proposal: RootVersion | None


def list_root(layout: Layout, pin: str | None = None) -> TrustListing:
    """The verified trust root (from `pin`, when given) and the pending proposal."""
    return TrustListing(load_history(layout, pin), _read_proposal(layout))
