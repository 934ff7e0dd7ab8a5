"""A scratch repository with a signed trust root, made in-process without building.

`trusted_repo` is for fast tests of the policy: it calls the `mu trust` core
(`trustedit`) directly, so it costs key generation and a few signatures, not
a build. Identities: `root` (root), `release-bot` (release), `alice` and `bob`
(compliance).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mu.generator.layout import Layout
from mu.generator.provenance.keys import generate_keypair
from mu.generator.provenance.signing import Signer, resolve_signer
from mu.generator.provenance.trustedit import propose_add, propose_policy, sign_proposal
from mu.generator.provenance.trusthistory import TrustHistory, load_history
from mu.generator.provenance.trustinit import init_root
from mu.generator.provenance.trustroot import Role
from tests.conftest import copy_repo

REPOSITORY = "acme/payments-policy"


@dataclass(frozen=True)
class Trusted:
    """A repository with trust-root version 2, and the private keys of its identities."""

    layout: Layout
    keys: Path  # holds <name>.pem and <name>.pem.pub

    def key(self, name: str) -> Path:
        """The private key `name` (made on first use; not trusted until `grant`)."""
        path = self.keys / f"{name}.pem"
        if not path.exists():
            generate_keypair(path)
        return path

    def signer(self, name: str) -> Signer:
        """A signer for the private key `name`."""
        return resolve_signer(self.layout, self.key(name))

    def history(self) -> TrustHistory:
        """The verified trust root, as every command loads it."""
        return load_history(self.layout)

    def grant(self, *grants: tuple[str, Role, str]) -> None:
        """A new version in which each key `name` holds `role` for `identity`, signed by root."""
        for name, role, identity in grants:
            propose_add(self.layout, Path(f"{self.key(name)}.pub"), role, identity)
        sign_proposal(self.layout, self.key("root"))

    def policy(self, approvals: int) -> None:
        """A new version asking `approvals` distinct compliance identities per change."""
        propose_policy(self.layout, approvals, {})
        sign_proposal(self.layout, self.key("root"))


def trusted_repo(base: Path, repository: str = REPOSITORY, keys: Path | None = None) -> Trusted:
    """`base/repo` (the shipped example) with trust root version 2; keys in `keys`
    (default `base/keys`, which may be shared with another repository)."""
    layout = Layout(copy_repo(base / "repo"))
    keys = keys or base / "keys"
    keys.mkdir(exist_ok=True)
    made = Trusted(layout, keys)
    init_root(layout, [made.key("root")], repository)
    made.grant(
        ("release", "release", "release-bot"),
        ("alice", "compliance", "alice"),
        ("bob", "compliance", "bob"),
    )
    return made
