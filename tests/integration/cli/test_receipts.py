"""Signed receipts, the chain, `mu verify-receipt`, `mu replay` and `mu log`
(SPEC §6–§7): every tamper is caught and named; replay works offline."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.chain import Built, Signed, change_threshold, receipts
from tests.conftest import Run, mu_process

Mu = Callable[..., Run]


def pae(payload_type: bytes, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding, written out independently of mu."""
    return b" ".join(
        [b"DSSEv1", str(len(payload_type)).encode(), payload_type, str(len(body)).encode(), body]
    )


def test_a_signed_receipt_verifies_independently(mu: Mu, built: Built) -> None:
    path = built.receipt
    envelope = json.loads(path.read_bytes())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = base64.b64decode(envelope["payload"])
    pem = built.pub.read_bytes()
    public = serialization.load_pem_public_key(pem)
    assert isinstance(public, Ed25519PublicKey)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    [sig] = envelope["signatures"]
    assert sig["keyid"] == hashlib.sha256(raw).hexdigest()
    public.verify(base64.b64decode(sig["sig"]), pae(envelope["payloadType"].encode(), payload))

    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "urn:mu:v1#Receipt"
    on_disk = {
        f"enforcers/{p.relative_to(built.root / 'enforcers').as_posix()}": p
        for p in (built.root / "enforcers").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    recorded = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    assert set(recorded) == set(on_disk)
    for name, file in on_disk.items():
        assert recorded[name] == hashlib.sha256(file.read_bytes()).hexdigest()

    predicate = statement["predicate"]
    assert predicate["parent"] is None and predicate["sequence"] == 1
    assert predicate["gates"] == {"determinism": "PASS", "golden": "PASS", "ontology": "PASS"}
    assert predicate["golden"]["failed"] == 0 and predicate["golden"]["total"] > 100
    digest = hashlib.sha256(payload).hexdigest()
    assert path.name == f"0001-{digest[:12]}.json"
    assert (built.root / predicate["ontology"]["snapshot"]["path"]).is_file()
    assert mu("verify-receipt", str(path), root=built.root).code == 0


def test_replay_works_without_ontology_enforcers_or_git(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    path = built.receipt
    auditor = tmp_path / "auditor"
    shutil.copytree(built.root, auditor)
    for name in ("ontology", "enforcers", ".git"):
        shutil.rmtree(auditor / name, ignore_errors=True)
    run = mu_process("replay", "--receipt", f"receipts/{path.name}", cwd=auditor)
    assert run.code == 0, run.out + run.err
    payload = base64.b64decode(json.loads(path.read_bytes())["payload"])
    assert run.out.rstrip("\n").splitlines()[-1].encode() == payload
    out = tmp_path / "statement.json"
    again = mu(
        "replay",
        "--receipt",
        str(auditor / "receipts" / path.name),
        "--statement-out",
        str(out),
        root=auditor,
    )
    assert again.code == 0 and out.read_bytes() == payload


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_tampered_enforcer_byte_is_named(mu: Mu, built: Built) -> None:
    path = built.receipt
    module = built.root / "enforcers" / "controls" / "approval_over_100k.py"
    flip(module, len(module.read_bytes()) // 2)
    run = mu(
        "replay",
        "--receipt",
        str(path),
        "--deployed",
        str(built.root / "enforcers"),
        root=built.root,
    )
    assert run.code == 1
    assert "changed controls/approval_over_100k.py" in run.out


def test_tampered_snapshot_is_refused(mu: Mu, built: Built) -> None:
    path = built.receipt
    [snapshot] = (built.root / "receipts" / "snapshots").glob("*.json")
    flip(snapshot, 100)
    run = mu("replay", "--receipt", str(path), root=built.root)
    assert run.code == 1
    assert "has been altered" in run.err


def rewrite_envelope(path: Path, change: Callable[[dict[str, object]], None]) -> None:
    envelope = json.loads(path.read_bytes())
    change(envelope)
    path.write_text(json.dumps(envelope), encoding="utf-8")


def test_tampered_payload_byte_fails_the_signature(mu: Mu, built: Built) -> None:
    path = built.receipt

    def tamper(env: dict[str, object]) -> None:
        payload = bytearray(base64.b64decode(str(env["payload"])))
        at = payload.index(b'"passed":') + 9
        payload[at] = ord("9") if payload[at] != ord("9") else ord("8")
        env["payload"] = base64.b64encode(bytes(payload)).decode()

    rewrite_envelope(path, tamper)
    run = mu("verify-receipt", str(path), root=built.root)
    assert run.code == 1
    assert "signature  FAIL" in run.out and "altered" in run.out


def test_tampered_signature_byte_fails(mu: Mu, built: Built) -> None:
    path = built.receipt

    def tamper(env: dict[str, object]) -> None:
        sigs = env["signatures"]
        assert isinstance(sigs, list)
        raw = bytearray(base64.b64decode(sigs[0]["sig"]))
        raw[0] ^= 0x01
        sigs[0]["sig"] = base64.b64encode(bytes(raw)).decode()

    rewrite_envelope(path, tamper)
    run = mu("verify-receipt", str(path), root=built.root)
    assert run.code == 1 and "signature  FAIL" in run.out


def test_three_builds_make_a_verified_chain_of_three(mu: Mu, built_three: Built) -> None:
    paths = list(built_three.receipts)
    assert [p.name[:4] for p in receipts(built_three.root)] == ["0001", "0002", "0003"]
    assert len(set(paths)) == 3
    log = mu("log", "--format", "json", root=built_three.root)
    assert log.code == 0, log.out
    data = json.loads(log.out)
    assert data["verified"] is True and data["receipts"] == 3
    changes = [entry["change"] for entry in data["chain"]]
    assert changes[0]["added"] and not changes[0]["changed"]
    assert changes[1] == {"added": [], "removed": [], "changed": ["approval_over_1m"]}
    assert changes[2] == {"added": ["notify_cfo_on_review"], "removed": [], "changed": []}
    text = mu("log", root=built_three.root)
    assert "3 policy changes, 3 receipts, all verified" in text.out
    markdown = mu("log", "--format", "markdown", root=built_three.root)
    assert "| 3 |" in markdown.out and "all verified" in markdown.out
    # A fourth build with nothing changed adds no link.
    again = mu("build", "--sign-key", str(built_three.key), root=built_three.root)
    assert again.code == 0 and "unchanged since" in again.out
    assert len(receipts(built_three.root)) == 3


def test_a_receipt_removed_from_the_middle_breaks_the_chain(mu: Mu, built_three: Built) -> None:
    _first, middle, last = built_three.receipts
    middle.unlink()
    run = mu("verify-receipt", str(last), root=built_three.root)
    assert run.code == 1
    assert "a receipt is missing from the chain" in run.out
    log = mu("log", root=built_three.root)
    assert log.code == 1 and "NOT all verified" in log.out


def test_untrusted_signer_is_refused(mu: Mu, signed: Signed, tmp_path: Path) -> None:
    other = tmp_path / "keys" / "intruder.pem"
    assert mu("keygen", "--out", str(other), root=signed.root).code == 0
    run = mu("build", "--sign-key", str(other), "--format", "json", root=signed.root)
    path = Path(json.loads(run.out)["receipt"])
    verdict = mu("verify-receipt", str(path), root=signed.root)
    assert verdict.code == 1
    assert "does not name" in verdict.out
    # ...but its signature is sound when checked against its own public key.
    alone = mu("verify-receipt", str(path), "--public-key", f"{other}.pub", root=signed.root)
    assert alone.code == 0


@pytest.mark.slow  # `mu build` runs the determinism gate in a child process
def test_development_key_signs_but_says_it_is_untrusted(mu: Mu, repo: Path) -> None:
    run = mu("build", root=repo)
    assert run.code == 0
    assert "NOT trusted" in run.out
    [path] = receipts(repo)
    assert mu("verify-receipt", str(path), root=repo).code == 1


def test_a_different_generator_pin_is_refused(mu: Mu, built: Built) -> None:
    """A receipt, validly signed by the release key, that pins another generator."""
    from generator.hashing import canonical_json
    from generator.provenance.dsse import Envelope
    from generator.provenance.keys import keyid_of, load_private_key
    from generator.provenance.receipt import receipt_name
    from generator.provenance.signing import Signer

    path = built.receipt
    envelope = Envelope.from_json(path.read_bytes(), str(path))
    statement = json.loads(envelope.payload)
    statement["predicate"]["generator"]["source_sha256"] = "0" * 64
    statement["predicate"]["generator"]["version"] = "0.0.9"
    payload = canonical_json(statement)
    key = load_private_key(built.key)
    resigned = Signer(key, keyid_of(key.public_key()), built.key, False).sign(payload)
    path.unlink()
    path = path.with_name(receipt_name(1, hashlib.sha256(payload).hexdigest()))
    path.write_bytes(resigned.to_json())
    assert mu("verify-receipt", str(path), root=built.root).code == 0
    run = mu("replay", "--receipt", str(path), root=built.root)
    assert run.code == 1
    assert "made by mu 0.0.9" in run.err and "install mu 0.0.9" in run.err


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"payloadType": "x"}',
        b'{"payload": "!!", "payloadType": '
        b'"application/vnd.in-toto+json", "signatures": [{"keyid": "a", "sig": "AA=="}]}',
    ],
)
def test_malformed_receipt_file_is_exit_2(mu: Mu, signed: Signed, content: bytes) -> None:
    bad = signed.root / "receipts" / "bad.json"
    bad.parent.mkdir(exist_ok=True)
    bad.write_bytes(content)
    run = mu("verify-receipt", str(bad), root=signed.root)
    assert run.code == 2
    assert "Traceback" not in run.err
    assert mu("replay", "--receipt", str(bad), root=signed.root).code == 2


def test_failed_gate_writes_a_signed_rejection_and_no_enforcers(mu: Mu, signed: Signed) -> None:
    change_threshold(signed.root, '"approval_over_10k"', '"Bad-Id"')
    run = mu("build", "--sign-key", str(signed.key), "--format", "json", root=signed.root)
    assert run.code == 1
    result = json.loads(run.out)
    assert result["receipt"] is None and not (signed.root / "enforcers").exists()
    rejection = Path(result["rejection"])
    assert rejection.parent.name == "rejected"
    envelope = json.loads(rejection.read_bytes())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["predicateType"] == "urn:mu:v1#Rejection"
    assert statement["predicate"]["failed_gates"] == ["ontology"]
    shapes = {v["shape"] for v in statement["predicate"]["violations"]}
    assert any("controlId" in s for s in shapes)
    assert receipts(signed.root) == []


def test_builds_in_two_processes_give_identical_payloads(signed: Signed, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(signed.root, twin)
    a = mu_process(
        "build", "--sign-key", str(signed.key), "--format", "json", cwd=signed.root, seed="1"
    )
    b = mu_process(
        "build", "--sign-key", str(signed.key), "--format", "json", cwd=twin, seed="987654"
    )
    assert a.code == 0 and b.code == 0, a.err + b.err
    pa = signed.root / json.loads(a.out)["receipt"]
    pb = twin / json.loads(b.out)["receipt"]
    assert pa.name == pb.name
    assert pa.read_bytes() == pb.read_bytes()  # Ed25519 is deterministic: whole envelope equal


def test_private_keys_inside_the_repository_are_refused(mu: Mu, signed: Signed) -> None:
    import subprocess

    inside = signed.root / "keys" / "release.pem"
    run = mu("keygen", "--out", str(inside), root=signed.root)
    assert run.code == 2 and not inside.exists()
    # A key committed to the policy repository is refused for signing.
    subprocess.run(["git", "init", "-q", str(signed.root)], check=True)
    tracked = signed.root / "leaked.pem"
    shutil.copy(signed.key, tracked)
    subprocess.run(["git", "-C", str(signed.root), "add", "leaked.pem"], check=True)
    build_run = mu("build", "--sign-key", str(tracked), root=signed.root)
    assert build_run.code == 2
    assert "tracked" in build_run.err
    assert receipts(signed.root) == []
