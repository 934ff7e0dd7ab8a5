"""Version 1 of a trust root: `mu trust init`, and `mu trust migrate` from the unsigned
`receipts/trust.json` of an older mu (SPEC §9).

Both sign version 1 with every given root key at once; `init` starts from the
root identities alone, `migrate` keeps every key and role of the old file
(each name becoming an identity) and adopts, by statement digest, every
statement already under `receipts/`, so the old chain keeps verifying and no
other statement without claims ever will.
"""

from __future__ import annotations

from pathlib import Path

from mu.generator.errors import InputError
from mu.generator.layout import Layout
from mu.generator.provenance.dsse import read_envelope_file
from mu.generator.provenance.keys import public_pem
from mu.generator.provenance.legacytrust import default_name, load_trust
from mu.generator.provenance.receipt import chain_paths, payload_digest
from mu.generator.provenance.signing import Signer, resolve_signer
from mu.generator.provenance.trustedit import (
    Action,
    TrustChange,
    chain_head,
    checked,
    empty_roles,
    merge_signature,
    settle,
    unsigned,
)
from mu.generator.provenance.trusthistory import version_paths
from mu.generator.provenance.trustroot import (
    REPOSITORY_ID,
    ROLES,
    Identity,
    RoleKeys,
    RootMetadata,
)


def _root_identities(signers: list[Signer]) -> dict[str, Identity]:
    identities: dict[str, Identity] = {}
    for s in signers:
        name = default_name(s.path)
        while name in identities:
            name += "+"
        identities[name] = Identity(name, {s.keyid: public_pem(s.key.public_key())})
    return identities


def _refuse_existing(layout: Layout) -> None:
    if version_paths(layout) or layout.trust_proposal.exists():
        raise InputError(
            "this repository already has a trust root",
            hint="change it with `mu trust add|remove|policy` and `mu trust sign`",
        )


def _repository(repository: str) -> str:
    if not REPOSITORY_ID.match(repository):
        raise InputError(
            f"`{repository}` is not a repository id",
            hint="use letters, digits and `._:/@-`, such as `acme/payments-policy`",
        )
    return repository


def _first_version(
    layout: Layout,
    action: Action,
    signers: list[Signer],
    metadata: RootMetadata,
    detail: str,
) -> TrustChange:
    metadata = checked(metadata)
    envelope = unsigned(metadata)
    for signer in signers:
        envelope = merge_signature(envelope, signer)
    return settle(layout, action, detail, envelope, metadata, None)


def _signers(layout: Layout, root_keys: list[Path]) -> list[Signer]:
    if not root_keys:
        raise InputError("no root key given", hint="pass `--root-key KEY` (a private key)")
    signers = [resolve_signer(layout, p) for p in root_keys]
    if len({s.keyid for s in signers}) != len(signers):
        raise InputError("the same root key was given twice", hint="pass each key once")
    return signers


def init_root(
    layout: Layout,
    root_keys: list[Path],
    repository: str,
    *,
    approvals: int = 1,
    threshold: int | None = None,
) -> TrustChange:
    """Version 1: the given root keys (each its own identity), signed by all of them."""
    _refuse_existing(layout)
    if layout.trust_file.exists():
        raise InputError(
            "`receipts/trust.json` already exists (an unsigned trust policy of an older mu)",
            hint="convert it with `mu trust migrate --root-key KEY --repository ID`",
        )
    if chain_head(layout):
        raise InputError(
            "`receipts/` already holds receipts made without a trust root",
            hint="adopt them with `mu trust migrate --root-key KEY --repository ID`",
        )
    signers = _signers(layout, root_keys)
    identities = _root_identities(signers)
    roles = empty_roles()
    roles["root"] = RoleKeys(
        tuple(sorted(s.keyid for s in signers)),
        threshold if threshold is not None else len(signers) // 2 + 1,
    )
    metadata = RootMetadata(1, _repository(repository), 0, identities, roles, approvals, None)
    detail = f"repository `{repository}`, {len(signers)} root key(s)"
    return _first_version(layout, "init", signers, metadata, detail)


def _legacy_digests(layout: Layout) -> tuple[str, ...]:
    """Statement digests of every signed file under `receipts/` (adopted by a migration)."""
    paths = list(chain_paths(layout.receipts))
    for directory in (layout.rejected, layout.approvals, layout.audits, layout.upgrades):
        if directory.is_dir():
            paths += sorted(p for p in directory.glob("*.json") if p.is_file())
    return tuple(sorted({payload_digest(read_envelope_file(p, "receipt").payload) for p in paths}))


def migrate(
    layout: Layout, root_keys: list[Path], repository: str, *, approvals: int = 1
) -> TrustChange:
    """Version 1 from the unsigned `receipts/trust.json` of an older mu.

    Every key keeps its roles under an identity of its old name; the given
    root keys join; every statement already under `receipts/` is adopted by
    digest (`legacy`), so old receipts keep verifying, and no other
    unversioned statement ever will.
    """
    _refuse_existing(layout)
    if not layout.trust_file.exists():
        raise InputError(
            "there is no unsigned `receipts/trust.json` to migrate",
            hint="start a trust root with `mu trust init --root-key KEY --repository ID`",
        )
    old = load_trust(layout.trust_file)
    signers = _signers(layout, root_keys)
    identities: dict[str, Identity] = {}
    roles = {r: set[str]() for r in ROLES}
    for entry in old.keys:
        held = identities.get(entry.name)
        keys = {**(held.keys if held else {}), entry.keyid: entry.public_key_pem}
        identities[entry.name] = Identity(entry.name, keys)
        for role in entry.roles:
            roles[role].add(entry.keyid)  # type: ignore[index]
    for name, identity in _root_identities(signers).items():
        (keyid,) = identity.keys
        holder = next((n for n, i in identities.items() if keyid in i.keys), None)
        if holder is None:
            while name in identities:
                name += "+"
            identities[name] = Identity(name, identity.keys)
        roles["root"].add(keyid)
    metadata = RootMetadata(
        version=1,
        repository=_repository(repository),
        effective_after=chain_head(layout),
        identities=identities,
        roles={
            r: RoleKeys(tuple(sorted(k)), len(signers) // 2 + 1 if r == "root" else 1)
            for r, k in roles.items()
        },
        approvals=approvals,
        previous=None,
        legacy=_legacy_digests(layout),
    )
    detail = (
        f"repository `{repository}`: {len(old.keys)} key(s) of `receipts/trust.json` and "
        f"{len(metadata.legacy)} existing statement(s) adopted"
    )
    return _first_version(layout, "migrate", signers, metadata, detail)
