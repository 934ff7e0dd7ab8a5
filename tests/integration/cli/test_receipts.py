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

from mu.generator.provenance.keys import ensure_dev_key
from tests.chain import Built, Signed, approve, change_threshold, ok, receipts
from tests.chain import build as chain_build
from tests.conftest import Run, copy_repo, mu_process
from tests.resign import Statement, resign

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
    assert predicate["gates"] == {
        "approvals": "PASS",
        "coverage": "PASS",
        "determinism": "PASS",
        "golden": "PASS",
        "ontology": "PASS",
        "reference": "PASS",
    }
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


def next_link(built: Built, key: Path, change: Callable[[Statement], None] | None = None) -> Path:
    """The newest receipt made into the next link of the chain, signed by `key`."""
    newest = built.receipts[-1]
    sequence = len(built.receipts) + 1
    copy = newest.with_name(f"{sequence:04d}-copy.json")
    shutil.copy(newest, copy)
    parent = digest_of(newest)

    def link(statement: Statement) -> None:
        statement["predicate"]["sequence"] = sequence
        statement["predicate"]["parent"] = parent
        if change is not None:
            change(statement)

    return resign(copy, key, link)


def digest_of(receipt: Path) -> str:
    return hashlib.sha256(base64.b64decode(json.loads(receipt.read_bytes())["payload"])).hexdigest()


def test_an_untrusted_key_is_named_and_a_public_key_never_trusts_it(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    # The dev-key deploy: a link signed by the development key, with its `.pub`.
    _, dev = ensure_dev_key()
    forged = next_link(built, dev)
    verdict = mu("verify-receipt", str(forged), root=built.root)
    assert verdict.code == 1
    assert "trust      FAIL" in verdict.out and "untrusted key" in verdict.out
    pub = Path(f"{dev}.pub")
    narrowed = mu("verify-receipt", str(forged), "--public-key", str(pub), root=built.root)
    assert narrowed.code == 1 and "untrusted key" in narrowed.out
    target = tmp_path / "prod" / "enforcers"
    run = mu(
        "deploy",
        "--receipt",
        str(forged),
        "--target",
        str(target),
        "--public-key",
        str(pub),
        root=built.root,
    )
    assert run.code == 1 and "trust failed" in run.err
    assert "--public-key" not in run.err  # no refusal suggests bypassing the root
    assert not target.exists()
    log = mu("log", root=built.root)
    assert log.code == 1 and "untrusted key" in log.out
    replayed = mu("replay", "--receipt", str(forged), "--public-key", str(pub), root=built.root)
    assert replayed.code == 1


@pytest.mark.slow  # a whole build, its determinism gate included
def test_development_builds_sign_nothing(mu: Mu, repo: Path) -> None:
    run = mu("build", root=repo)
    assert run.code == 0 and "NOTHING WAS SIGNED" in run.out
    assert receipts(repo) == []


def other_repository(mu: Mu, built: Built, tmp_path: Path) -> Path:
    """A receipt of another repository whose trust root trusts the same release key."""
    other = copy_repo(tmp_path / "other")
    root_key = tmp_path / "other-keys" / "root.pem"
    root_key.parent.mkdir()
    ok(mu("keygen", "--out", str(root_key)))
    ok(
        mu(
            "trust",
            "init",
            "--root-key",
            str(root_key),
            "--repository",
            "acme/other-policy",
            root=other,
        )
    )
    ok(
        mu(
            "trust",
            "add",
            str(built.pub),
            "--role",
            "release",
            "--identity",
            "release-bot",
            root=other,
        )
    )
    ok(
        mu(
            "trust",
            "add",
            f"{built.compliance[0]}.pub",
            "--role",
            "compliance",
            "--identity",
            "alice",
            root=other,
        )
    )
    ok(mu("trust", "sign", "--key", str(root_key), root=other))
    signed = Signed(other, built.key, built.pub, root_key, built.compliance)
    return chain_build(mu, signed)


def test_a_receipt_of_another_repository_is_refused(mu: Mu, built: Built, tmp_path: Path) -> None:
    foreign = other_repository(mu, built, tmp_path)
    assert mu("verify-receipt", str(foreign), root=foreign.parent.parent).code == 0
    refusal = "made for repository `acme/other-policy`, not `acme/payments-policy`"
    verdict = mu("verify-receipt", str(foreign), root=built.root)
    assert verdict.code == 1 and refusal in verdict.out
    assert "not a link of this repository's chain" in verdict.out
    replayed = mu("replay", "--receipt", str(foreign), root=built.root)
    assert replayed.code == 1 and refusal in replayed.out
    target = tmp_path / "prod" / "enforcers"
    deployed = mu("deploy", "--receipt", str(foreign), "--target", str(target), root=built.root)
    assert deployed.code == 1 and refusal in deployed.err
    assert not target.exists()


def test_deleted_approvals_fail_every_check_by_name(mu: Mu, built: Built, tmp_path: Path) -> None:
    shutil.rmtree(built.root / "receipts" / "approvals")
    missing = "by `alice` is missing"
    verdict = mu("verify-receipt", str(built.receipt), root=built.root)
    assert verdict.code == 1 and "approvals  FAIL" in verdict.out and missing in verdict.out
    log = mu("log", root=built.root)
    assert log.code == 1 and missing in log.out
    report = mu("verify", "--format", "json", root=built.root)
    assert report.code == 1
    drifts = json.loads(report.out)["drifts"]
    assert any(d["cause"] == "approvals" and missing in d["detail"] for d in drifts)
    target = tmp_path / "prod" / "enforcers"
    deployed = mu(
        "deploy", "--receipt", str(built.receipt), "--target", str(target), root=built.root
    )
    assert deployed.code == 1 and missing in deployed.err


def test_only_an_auditor_key_signs_an_audit(mu: Mu, built: Built, tmp_path: Path) -> None:
    out = tmp_path / "statement.json"
    for key in (built.key, built.compliance[0]):  # release and compliance keys
        run = mu(
            "replay",
            "--receipt",
            str(built.receipt),
            "--sign-key",
            str(key),
            "--statement-out",
            str(out),
            root=built.root,
        )
        assert run.code == 1 and "is not trusted for auditor" in run.err
    assert not (built.root / "receipts" / "audits").exists() and not out.exists()


def test_every_kind_of_statement_verifies_against_its_role(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    repo = built.root
    ana = tmp_path / "keys" / "ana.pem"
    ok(mu("keygen", "--out", str(ana)))
    ok(mu("trust", "add", f"{ana}.pub", "--role", "auditor", "--identity", "ana", root=repo))
    ok(mu("trust", "sign", "--key", str(built.root_key), root=repo))
    # Audit: the auditor's signed replay; Upgrade: the release key's upgrade check.
    replayed = ok(
        mu(
            "replay",
            "--receipt",
            str(built.receipt),
            "--sign-key",
            str(ana),
            "--format",
            "json",
            root=repo,
        )
    )
    audit = Path(json.loads(replayed.out)["audit_receipt"])
    upgrade = ok(mu("upgrade-check", "--sign-key", str(built.key), "--format", "json", root=repo))
    upgraded = Path(json.loads(upgrade.out)["receipt"])
    # Rejection, and its Override: the operator may approve what it executes.
    roles = repo / "ontology" / "controls" / "roles.ttl"
    text = roles.read_text(encoding="utf-8")
    operator = '    rdfs:label "treasury operator" ;\n'
    roles.write_text(text.replace(operator, operator + "    mu:mayApprove ex:WireTransfer ;\n"))
    failed = mu("build", "--sign-key", str(built.key), "--format", "json", root=repo)
    assert failed.code == 1
    rejection = repo / json.loads(failed.out)["rejection"]
    overridden = ok(
        mu(
            "approve",
            "--override",
            str(rejection),
            "--key",
            str(built.compliance[0]),
            "--format",
            "json",
            root=repo,
        )
    )
    override = repo / json.loads(overridden.out)["approval"]
    [approval] = (repo / "receipts" / "approvals").glob("[0-9a-f]*-*-*.json")
    statements = {
        "Receipt": (built.receipt, "release-bot"),
        "Approval": (approval, "alice"),
        "Rejection": (rejection, "release-bot"),
        "Override": (override, "alice"),
        "Audit": (audit, "ana"),
        "Upgrade": (upgraded, "release-bot"),
        "TrustRoot": (repo / "receipts" / "trust" / "3.json", "root"),
    }
    for kind, (path, who) in statements.items():
        run = mu("verify-receipt", str(path), "--format", "json", root=repo)
        assert run.code == 0, (kind, run.out)
        verdict = json.loads(run.out)
        assert verdict["kind"] == kind and verdict["signers"] == [who], verdict
        assert "trusting this repository's own trust root" in run.err
    # Checked against the wrong role, each fails: an approval re-signed by the release key.
    copy = approval.with_name("copy-of-approval.json")
    shutil.copy(approval, copy)
    wrong = resign(copy, built.key, lambda s: None)
    run = mu("verify-receipt", str(wrong), root=repo)
    assert run.code == 1 and "0/1 `compliance` signature(s)" in run.out
    assert "`release-bot` holds only release" in run.out
    wrong.unlink()
    # mu log shows them all, in order, with names and times; and exit 1 on none.
    log = ok(mu("log", "--format", "json", root=repo))
    events = json.loads(log.out)["events"]
    kinds = [e["kind"] for e in events]
    assert set(kinds) == {*statements, "TrustRoot"}
    assert kinds.index("Approval") < kinds.index("Receipt") < kinds.index("Audit")
    assert kinds.index("Rejection") < kinds.index("Override")
    receipt = next(e for e in events if e["kind"] == "Receipt")
    assert receipt["signers"] == ["release-bot"] and receipt["approvers"] == ["alice"]
    assert receipt["signed_at"] and receipt["gates"]["approvals"] == "PASS"
    text = ok(mu("log", root=repo)).out
    assert "Rejection" in text and "Override" in text and "Audit" in text
    assert "signed by `ana`" in text
    markdown = ok(mu("log", "--format", "markdown", root=repo)).out
    assert "| 1 | Receipt |" in markdown and "| ana (v3) |" in markdown


def test_a_different_generator_pin_is_refused(mu: Mu, built: Built) -> None:
    """A receipt, validly signed by the release key and approved by compliance under the
    generator it names, that pins another generator."""
    other = {"name": "mu", "version": "0.0.9", "source_sha256": "0" * 64}

    def pin(statement: Statement) -> None:
        statement["predicate"]["generator"] = other

    [approval] = (built.root / "receipts" / "approvals").glob("*.json")
    approved = resign(approval, built.compliance[0], pin)
    path = resign(
        built.receipt,
        built.key,
        lambda s: (
            pin(s),
            s["predicate"]["approvals"]["by"][0].update(statement=digest_of(approved)),
        ),
    )
    run = mu("verify-receipt", str(path), root=built.root)
    assert run.code == 0, run.out
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


def test_builds_in_two_processes_give_identical_payloads(
    mu: Mu, signed: Signed, tmp_path: Path
) -> None:
    approve(mu, signed)
    twin = tmp_path / "twin"
    shutil.copytree(signed.root, twin)
    # The signing-time claim is the one input from outside: fixed, as reproducible builds do.
    epoch = {"SOURCE_DATE_EPOCH": "1767225600"}
    a = mu_process(
        "build",
        "--sign-key",
        str(signed.key),
        "--format",
        "json",
        cwd=signed.root,
        seed="1",
        extra_env=epoch,
    )
    b = mu_process(
        "build",
        "--sign-key",
        str(signed.key),
        "--format",
        "json",
        cwd=twin,
        seed="987654",
        extra_env=epoch,
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
