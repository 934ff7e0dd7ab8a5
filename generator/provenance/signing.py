"""Who signs: a release, compliance or auditor key, or the untrusted development key.

`Signer` lives below everything that signs (builds, approvals, replays,
upgrade receipts), so none of them has to import another to sign.
`authorise` is the one check, before anything is signed, that a key holds
the role its statement needs in the newest version of the trust root. The
development key holds no role anywhere: it never signs evidence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.errors import CheckFailed
from mu.generator.layout import Layout
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, sign
from mu.generator.provenance.keys import (
    PASSPHRASE_ENV,
    dev_key_path,
    ensure_dev_key,
    keyid_of,
    load_private_key,
    refuse_loose_private_key,
)
from mu.generator.provenance.trusthistory import TrustHistory
from mu.generator.provenance.trustroot import Role, RootVersion


@dataclass(frozen=True)
class Signer:
    """The key that signs, its keyid, and whether it is the untrusted development key."""

    key: Ed25519PrivateKey
    keyid: str
    path: Path
    development: bool

    def sign(self, payload: bytes) -> Envelope:
        """A DSSE envelope over `payload`."""
        return sign(PAYLOAD_TYPE, payload, self.key)


def resolve_signer(layout: Layout, sign_key: Path | None) -> Signer:
    """The given key (passphrase from `MU_KEY_PASSPHRASE`), else the local development key.

    `development` marks the local development key, whether defaulted to or given
    by path: `authorise` never lets it sign evidence, whatever a trust root says.
    A key file that group or others may read or write is refused (exit 2)
    before it signs anything, with the `chmod` that fixes it.
    """
    if sign_key is None:
        key, path = ensure_dev_key()
        refuse_loose_private_key(path)
        return Signer(key, keyid_of(key.public_key()), path, development=True)
    refuse_loose_private_key(sign_key)
    development = _same_file(sign_key, dev_key_path())
    # An empty variable is treated as unset: an exported-but-empty passphrase
    # can unlock nothing, and "unset it" would be the only advice anyway.
    passphrase = os.environ.get(PASSPHRASE_ENV) or None
    key = load_private_key(
        sign_key,
        passphrase.encode("utf-8") if passphrase is not None else None,
        repo_root=layout.root,
    )
    return Signer(key, keyid_of(key.public_key()), sign_key, development=development)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


@dataclass(frozen=True)
class Authorised:
    """A signer that holds `role` in the newest version of the trust root, and who it is."""

    signer: Signer
    role: Role
    identity: str
    history: TrustHistory

    @property
    def root(self) -> RootVersion:
        """The version the statements it signs are made under (the newest)."""
        return self.history.newest


def role_hint(role: Role) -> str:
    """How a key comes to hold `role`: only through the root quorum."""
    return (
        f"a key signs for `{role}` only once the trust root says so: "
        f"`mu trust add PUB --role {role} --identity NAME`, then `mu trust sign` by the "
        "root quorum (`mu trust list` shows who holds what)"
    )


def authorise(signer: Signer, history: TrustHistory, role: Role, what: str) -> Authorised:
    """`signer`, when its key holds `role` in the newest version; else `CheckFailed` (exit 1)
    naming the key, its identity if it has one, the version, and that `what` was not written.
    """
    root = history.newest
    identity = root.metadata.identity_of(signer.keyid)
    if signer.development:
        raise CheckFailed(
            f"`{signer.path}` is the local development key: it never signs evidence "
            f"({what})",
            hint=f"sign with your own key (`mu keygen`); {role_hint(role)}",
        )
    if signer.keyid not in root.metadata.roles[role].keyids:
        who = f"key `{signer.keyid[:12]}`" + (f" (identity `{identity}`)" if identity else "")
        held = root.metadata.roles_of(signer.keyid)
        holds = f"; it holds {', '.join(held)}" if held else ""
        raise CheckFailed(
            f"{who} is not trusted for {role} in trust root version {root.version}{holds}: "
            f"{what}",
            hint=role_hint(role),
        )
    assert identity is not None  # a role's keys are held by identities (trustroot.py)
    return Authorised(signer, role, identity, history)
