"""A trust root with a `runtime` key, in-process (no `mu build`), and log helpers."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.decisionlog import (
    CheckpointSigner,
    Entry,
    LogWriter,
    canonical_json,
    checkpoint_signer,
)
from mu.generator.layout import Layout
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, sign
from mu.generator.provenance.keys import generate_keypair, keyid_of, load_private_key, public_pem
from mu.generator.provenance.trusthistory import TrustHistory, load_history
from mu.generator.provenance.trustroot import (
    ROLES,
    Identity,
    Role,
    RoleKeys,
    RootMetadata,
    version_digest,
)

RELEASE = "ab" * 32


@dataclass(frozen=True)
class Trust:
    """A repository whose trust root version 1 (and 2, when rotated) names: `root`
    (root), `svc` (runtime, key `runtime`), `bot` (release, key `release`)."""

    layout: Layout
    keys: Path
    history: TrustHistory

    def key(self, name: str) -> Path:
        return self.keys / f"{name}.pem"

    def signer(self, name: str = "runtime") -> CheckpointSigner:
        return checkpoint_signer(self.layout, self.key(name), self.history)


def _private(path: Path) -> Ed25519PrivateKey:
    return load_private_key(path)


def write_version(
    layout: Layout,
    keys: Path,
    version: int,
    holders: dict[str, tuple[Role, str]],
    previous: str | None,
    signers: tuple[str, ...],
) -> str:
    """Store trust-root `version`: identity → (role, key name); signed by `signers` keys."""
    identities = {}
    roles: dict[Role, RoleKeys] = {r: RoleKeys((), 1) for r in ROLES}
    for identity, (role, key_name) in holders.items():
        public = _private(keys / f"{key_name}.pem").public_key()
        keyid = keyid_of(public)
        identities[identity] = Identity(identity, {keyid: public_pem(public)})
        roles[role] = RoleKeys(tuple(sorted({*roles[role].keyids, keyid})), 1)
    metadata = RootMetadata(version, "acme/p", 0, identities, roles, 1, previous)
    payload = metadata.statement()
    signatures = tuple(
        sign(PAYLOAD_TYPE, payload, _private(keys / f"{k}.pem")).signatures[0] for k in signers
    )
    envelope = Envelope(PAYLOAD_TYPE, payload, signatures)
    layout.trust_dir.mkdir(parents=True, exist_ok=True)
    (layout.trust_dir / f"{version}.json").write_bytes(envelope.to_json())
    layout.trust_file.write_bytes(envelope.to_json())
    return version_digest(envelope)


HOLDERS: dict[str, tuple[Role, str]] = {
    "root": ("root", "root"),
    "svc": ("runtime", "runtime"),
    "bot": ("release", "release"),
}


@pytest.fixture(scope="session")
def trust_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("trust")
    keys = base / "keys"
    for name in ("root", "runtime", "release", "runtime2"):
        generate_keypair(keys / f"{name}.pem")
    digest = write_version(Layout(base / "repo"), keys, 1, HOLDERS, None, ("root",))
    return base, digest


@pytest.fixture
def trust(trust_template: tuple[Path, str]) -> Trust:
    base, _ = trust_template
    layout = Layout(base / "repo")
    return Trust(layout, base / "keys", load_history(layout))


def rotate_runtime(trust: Trust, tmp_path: Path) -> Trust:
    """A copy of `trust` with version 2, where `svc2` (key `runtime2`) replaces `svc`."""
    root = tmp_path / "rotated"
    shutil.copytree(trust.layout.root, root)
    layout = Layout(root)
    holders = {**HOLDERS, "svc2": ("runtime", "runtime2")}
    del holders["svc"]
    write_version(layout, trust.keys, 2, holders, trust.history.newest.digest, ("root",))
    return Trust(layout, trust.keys, load_history(layout))


def entry(n: int = 0, **tx: object) -> Entry:
    """A decision on a small transaction numbered `n`."""
    transaction = {"id": f"tx-{n}", "type": "vendor_payment", "amount": "10.00", **tx}
    return Entry(
        release=RELEASE,
        transaction_json=canonical_json(transaction),
        outcome="REJECT" if n % 2 else "APPROVE",
        reasons=({"control_id": "c1", "message": "over the limit"},) if n % 2 else (),
        actions=(
            {"kind": "notify", "control_id": "n1", "targets": ["ops@acme.example"], "after": []},
        ),
    )


def lines(directory: Path, segment: int = 1) -> list[bytes]:
    path = directory / "segments" / f"{segment:06d}.jsonl"
    return path.read_bytes().splitlines(keepends=True)


def write_lines(directory: Path, data: list[bytes], segment: int = 1) -> None:
    (directory / "segments" / f"{segment:06d}.jsonl").write_bytes(b"".join(data))


def record(line: bytes) -> dict[str, object]:
    value = json.loads(line)
    assert isinstance(value, dict)
    return value


def make_log(
    directory: Path, signer: CheckpointSigner | None, count: int, *, close: bool = True, **kw: Any
) -> LogWriter:
    """A log at `directory` holding `count` decisions (closed unless `close=False`)."""
    writer = LogWriter(directory, signer=signer, **kw)
    writer.open()
    for future in [writer.submit(entry(n)) for n in range(count)]:
        future.result(timeout=10)
    if close:
        writer.close()
    return writer


def all_lines(directory: Path) -> list[dict[str, Any]]:
    """Every line of every segment, parsed, in order."""
    out = []
    for path in sorted((directory / "segments").glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_bytes().splitlines()]
    return out
