"""securesystemslib, a DSSE client mu did not write, and mu agree on receipts (issue 13).

It verifies mu's receipts (the snippet in docs/VERIFYING.md, run as a third party would
run it), and mu verifies envelopes it signed with an empty keyid, its own default keyid,
or a foreign one: the keyid is a hint, never a reason to refuse a trusted key's signature
or to trust an untrusted one."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from mu.generator.provenance.keys import keyid_of, load_private_key
from tests.chain import Built
from tests.conftest import REPO, Run

Mu = Callable[..., Run]
DOC = REPO / "docs" / "VERIFYING.md"
LEGACY = REPO / "tests" / "data" / "legacy-receipts"
# Another tool's name for the key, fixed so the test is the same every run.
FOREIGN = hashlib.sha256(b"a keyid some other tool chose").hexdigest()


def documented_snippet() -> str:
    """The Python block docs/VERIFYING.md marks as the one the suite runs."""
    text = DOC.read_text(encoding="utf-8")
    _, marked = text.split("<!-- verifying-snippet:", 1)
    return marked.split("```python\n", 1)[1].split("```", 1)[0]


def mu_keyid(pem: bytes) -> str:
    """mu's keyid of a public key PEM, written out independently of mu: sha256 of the raw key."""
    public = serialization.load_pem_public_key(pem)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def test_the_documented_snippet_is_python_that_uses_securesystemslib() -> None:
    snippet = documented_snippet()
    compile(snippet, str(DOC), "exec")
    assert "envelope.verify([key], threshold=1)" in snippet
    assert "Statement.copy_from_pb(proto).validate()" in snippet


@pytest.mark.parametrize("receipt", sorted(LEGACY.glob("000*.json")), ids=lambda p: p.name)
def test_securesystemslib_verifies_receipts_mu_signed(receipt: Path) -> None:
    trust = json.loads((LEGACY / "trust.json").read_bytes())
    [release] = [k for k in trust["keys"] if "release" in k["roles"]]
    pem = release["public_key"].encode()
    public = serialization.load_pem_public_key(pem)
    key = SSlibKey.from_crypto(public, keyid=mu_keyid(pem))
    envelope = Envelope.from_dict(json.loads(receipt.read_bytes()))
    assert envelope.verify([key], threshold=1) == {release["keyid"]: key}
    # securesystemslib matches keyids exactly: named its own way, the key finds no signature
    # (why docs/VERIFYING.md gives it mu's keyid).
    with pytest.raises(VerificationError):
        envelope.verify([SSlibKey.from_crypto(public)], threshold=1)


def run_snippet(receipt: Path, public_key: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The documented snippet in a new Python process, as a third party runs it."""
    return subprocess.run(
        [sys.executable, "-c", documented_snippet(), str(receipt), str(public_key)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_documented_snippet_verifies_a_built_receipt(built: Built, tmp_path: Path) -> None:
    run = run_snippet(built.receipt, built.pub, built.root)
    assert run.returncode == 0, run.stderr
    keyid = mu_keyid(built.pub.read_bytes())
    assert run.stdout == (
        "verified receipt 1 of acme/payments-policy: "
        f"{len(list_subjects(built.receipt))} files, signed by {keyid[:12]}\n"
    )
    # Another key: the signature check refuses it.
    other = tmp_path / "other.pem.pub"
    other.write_bytes(public_pem_of(Ed25519PrivateKey.generate()))
    refused = run_snippet(built.receipt, other, built.root)
    assert refused.returncode != 0 and "VerificationError" in refused.stderr
    # A changed enforcer file: the subject check names it.
    module = built.root / list_subjects(built.receipt)[0]
    module.write_bytes(module.read_bytes() + b"\n# edited\n")
    changed = run_snippet(built.receipt, built.pub, built.root)
    assert changed.returncode != 0 and "was changed" in changed.stderr


def list_subjects(receipt: Path) -> list[str]:
    envelope = Envelope.from_dict(json.loads(receipt.read_bytes()))
    return [s["name"] for s in json.loads(envelope.payload)["subject"]]


def public_pem_of(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sslib_resign(receipt: Path, key: Ed25519PrivateKey, keyid: str | None) -> str:
    """Replace the signatures of the envelope at `receipt` by one securesystemslib makes with
    `key`, under `keyid` (None: securesystemslib's default); the keyid it wrote."""
    default = SSlibKey.from_crypto(key.public_key())
    public = (
        default
        if keyid is None
        else SSlibKey(keyid, default.keytype, default.scheme, default.keyval)
    )
    envelope = Envelope.from_dict(json.loads(receipt.read_bytes()))
    envelope.signatures = {}
    signature = envelope.sign(CryptoSigner(key, public))
    receipt.write_text(json.dumps(envelope.to_dict()), encoding="utf-8")
    return signature.keyid


@pytest.mark.parametrize("keyid", ["", None, FOREIGN], ids=["empty", "sslib-default", "foreign"])
def test_mu_verifies_a_receipt_securesystemslib_signed_whatever_its_keyid(
    mu: Mu, built: Built, keyid: str | None
) -> None:
    release = load_private_key(built.key)
    written = sslib_resign(built.receipt, release, keyid)
    canonical = keyid_of(release.public_key())
    assert written != canonical  # the envelope does not name the key the way mu does
    assert json.loads(built.receipt.read_bytes())["signatures"][0]["keyid"] == written
    run = mu("verify-receipt", str(built.receipt), "--format", "json", root=built.root)
    assert run.code == 0, run.out + run.err
    verdict = json.loads(run.out)
    assert verdict["signers"] == ["release-bot"] and verdict["untrusted"] == []
    [signature] = [c for c in verdict["checks"] if c["name"] == "signature"]
    assert f"{canonical[:12]} (`release-bot`)" in signature["detail"]  # mu's name for the key
    # `mu log` walks the chain through the re-signed link and trusts it too.
    assert mu("log", root=built.root).code == 0


def test_mu_refuses_an_untrusted_key_that_claims_the_release_keyid(
    mu: Mu, built: Built
) -> None:
    canonical = keyid_of(load_private_key(built.key).public_key())
    sslib_resign(built.receipt, Ed25519PrivateKey.generate(), canonical)
    run = mu("verify-receipt", str(built.receipt), "--format", "json", root=built.root)
    assert run.code == 1
    verdict = json.loads(run.out)
    assert verdict["signers"] == []
    assert verdict["untrusted"] == ["`release-bot` (signature does not verify)"]
    failed = {c["name"]: c["detail"] for c in verdict["checks"] if not c["ok"]}
    assert "the payload or signature was altered" in failed["signature"]
    assert "0/1 `release`" in failed["trust"]


@pytest.mark.parametrize("keyid", ["", None, FOREIGN], ids=["empty", "sslib-default", "foreign"])
def test_mu_refuses_an_untrusted_key_whatever_other_keyid_it_claims(
    mu: Mu, built: Built, keyid: str | None
) -> None:
    sslib_resign(built.receipt, Ed25519PrivateKey.generate(), keyid)
    run = mu("verify-receipt", str(built.receipt), "--format", "json", root=built.root)
    assert run.code == 1
    verdict = json.loads(run.out)
    assert verdict["signers"] == [] and verdict["untrusted"][0].startswith("untrusted key")
