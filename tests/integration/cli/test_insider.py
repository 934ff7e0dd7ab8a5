"""Issue 10's engineer with commit rights: every path to trusted evidence fails, by name.

The engineer holds the CI's release key (`release-bot`) and can commit anything,
but holds no root key and no compliance key. They make two compliance keys of
their own, approve with them, weaken a threshold and try to build, log, verify
and deploy their way to a trusted receipt.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mu.generator.layout import Layout
from mu.generator.provenance.trusthistory import load_history
from tests.chain import REPOSITORY_ID, Built, Mu, Signed, approve, build, ok, receipts
from tests.resign import resign

WEAKEN = ('"1000000.00"^^xsd:decimal', '"5000000.00"^^xsd:decimal')


def weaken(root: Path) -> None:
    path = root / "ontology" / "controls" / "approvals.ttl"
    text = path.read_text(encoding="utf-8")
    assert WEAKEN[0] in text
    path.write_text(text.replace(WEAKEN[0], WEAKEN[1], 1), encoding="utf-8")


def keygen(mu: Mu, directory: Path, name: str) -> Path:
    directory.mkdir(exist_ok=True)
    key = directory / f"{name}.pem"
    ok(mu("keygen", "--out", str(key)))
    return key


def test_the_engineer_gets_no_trusted_receipt(mu: Mu, built: Built, tmp_path: Path) -> None:
    repo, eng = built.root, tmp_path / "eng"
    pin = load_history(Layout(repo)).first.digest
    target = tmp_path / "srv" / "enforcers"
    ok(
        mu(
            "deploy",
            "--receipt",
            str(built.receipt),
            "--target",
            str(target),
            "--trust-root",
            pin,
            root=repo,
        )
    )
    eng_a, eng_b = keygen(mu, eng, "eng-a"), keygen(mu, eng, "eng-b")

    # 1. Trusting their own keys for compliance is only a proposal the root never signs.
    for key, name in ((eng_a, "eng-a"), (eng_b, "eng-b")):
        run = ok(
            mu("trust", "add", f"{key}.pub", "--role", "compliance", "--identity", name, root=repo)
        )
        assert "not yet in effect" in run.out
    sign = mu("trust", "sign", "--key", str(eng_a), root=repo)
    assert sign.code == 1 and "is not a root key" in sign.err

    # 2. Approving with them is refused, and writes nothing.
    for key in (eng_a, eng_b):
        run = mu("approve", "--key", str(key), root=repo)
        assert run.code == 1 and "is not trusted for compliance" in run.err
    assert not list((repo / "receipts" / "approvals").glob(f"*{_keyid(eng_a)[:12]}*"))

    # 3. Weakened threshold: signing with their key is refused before any gate runs…
    weaken(repo)
    run = mu("build", "--sign-key", str(eng_a), root=repo)
    assert run.code == 1 and "not trusted for release" in run.err
    assert len(receipts(repo)) == 1
    # …and with the CI's release key the root's policy stops the line: no approval.
    run = mu("build", "--sign-key", str(built.key), "--format", "json", root=repo)
    assert run.code == 1
    assert "0/1 compliance identities" in run.out + run.err
    assert len(receipts(repo)) == 1
    assert list((repo / "receipts" / "rejected").glob("*.json"))

    # 4. Replacing the whole trust root with one of their own.
    shutil.rmtree(repo / "receipts" / "trust")
    (repo / "receipts" / "trust.json").unlink()
    moved = tmp_path / "aside"
    moved.mkdir()
    for path in receipts(repo):
        path.rename(moved / path.name)
    eng_root = keygen(mu, eng, "eng-root")
    ok(mu("trust", "init", "--root-key", str(eng_root), "--repository", REPOSITORY_ID, root=repo))
    for path in moved.iterdir():
        path.rename(repo / "receipts" / path.name)
    ok(mu("trust", "add", f"{eng_a}.pub", "--role", "compliance", "--identity", "eng-a", root=repo))
    ok(
        mu(
            "trust",
            "add",
            str(built.pub),
            "--role",
            "release",
            "--identity",
            "release-bot",
            root=repo,
        )
    )
    ok(mu("trust", "sign", "--key", str(eng_root), root=repo))
    # Their chain under their root: the old receipt no longer verifies (it names the
    # old root), and every check pinned to the real root refuses the replaced one.
    for command in (("log",), ("verify",), ("verify-receipt", str(built.receipt))):
        run = mu(*command, "--trust-root", pin, root=repo)
        assert run.code == 1, command
        assert "is not a version of this repository's trust root" in run.out + run.err
    unpinned = mu("log", root=repo)
    assert "trusting this repository's own trust root" in unpinned.err
    # The deployment target remembers the root it was first deployed under.
    run = mu("deploy", "--receipt", str(built.receipt), "--target", str(target), root=repo)
    assert run.code == 1


def _keyid(private: Path) -> str:
    from mu.generator.provenance.keys import keyid_of, load_public_key

    return keyid_of(load_public_key(Path(f"{private}.pub")))


def test_the_build_signer_never_approves_its_own_change(
    mu: Mu, signed: Signed, tmp_path: Path
) -> None:
    repo = signed.root
    # The root (legitimately) lets release-bot's identity hold compliance too.
    ok(
        mu(
            "trust",
            "add",
            str(signed.pub),
            "--role",
            "compliance",
            "--identity",
            "release-bot",
            root=repo,
        )
    )
    ok(mu("trust", "sign", "--key", str(signed.root_key), root=repo))
    ok(mu("approve", "--key", str(signed.key), root=repo))
    run = mu("build", "--sign-key", str(signed.key), "--format", "json", root=repo)
    assert run.code == 1
    assert "build signer's own identity" in run.out + run.err
    # A real compliance officer's approval lets the same build through.
    approve(mu, signed)
    ok(mu("build", "--sign-key", str(signed.key), root=repo))


def test_rotation_keeps_history_and_revokes_the_removed_key(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    repo = built.root
    history = load_history(Layout(repo))
    pin = history.first.digest
    a_keyid = _keyid(built.key)
    b = keygen(mu, tmp_path / "b", "release-b")
    ok(
        mu(
            "trust",
            "add",
            f"{b}.pub",
            "--role",
            "release",
            "--identity",
            "release-bot-2",
            root=repo,
        )
    )
    ok(mu("trust", "remove", a_keyid, root=repo))
    ok(mu("trust", "sign", "--key", str(built.root_key), root=repo))
    assert load_history(Layout(repo)).newest.version == 3
    # B signs 0002; the whole chain verifies from the pinned version 1.
    rotated = Signed(repo, b, Path(f"{b}.pub"), built.root_key, built.compliance)
    from tests.chain import relabel_cfo_rule

    relabel_cfo_rule(repo)
    second = build(mu, rotated)
    ok(mu("log", "--trust-root", pin, root=repo))
    for receipt in (built.receipt, second):
        ok(mu("verify-receipt", str(receipt), "--trust-root", pin, root=repo))
    # A can no longer build…
    run = mu("build", "--sign-key", str(built.key), root=repo)
    assert run.code == 1 and "not trusted for release" in run.err
    # …and a link A signs by hand fails, whichever version it claims.
    v2, v3 = history.newest.ref(), load_history(Layout(repo)).newest.ref()
    for claimed in (v2, v3):
        copy = repo / "receipts" / "0003-forged.json"
        shutil.copy(second, copy)

        def next_link(statement: dict[str, object], claimed: dict[str, object] = claimed) -> None:
            predicate = statement["predicate"]
            assert isinstance(predicate, dict)
            predicate["sequence"] = 3
            predicate["parent"] = _digest(second)
            predicate["trust_root"] = claimed

        forged = resign(copy, built.key, next_link)
        run = mu("verify-receipt", str(forged), "--trust-root", pin, root=repo)
        assert run.code == 1, run.out
        assert "version 3" in run.out
        assert mu("log", "--trust-root", pin, root=repo).code == 1
        forged.unlink()


def _digest(receipt: Path) -> str:
    from mu.generator.provenance.receipt import read_receipt

    return read_receipt(receipt).digest


def test_a_version_signed_without_the_root_quorum_stops_everything(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    """The engineer writes trust-root version 3 themselves — their two compliance keys
    added, signed with those keys — and commits it as the newest version."""
    import dataclasses

    from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, sign
    from mu.generator.provenance.keys import load_private_key, public_pem
    from mu.generator.provenance.trustroot import Identity, RoleKeys

    repo, eng = built.root, tmp_path / "eng"
    keys = [keygen(mu, eng, name) for name in ("eng-a", "eng-b")]
    newest = load_history(Layout(repo)).newest
    m = newest.metadata
    identities = dict(m.identities)
    roles = dict(m.roles)
    for key in keys:
        private = load_private_key(key)
        identities[key.stem] = Identity(key.stem, {_keyid(key): public_pem(private.public_key())})
    roles["compliance"] = RoleKeys(
        tuple(sorted({*m.roles["compliance"].keyids, *(_keyid(k) for k in keys)})), 1
    )
    forged = dataclasses.replace(
        m,
        version=3,
        previous=newest.digest,
        effective_after=1,
        identities=identities,
        roles=roles,
    )
    payload = forged.statement()
    signatures = tuple(sign(PAYLOAD_TYPE, payload, load_private_key(k)).signatures[0] for k in keys)
    envelope = Envelope(PAYLOAD_TYPE, payload, signatures)
    (repo / "receipts" / "trust" / "3.json").write_bytes(envelope.to_json())
    (repo / "receipts" / "trust.json").write_bytes(envelope.to_json())
    weaken(repo)
    quorum = "lacks its own root quorum"
    for command in (
        ("approve", "--key", str(keys[0])),
        ("build", "--sign-key", str(built.key)),
        ("log",),
        ("verify",),
        ("verify-receipt", str(built.receipt)),
        ("deploy", "--receipt", str(built.receipt), "--target", str(tmp_path / "srv" / "a")),
    ):
        run = mu(*command, root=repo)
        assert run.code == 1, (command, run.out, run.err)
        assert quorum in run.out + run.err, command
        assert "lacks the root quorum of version 2" in run.out + run.err, command
    assert len(receipts(repo)) == 1
