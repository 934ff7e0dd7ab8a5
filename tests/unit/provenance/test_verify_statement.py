"""`verify_statement`: every statement kind, checked against its own role of the trust root.

The statements here are signed by the test itself, with keys it made: a trust root
version 1 (`root`; `release-bot` for release; `alice` and `bob` for compliance; `ana`
for auditor), a receipt chain of one or two links, an approval, a rejection and its
override, an audit and an upgrade statement. Nothing is built: only the verifier runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.errors import CheckFailed
from mu.generator.hashing import canonical_json, sha256_hex
from mu.generator.layout import Layout
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, sign
from mu.generator.provenance.keys import keyid_of, public_pem
from mu.generator.provenance.receipt import receipt_name
from mu.generator.provenance.statement import (
    APPROVAL_TYPE,
    AUDIT_TYPE,
    OVERRIDE_TYPE,
    RECEIPT_TYPE,
    REJECTION_TYPE,
    STATEMENT_TYPE,
    UPGRADE_TYPE,
)
from mu.generator.provenance.trusthistory import NoTrustRoot
from mu.generator.provenance.trustroot import (
    ROLES,
    Identity,
    RoleKeys,
    RootMetadata,
    version_digest,
)
from mu.generator.provenance.verify_receipt import (
    StatementVerdict,
    verify_chain,
    verify_statement,
)

Key = Ed25519PrivateKey
REPOSITORY = "acme/payments-policy"
GENERATOR = {"name": "mu", "version": "9.9.9", "source_sha256": "9" * 64}
ONTOLOGY = "0" * 63 + "1"
WHEN = "2030-01-02T03:04:05Z"
VIOLATION = {"shape": "urn:x#LimitShape", "focus": "urn:x#Wire"}


def keyid(key: Key) -> str:
    return keyid_of(key.public_key())


def envelope(payload: bytes, *keys: Key) -> Envelope:
    signatures = tuple(sign(PAYLOAD_TYPE, payload, k).signatures[0] for k in keys)
    return Envelope(PAYLOAD_TYPE, payload, signatures)


def statement(kind: str, predicate: Mapping[str, Any], subject: str = "x") -> bytes:
    return canonical_json(
        {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": subject, "digest": {"sha256": "e" * 64}}],
            "predicateType": kind,
            "predicate": dict(predicate),
        }
    )


@dataclass
class Repo:
    """A policy repository holding only `receipts/`, and the private keys of its identities."""

    layout: Layout
    keys: dict[str, Key] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)  # statement digests, version 1 first

    @property
    def root(self) -> Path:
        return self.layout.root

    def ref(self, version: int | None = None) -> dict[str, Any]:
        number = version or len(self.versions)
        return {"version": number, "digest": self.versions[number - 1]}

    def made(self, version: int | None = None, repository: str = REPOSITORY) -> dict[str, Any]:
        return {"repository": repository, "trust_root": self.ref(version), "signedAt": WHEN}

    def metadata(
        self,
        holders: Mapping[str, tuple[str, ...]],
        *,
        legacy: tuple[str, ...] = (),
        effective_after: int = 0,
        approvals: int = 1,
    ) -> RootMetadata:
        """A version whose identity `name` holds the roles `holders[name]` with its key."""
        identities = {
            name: Identity(name, {keyid(self.keys[name]): public_pem(self.keys[name].public_key())})
            for name in holders
        }
        roles = {
            role: RoleKeys(
                tuple(sorted(keyid(self.keys[n]) for n, held in holders.items() if role in held)),
                1,
            )
            for role in ROLES
        }
        version = len(self.versions) + 1
        previous = self.versions[-1] if self.versions else None
        return RootMetadata(
            version, REPOSITORY, effective_after, identities, roles, approvals, previous, legacy
        )

    def add_version(self, metadata: RootMetadata, *signers: str) -> Path:
        signed = envelope(metadata.statement(), *(self.keys[s] for s in signers))
        self.layout.trust_dir.mkdir(parents=True, exist_ok=True)
        path = self.layout.trust_dir / f"{metadata.version}.json"
        path.write_bytes(signed.to_json())
        self.layout.trust_file.write_bytes(signed.to_json())
        self.versions.append(version_digest(signed))
        return path

    def write(self, directory: Path, name: str, signed: Envelope) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.write_bytes(signed.to_json())
        return path

    # --- one statement of each kind -------------------------------------------------

    def approval(self, signer: str = "alice", **made: Any) -> tuple[Path, str]:
        predicate = {
            "ontology": {
                "digest": ONTOLOGY,
                "canonicalization": "RDFC-1.0",
                "files": {"controls/x.ttl": "c" * 64},
            },
            "generator": GENERATOR,
            **self.made(**made),
        }
        payload = statement(APPROVAL_TYPE, predicate, "ontology/controls/x.ttl")
        name = f"{ONTOLOGY[:12]}-{signer}-{sha256_hex(payload)[:12]}.json"
        path = self.write(self.layout.approvals, name, envelope(payload, self.keys[signer]))
        return path, sha256_hex(payload)

    def receipt(
        self,
        sequence: int = 1,
        parent: str | None = None,
        *,
        signer: str = "release-bot",
        approvals: tuple[tuple[str, str], ...] = (),
        edit: Callable[[dict[str, Any]], None] | None = None,
        version: int | None = None,
        directory: Path | None = None,
    ) -> tuple[Path, str]:
        """A chain receipt; `approvals` are (identity, statement digest) pairs it counted."""
        snapshot = "5" * 64
        predicate: dict[str, Any] = {
            "sequence": sequence,
            "generator": GENERATOR,
            "ontology": {
                "digest": ONTOLOGY,
                "canonicalization": "RDFC-1.0",
                "files": {"controls/x.ttl": "c" * 64},
                "snapshot": {"path": f"receipts/snapshots/{snapshot}.json", "sha256": snapshot},
            },
            "golden": {"sha256": "6" * 64, "passed": 3, "failed": 0, "total": 3},
            "gates": {
                "ontology": "PASS",
                "golden": "PASS",
                "determinism": "PASS",
                "approvals": "PASS",
            },
            "controls": {"c1": {"digest": "7" * 64, "module": "enforcers/controls/c1.py"}},
            "enforcers": {"sha256": "8" * 64},
            "parent": parent,
            "change": {"added": ["c1"] if parent is None else [], "removed": [], "changed": []},
            "approvals": {
                "required": 1,
                "by": [
                    {"identity": who, "keyid": keyid(self.keys[who]), "statement": digest}
                    for who, digest in approvals
                ],
            },
            **self.made(version),
        }
        if edit is not None:
            edit(predicate)
        payload = statement(RECEIPT_TYPE, predicate, "enforcers/controls/c1.py")
        digest = sha256_hex(payload)
        path = self.write(
            directory or self.layout.receipts,
            receipt_name(sequence, digest),
            envelope(payload, self.keys[signer]),
        )
        return path, digest

    def approved_receipt(self, **kwargs: Any) -> tuple[Path, str]:
        _, approval = self.approval()
        return self.receipt(approvals=(("alice", approval),), **kwargs)

    def rejection(
        self, signer: str = "release-bot", context: str | None = None
    ) -> tuple[Path, str]:
        predicate = {
            "generator": GENERATOR,
            "ontology": {"digest": ONTOLOGY, "files": {"controls/x.ttl": "c" * 64}},
            "gates": {"ontology": "FAIL"},
            "failed_gates": ["ontology"],
            "context": context,
            "violations": [
                {**VIOLATION, "path": None, "message": "over the limit", "file": "controls/x.ttl"}
            ],
            "compliance_override_required": True,
            "overridable": True,
            **self.made(),
        }
        payload = statement(REJECTION_TYPE, predicate, "ontology/controls/x.ttl")
        name = f"{sha256_hex(payload)[:12]}.json"
        signed = envelope(payload, self.keys[signer])
        return self.write(self.layout.rejected, name, signed), sha256_hex(payload)

    def override(self, rejection: str, signer: str = "alice") -> Path:
        predicate = {
            "rejection": rejection,
            "ontology": {"digest": ONTOLOGY},
            "violations": [VIOLATION],
            "generator": GENERATOR,
            **self.made(),
        }
        payload = statement(OVERRIDE_TYPE, predicate, "receipts/rejected/r.json")
        name = f"override-{rejection[:12]}-{signer}.json"
        return self.write(self.layout.approvals, name, envelope(payload, self.keys[signer]))

    def audit(self, receipt: str, sequence: int = 1, signer: str = "ana") -> Path:
        predicate = {
            "receipt": {"digest": receipt, "sequence": sequence},
            "replayed": {"payload_sha256": "a" * 64, "matches": True},
            "generator": GENERATOR,
            **self.made(),
        }
        payload = statement(AUDIT_TYPE, predicate, f"receipts/{receipt[:12]}.json")
        name = f"{sequence:04d}-{receipt[:12]}-{sha256_hex(payload)[:12]}.json"
        return self.write(self.layout.audits, name, envelope(payload, self.keys[signer]))

    def upgrade(self, signer: str = "release-bot") -> Path:
        predicate = {"equivalent": True, "new_generator": GENERATOR, **self.made()}
        payload = statement(UPGRADE_TYPE, predicate, "enforcers/controls/c1.py")
        name = f"{sha256_hex(payload)[:12]}.json"
        return self.write(self.layout.upgrades, name, envelope(payload, self.keys[signer]))


HOLDERS: dict[str, tuple[str, ...]] = {
    "root": ("root",),
    "release-bot": ("release",),
    "alice": ("compliance",),
    "bob": ("compliance",),
    "ana": ("auditor",),
}


def new_repo(path: Path, holders: Mapping[str, tuple[str, ...]] = HOLDERS) -> Repo:
    repo = Repo(Layout(path))
    repo.keys = {name: Key.generate() for name in (*holders, "intruder", "release-b")}
    repo.add_version(repo.metadata(holders), "root")
    return repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return new_repo(tmp_path / "repo")


def failed(verdict: StatementVerdict) -> dict[str, str]:
    return {c.name: c.detail for c in verdict.failures}


def verify(repo: Repo, path: Path, **kwargs: Any) -> StatementVerdict:
    return verify_statement(repo.layout, path, **kwargs)


# --- every kind verifies against its own role ----------------------------------------


def one_of_each(repo: Repo, signers: Mapping[str, str] | None = None) -> dict[str, Path]:
    """One statement of every kind, each signed by `signers[kind]` (default: its role)."""
    who = {
        "Receipt": "release-bot",
        "Rejection": "release-bot",
        "Upgrade": "release-bot",
        "Approval": "alice",
        "Override": "alice",
        "Audit": "ana",
        **(signers or {}),
    }
    approval, approval_digest = repo.approval(who["Approval"])
    receipt, digest = repo.receipt(signer=who["Receipt"], approvals=(("alice", approval_digest),))
    rejection, rejection_digest = repo.rejection(who["Rejection"])
    return {
        "Receipt": receipt,
        "Rejection": rejection,
        "Approval": approval,
        "Override": repo.override(rejection_digest, who["Override"]),
        "Audit": repo.audit(digest, signer=who["Audit"]),
        "Upgrade": repo.upgrade(who["Upgrade"]),
        "TrustRoot": repo.layout.trust_dir / "1.json",
    }


def test_one_statement_of_every_kind_verifies(repo: Repo) -> None:
    for kind, path in one_of_each(repo).items():
        verdict = verify(repo, path)
        assert verdict.ok, (kind, failed(verdict))
        assert verdict.kind_name == kind
        assert verdict.version == 1
        expected = {
            "Receipt": "release",
            "Rejection": "release",
            "Upgrade": "release",
            "Approval": "compliance",
            "Override": "compliance",
            "Audit": "auditor",
            "TrustRoot": "root",
        }[kind]
        assert verdict.role == expected
        assert verdict.signers
        if kind != "TrustRoot":
            assert verdict.signed_at == WHEN
        assert verdict.warning is not None and "--trust-root" in verdict.warning
    pinned = verify(
        repo, repo.layout.receipts / one_of_each_name(repo), trust_root=repo.versions[0]
    )
    assert pinned.ok and pinned.warning is None


def one_of_each_name(repo: Repo) -> str:
    return next(p.name for p in sorted(repo.layout.receipts.glob("0001-*.json")))


WRONG = {
    "Receipt": "alice",
    "Rejection": "alice",
    "Upgrade": "ana",
    "Approval": "release-bot",
    "Override": "release-bot",
    "Audit": "release-bot",
}


@pytest.mark.parametrize("kind", sorted(WRONG))
def test_each_kind_signed_by_the_wrong_role_fails(repo: Repo, kind: str) -> None:
    path = one_of_each(repo, {kind: WRONG[kind]})[kind]
    verdict = verify(repo, path)
    assert not verdict.ok
    trust = failed(verdict)["trust"]
    role = {"Approval": "compliance", "Override": "compliance", "Audit": "auditor"}.get(
        kind, "release"
    )
    assert f"0/1 `{role}` signature(s) of trust root version 1" in trust
    assert f"`{WRONG[kind]}` holds only" in trust
    assert verdict.untrusted and WRONG[kind] in verdict.untrusted[0]


def test_a_trust_root_version_signed_by_the_wrong_role_fails(repo: Repo) -> None:
    one = repo.layout.trust_dir / "1.json"
    stored = Envelope.from_json(one.read_bytes(), "1.json")
    copy = repo.root / "copy-of-1.json"
    copy.write_bytes(envelope(stored.payload, repo.keys["release-bot"]).to_json())
    verdict = verify(repo, copy)
    assert not verdict.ok
    assert "lacks its own root quorum: 0/1 `root`" in failed(verdict)["trust"]
    assert verify(repo, one).ok


def test_a_trust_root_of_another_repository_fails(repo: Repo, tmp_path: Path) -> None:
    other = new_repo(tmp_path / "other")
    verdict = verify(repo, other.layout.trust_dir / "1.json")
    assert not verdict.ok
    assert "is not version 1 of this repository's trust root" in failed(verdict)["trust"]


# --- repository, version, and the pin -------------------------------------------------


def test_a_statement_of_another_repository_fails(repo: Repo) -> None:
    path, _ = repo.receipt(edit=lambda p: p.update(repository="acme/other"))
    verdict = verify(repo, path)
    assert failed(verdict)["repository"] == (
        f"made for repository `acme/other`, not `{REPOSITORY}`"
    )
    assert "of repository `acme/other`" in failed(verdict)["trust"]


def test_a_statement_naming_a_version_this_repository_lacks_fails(repo: Repo) -> None:
    wrong = {"version": 1, "digest": "f" * 64}
    path, _ = repo.receipt(edit=lambda p: p.update(trust_root=wrong))
    assert (
        "names trust root version 1 with sha256 ffffffffffff" in failed(verify(repo, path))["trust"]
    )
    path.unlink()
    path, _ = repo.receipt(edit=lambda p: p.update(trust_root={"version": 7, "digest": "f" * 64}))
    assert "does not have (newest: 1)" in failed(verify(repo, path))["trust"]


def test_no_trust_root_and_a_replaced_one_refuse_everything(tmp_path: Path, repo: Repo) -> None:
    path, _ = repo.approved_receipt()
    with pytest.raises(NoTrustRoot):
        verify_statement(Layout(tmp_path / "empty"), path)
    with pytest.raises(CheckFailed, match="is not a version of this repository's trust root"):
        verify(repo, path, trust_root="a" * 64)


def rotate(repo: Repo) -> None:
    """Version 2 replaces release-bot's key A by B: in effect after receipt 1."""
    holders = dict(HOLDERS)
    repo.keys["release-bot-a"] = repo.keys["release-bot"]
    repo.keys["release-bot"] = repo.keys["release-b"]
    repo.add_version(repo.metadata(holders, effective_after=1), "root")


def test_a_removed_key_cannot_sign_a_later_link_whatever_version_it_claims(repo: Repo) -> None:
    first, digest = repo.approved_receipt()
    rotate(repo)
    # B signs receipt 2 under version 2: the chain verifies from the pinned version 1.
    second, _ = repo.approved_receipt(sequence=2, parent=digest)
    report = verify_chain(repo.layout, trust_root=repo.versions[0])
    assert report.ok, [failed(v) for v in report.verdicts]
    assert [v.version for v in report.verdicts] == [1, 2]
    second.unlink()
    # A signs receipt 2 claiming version 1 (where it was trusted): version 2 is in effect.
    forged, _ = repo.approved_receipt(sequence=2, parent=digest, signer="release-bot-a", version=1)
    trust = failed(verify(repo, forged))["trust"]
    assert "receipt 2 claims trust root version 1, but version 2 is in effect for it" in trust
    forged.unlink()
    # …or claiming version 2: A is no key of version 2.
    forged, _ = repo.approved_receipt(sequence=2, parent=digest, signer="release-bot-a")
    trust = failed(verify(repo, forged))["trust"]
    assert "0/1 `release` signature(s) of trust root version 2" in trust
    assert "untrusted key" in trust
    # History signed by A before the removal still verifies.
    assert verify(repo, first).ok
    # Pinned at version 2, receipt 1 (made under version 1) is older than the pin.
    older = failed(verify(repo, first, trust_root=repo.versions[1]))["trust"]
    assert "older than the pinned version 2" in older


# --- chains, approvals, audits and overrides ------------------------------------------


def test_a_receipt_that_is_not_a_link_of_the_chain_fails(repo: Repo, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    path, _ = repo.approved_receipt(directory=elsewhere)
    chain = failed(verify(repo, path))["chain"]
    assert "not a link of this repository's chain" in chain


def test_a_fork_of_the_chain_fails(repo: Repo) -> None:
    _first, digest = repo.approved_receipt()
    a, _ = repo.approved_receipt(sequence=2, parent=digest)
    b, _ = repo.approved_receipt(
        sequence=2, parent=digest, edit=lambda p: p["change"].update(changed=["c1"])
    )
    for path in (a, b):
        assert "the chain forks at receipt 2" in failed(verify(repo, path))["chain"]


def test_deleting_the_approvals_fails_naming_the_missing_one(repo: Repo) -> None:
    path, _ = repo.approved_receipt()
    assert verify(repo, path).ok
    for approval in repo.layout.approvals.iterdir():
        approval.unlink()
    detail = failed(verify(repo, path))["approvals"]
    assert "0/1 compliance identities re-checked" in detail
    assert "by `alice` is missing" in detail


def test_a_receipt_without_approvals_fails(repo: Repo) -> None:
    path, _ = repo.receipt()
    assert "0/1 compliance identities" in failed(verify(repo, path))["approvals"]


def test_an_audit_of_a_receipt_outside_the_chain_fails(repo: Repo) -> None:
    audit = repo.audit("d" * 64)
    assert "not a link of this repository's chain" in failed(verify(repo, audit))["chain"]


def test_an_override_needs_its_rejection(repo: Repo) -> None:
    rejection, digest = repo.rejection()
    override = repo.override(digest)
    assert verify(repo, override).ok
    rejection.unlink()
    assert "missing from `receipts/rejected/`" in failed(verify(repo, override))["rejection"]


# --- --public-key only narrows ---------------------------------------------------------


def test_a_public_key_never_makes_an_untrusted_key_trusted(repo: Repo, tmp_path: Path) -> None:
    dev = repo.keys["intruder"]
    pub = tmp_path / "dev.pem.pub"
    pub.write_text(public_pem(dev.public_key()))
    path, _ = repo.approved_receipt(signer="intruder")
    verdict = verify(repo, path, public_key_path=pub)
    assert verdict.check("signature").ok  # type: ignore[union-attr]
    assert "untrusted key" in failed(verdict)["trust"]
    # And a trusted receipt must also carry a signature by the given key.
    path.unlink()
    good, _ = repo.receipt(approvals=((("alice"), repo.approval()[1]),))
    narrowed = verify(repo, good, public_key_path=pub)
    assert "no signature verifies with the given public key" in failed(narrowed)["signature"]
    assert verify(repo, good).ok


# --- statements made before trust roots -----------------------------------------------


def legacy_payload(predicate_edit: Callable[[dict[str, Any]], None] | None = None) -> bytes:
    predicate: dict[str, Any] = {
        "sequence": 1,
        "generator": GENERATOR,
        "ontology": {
            "digest": ONTOLOGY,
            "canonicalization": "RDFC-1.0",
            "files": {},
            "snapshot": {"path": f"receipts/snapshots/{'5' * 64}.json", "sha256": "5" * 64},
        },
        "golden": {"sha256": "6" * 64, "passed": 3, "failed": 0, "total": 3},
        "gates": {"ontology": "PASS", "golden": "PASS", "determinism": "PASS"},
        "controls": {},
        "enforcers": {"sha256": "8" * 64},
        "parent": None,
        "change": {"added": [], "removed": [], "changed": []},
    }
    if predicate_edit:
        predicate_edit(predicate)
    return statement(RECEIPT_TYPE, predicate)


def test_a_legacy_receipt_verifies_only_when_adopted(tmp_path: Path) -> None:
    repo = Repo(Layout(tmp_path / "repo"))
    repo.keys = {name: Key.generate() for name in HOLDERS}
    payload = legacy_payload()
    digest = sha256_hex(payload)
    path = repo.write(
        repo.layout.receipts, receipt_name(1, digest), envelope(payload, repo.keys["release-bot"])
    )
    repo.add_version(repo.metadata(HOLDERS, legacy=(digest,), effective_after=1), "root")
    verdict = verify(repo, path)
    assert verdict.ok, failed(verdict)
    assert verdict.legacy and verdict.signed_at is None
    assert "adopted by `mu trust migrate`" in verdict.check("approvals").detail  # type: ignore[union-attr]
    # Another statement without claims, not listed by version 1, fails.
    other = legacy_payload(lambda p: p["golden"].update(passed=2))
    path.unlink()
    stray = repo.write(
        repo.layout.receipts,
        receipt_name(1, sha256_hex(other)),
        envelope(other, repo.keys["release-bot"]),
    )
    problem = failed(verify(repo, stray))["repository"]
    assert "made before trust roots and not adopted by `mu trust migrate`" in problem


def test_a_malformed_statement_is_a_failed_check(repo: Repo) -> None:
    path, _ = repo.receipt(edit=lambda p: p.update(sequence="one"))
    verdict = verify(repo, path)
    assert "`sequence` must be an integer" in failed(verdict)["statement"]
    assert set(failed(verdict)) == {"statement"}  # nothing else it says can be read


def test_unknown_kinds_are_refused(repo: Repo) -> None:
    payload = statement("urn:mu:v1#Drill", {})
    path = repo.write(repo.root / "x", "drill.json", envelope(payload, repo.keys["root"]))
    assert "is not a kind of statement" in failed(verify(repo, path))["statement"]
