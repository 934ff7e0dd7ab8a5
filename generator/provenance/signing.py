"""Who signs: a release, compliance or auditor key, or the untrusted development key.

`Signer` lives below everything that signs (builds, approvals, replays,
upgrade receipts), so none of them has to import another to sign.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from generator.layout import Layout
from generator.provenance.dsse import PAYLOAD_TYPE, Envelope, sign
from generator.provenance.keys import (
    PASSPHRASE_ENV,
    ensure_dev_key,
    keyid_of,
    load_private_key,
    refuse_loose_private_key,
)


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

    A key file that group or others may read or write is refused (exit 2)
    before it signs anything, with the `chmod` that fixes it.
    """
    if sign_key is None:
        key, path = ensure_dev_key()
        refuse_loose_private_key(path)
        return Signer(key, keyid_of(key.public_key()), path, development=True)
    refuse_loose_private_key(sign_key)
    # An empty variable is treated as unset: an exported-but-empty passphrase
    # can unlock nothing, and "unset it" would be the only advice anyway.
    passphrase = os.environ.get(PASSPHRASE_ENV) or None
    key = load_private_key(
        sign_key,
        passphrase.encode("utf-8") if passphrase is not None else None,
        repo_root=layout.root,
    )
    return Signer(key, keyid_of(key.public_key()), sign_key, development=False)
