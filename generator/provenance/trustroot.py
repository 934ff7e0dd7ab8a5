"""The signed trust root (SPEC §9): who may sign what, as signed metadata.

In the manner of TUF's root role, one version of the trust root names the
repository, its identities (a name and the public keys it holds), five roles
(`root`, `release`, `compliance`, `auditor`, `runtime`), each a set of keys
and a threshold of distinct identities, and the policy (how many compliance
identities approve each change). A version is an in-toto statement of type
`urn:mu:v1#TrustRoot` in a DSSE envelope, signed by its root quorum and, from
version 2 on, by the previous version's root quorum too; `trusthistory.py`
walks and verifies the versions.

`effective_after` ties a version to the receipt chain: receipts with a
sequence above it are made under this version (or a later one), so a key
removed by this version can never sign a later link by claiming an older
version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, get_args

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mu.generator.errors import CheckFailed, Problem
from mu.generator.hashing import canonical_json, digest_json, sha256_hex
from mu.generator.jsonshape import (
    MAX_SAFE_INTEGER,
    Hex64,
    Integer,
    ListOf,
    MapOf,
    Nullable,
    Text,
    add_problem,
    record,
)
from mu.generator.provenance.dsse import NO_KEYID, Envelope, hint, match_signatures
from mu.generator.provenance.keys import keyid_of, public_pem
from mu.generator.provenance.statement import STATEMENT_TYPE, describe

Role = Literal["root", "release", "compliance", "auditor", "runtime"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
TRUST_ROOT_TYPE = "urn:mu:v1#TrustRoot"
TRUST_DIR = "receipts/trust"
# A repository id names the policy repository in every statement: short and plain.
REPOSITORY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}\Z")
HINT = (
    "trust-root versions are written by `mu trust init|add|remove|policy|sign`; "
    "restore `receipts/trust/` from version control"
)

_HEX = Hex64()
_SHAPE = record(
    ("version", Integer(minimum=1)),
    ("repository", Text()),
    ("effective_after", Integer()),
    ("identities", MapOf(Text(), record(("keys", MapOf(_HEX, Text(4096, multiline=True)))))),
    (
        "roles",
        MapOf(Text(), record(("keyids", ListOf(_HEX)), ("threshold", Integer(minimum=1)))),
    ),
    ("policy", record(("approvals", Integer(minimum=1)))),
    ("previous", Nullable(_HEX)),
    ("legacy", ListOf(_HEX)),
    optional=("legacy",),
)


@dataclass(frozen=True)
class RoleKeys:
    """The keys of one role and how many distinct identities must sign in it."""

    keyids: tuple[str, ...]
    threshold: int

    def to_dict(self) -> dict[str, Any]:
        """As recorded in the trust root."""
        return {"keyids": list(self.keyids), "threshold": self.threshold}


@dataclass(frozen=True)
class Identity:
    """A person or a service: a name and the public keys (keyid → PEM) it holds."""

    name: str
    keys: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """As recorded in the trust root."""
        return {"keys": {k: self.keys[k] for k in sorted(self.keys)}}


@dataclass(frozen=True)
class RootMetadata:
    """One version of the trust root: the predicate of a `urn:mu:v1#TrustRoot` statement."""

    version: int
    repository: str
    effective_after: int  # receipts with a higher sequence are made under this version or later
    identities: Mapping[str, Identity]
    roles: Mapping[Role, RoleKeys]
    approvals: int  # distinct compliance identities that must approve each change
    previous: str | None  # statement digest of the previous version; None for version 1
    legacy: tuple[str, ...] = ()  # statement digests adopted unchanged by a migration
    _owners: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        owners = {k: i.name for i in self.identities.values() for k in i.keys}
        object.__setattr__(self, "_owners", owners)

    def to_dict(self) -> dict[str, Any]:
        """The predicate exactly as signed."""
        out: dict[str, Any] = {
            "version": self.version,
            "repository": self.repository,
            "effective_after": self.effective_after,
            "identities": {n: self.identities[n].to_dict() for n in sorted(self.identities)},
            "roles": {r: self.roles[r].to_dict() for r in ROLES},
            "policy": {"approvals": self.approvals},
            "previous": self.previous,
        }
        if self.legacy:
            out["legacy"] = sorted(self.legacy)
        return out

    def statement(self) -> bytes:
        """The canonical in-toto statement of this version: the DSSE payload to sign."""
        return canonical_json(
            {
                "_type": STATEMENT_TYPE,
                "subject": [
                    {
                        "name": f"{TRUST_DIR}/{self.version}.json",
                        "digest": {"sha256": digest_json(self.to_dict())},
                    }
                ],
                "predicateType": TRUST_ROOT_TYPE,
                "predicate": self.to_dict(),
            }
        )

    def identity_of(self, keyid: str) -> str | None:
        """The name of the identity holding `keyid`, or None when no identity does."""
        return self._owners.get(keyid)

    def public_key(self, keyid: str) -> Ed25519PublicKey | None:
        """The public key `keyid` names, or None when this version does not know it."""
        owner = self.identity_of(keyid)
        if owner is None:
            return None
        key = serialization.load_pem_public_key(self.identities[owner].keys[keyid].encode("ascii"))
        assert isinstance(key, Ed25519PublicKey)  # from_dict admits only Ed25519
        return key

    def keys_for(self, role: Role) -> dict[str, Ed25519PublicKey]:
        """keyid → public key of every key of `role`."""
        out = {}
        for keyid in self.roles[role].keyids:
            key = self.public_key(keyid)
            if key is not None:
                out[keyid] = key
        return out

    def all_keys(self) -> dict[str, Ed25519PublicKey]:
        """keyid → public key of every key this version knows."""
        return {k: key for k in sorted(self._owners) if (key := self.public_key(k)) is not None}

    def roles_of(self, keyid: str) -> tuple[Role, ...]:
        """The roles `keyid` holds in this version."""
        return tuple(r for r in ROLES if keyid in self.roles[r].keyids)

    @classmethod
    def from_dict(cls, value: object, source: str) -> RootMetadata:
        """Type a trust-root predicate; `CheckFailed` naming every problem."""
        out: list[Problem] = []
        _SHAPE.check(value, ("predicate",), out)
        if out or not isinstance(value, dict):
            raise _malformed(source, out)
        metadata = _typed(value, out)
        if out:
            raise _malformed(source, out)
        return metadata


def _malformed(source: str, problems: list[Problem]) -> CheckFailed:
    return CheckFailed(
        f"trust root `{source}` is malformed: {describe(tuple(problems))}",
        hint=HINT,
        problems=problems,
    )


def _typed(value: dict[str, Any], out: list[Problem]) -> RootMetadata:
    """The typed metadata of a predicate of the right shape; semantic problems go to `out`."""
    if not REPOSITORY_ID.match(value["repository"]):
        add_problem(out, ("predicate", "repository"), "is not a repository id")
    identities: dict[str, Identity] = {}
    holders: dict[str, str] = {}
    for name, entry in value["identities"].items():
        if name != name.strip() or not name:
            add_problem(out, ("predicate", "identities", name), "has a blank-edged name")
        keys: dict[str, str] = {}
        for keyid, pem in entry["keys"].items():
            where = ("predicate", "identities", name, "keys", keyid)
            key = _ed25519(pem)
            if key is None:
                add_problem(out, where, "is not an Ed25519 public key in PEM")
                continue
            if keyid_of(key) != keyid:
                add_problem(out, where, "does not match its public key (the keyid was edited)")
                continue
            if keyid in holders:
                add_problem(out, where, f"is also held by identity `{holders[keyid]}`")
                continue
            holders[keyid] = name
            keys[keyid] = public_pem(key)
        identities[name] = Identity(name, keys)
    roles: dict[Role, RoleKeys] = {}
    for role in sorted(set(value["roles"]) - set(ROLES)):
        add_problem(out, ("predicate", "roles", role), "is not a role of mu")
    for role in ROLES:
        entry = value["roles"].get(role)
        if entry is None:
            add_problem(out, ("predicate", "roles", role), "is missing")
            continue
        keyids = tuple(entry["keyids"])
        for keyid in keyids:
            if keyid not in holders:
                add_problem(out, ("predicate", "roles", role), f"names unknown key `{keyid[:12]}`")
        if len(set(keyids)) != len(keyids):
            add_problem(out, ("predicate", "roles", role), "names a key twice")
        distinct = len({holders.get(k) for k in keyids} - {None})
        if (role == "root" or keyids) and entry["threshold"] > distinct:
            add_problem(
                out,
                ("predicate", "roles", role, "threshold"),
                f"is {entry['threshold']}, but only {distinct} identit"
                f"{'y holds' if distinct == 1 else 'ies hold'} its keys",
            )
        roles[role] = RoleKeys(tuple(sorted(keyids)), entry["threshold"])
    version, previous = value["version"], value["previous"]
    if (version == 1) != (previous is None):
        add_problem(out, ("predicate", "previous"), "must be null exactly for version 1")
    if version > MAX_SAFE_INTEGER - 1:
        add_problem(out, ("predicate", "version"), "is too large")
    return RootMetadata(
        version=version,
        repository=value["repository"],
        effective_after=value["effective_after"],
        identities=identities,
        roles=roles,
        approvals=value["policy"]["approvals"],
        previous=previous,
        legacy=tuple(sorted(set(value.get("legacy", ())))),
    )


def _ed25519(pem: str) -> Ed25519PublicKey | None:
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


@dataclass(frozen=True)
class Quorum:
    """Who signed a statement in one role of one version, against that role's threshold."""

    role: Role
    version: int
    threshold: int
    identities: tuple[str, ...]  # distinct identities of the role whose signature verifies
    keyids: tuple[str, ...]  # the keys of the role whose signature verifies
    others: tuple[str, ...]  # verifying keys of this version outside the role
    unknown: tuple[str, ...]  # claimed keyids (`hint`) of signatures no key of this version made

    @property
    def ok(self) -> bool:
        """True when enough distinct identities of the role signed."""
        return len(self.identities) >= self.threshold

    def describe(self, root: RootMetadata) -> str:
        """What the signatures amount to, in one line a reviewer can act on."""
        named = ", ".join(f"`{n}`" for n in self.identities) or "no identity"
        text = (
            f"{len(self.identities)}/{self.threshold} `{self.role}` signature(s) of "
            f"trust root version {self.version} ({named})"
        )
        if self.others:
            held = "; ".join(
                f"`{root.identity_of(k)}` holds only {', '.join(root.roles_of(k)) or 'no role'}"
                for k in self.others
            )
            text += f"; {held}"
        if self.unknown:
            text += "; untrusted key " + ", ".join(
                k if k == NO_KEYID else f"`{k}`" for k in self.unknown
            )
        return text


def quorum(envelope: Envelope, root: RootMetadata, role: Role) -> Quorum:
    """Count the distinct identities of `role` in `root` whose signature on `envelope` verifies.

    Keys are matched whatever keyid a signature carries (`match_signatures`), and
    named by their canonical keyid; a signature that verifies with no key of
    `root` is `unknown`, named by the keyid it claims.
    """
    in_role = root.keys_for(role)
    match = match_signatures(envelope, root.all_keys())
    verified = match.verified
    keyids = tuple(k for k in verified if k in in_role)
    identities = tuple(sorted({n for k in keyids if (n := root.identity_of(k)) is not None}))
    unmatched = (s for s, k in zip(envelope.signatures, match.keyids, strict=True) if k is None)
    return Quorum(
        role=role,
        version=root.version,
        threshold=root.roles[role].threshold,
        identities=identities,
        keyids=keyids,
        others=tuple(k for k in verified if k not in in_role),
        unknown=tuple(sorted({hint(s) for s in unmatched if root.identity_of(s.keyid) is None})),
    )


@dataclass(frozen=True)
class RootVersion:
    """One signed version as stored: its metadata, envelope, statement digest and file."""

    metadata: RootMetadata
    envelope: Envelope
    digest: str
    path: Path

    @property
    def version(self) -> int:
        """The version number."""
        return self.metadata.version

    def ref(self) -> dict[str, Any]:
        """How a statement names the version it was made under."""
        return {"version": self.version, "digest": self.digest}


def version_digest(envelope: Envelope) -> str:
    """The statement digest of a trust-root version: sha256 of its payload."""
    return sha256_hex(envelope.payload)
