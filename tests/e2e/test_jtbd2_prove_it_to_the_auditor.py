"""Job 2, "know exactly what changed and why, and prove it to my auditor": scenarios 2.1
and 2.2. The auditor works from files and a pinned trust root, never from testimony."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mu.generator.files import read_tree
from tests.chain import Built, ok
from tests.conftest import mu_process, run_mu
from tests.e2e.kit import (
    Stopwatch,
    mu_json,
    payload_bytes,
    statement,
    subjects,
    tree_digests,
    trust_pin,
)

pytestmark = pytest.mark.slow


def test_2_1_an_auditor_replays_the_production_receipt_in_a_clean_environment(
    built_two: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 2.1, auditor replay from receipt.

    Given O_old → O_new (receipts 0001 and 0002), receipt 0002 deployed to production,
    and an auditor holding only a copy of `receipts/` (no ontology, no enforcers, no
    git), the trust root's sha256 handed over by compliance and an `auditor`-role key;
    when the auditor runs `mu replay --receipt 0002 --trust-root PIN --deployed PROD
    --sign-key AUDITOR` (the receipt pins the generator; replay regenerates A from the
    receipt's snapshot and compares); then:

    - hashes match: every comparison of the replay passes (subjects, ontology digest,
      golden results, controls, payload), and its subjects line counts every file;
    - the auditor concludes "generated correctly from these rules": the replay exits 0
      and writes an Audit statement signed by the auditor, which `mu verify-receipt`
      accepts as kind Audit signed by `ana`;
    - Provenance, hash(A) = hash(μ(O)): the production directory's files, hashed by the
      test, equal the receipt's subjects;
    - Replay gate, in a clean environment: the auditor's directory holds no
      `ontology/`, `enforcers/` or `.git`, and the replay passes there;
    - zero human testimony, two bitwise-identical receipts: the statement the replay
      produces is byte for byte the signed payload of receipt 0002; and the same replay
      against a production copy with one edited byte fails (exit 1), so the verdict
      rests on the bytes, not on anyone's word.
    """
    root = built_two.root
    receipt = built_two.receipt
    auditor_key = tmp_path / "keys" / "ana.pem"
    ok(run_mu("keygen", "--out", str(auditor_key)))
    ok(run_mu("trust", "add", f"{auditor_key}.pub", "--role", "auditor", "--identity", "ana",
              root=root))
    ok(run_mu("trust", "sign", "--key", str(built_two.root_key), root=root))
    production = tmp_path / "srv" / "production"
    deployed = mu_json("deploy", "--receipt", str(receipt), "--target", str(production),
                       cwd=root).json
    assert deployed["health"]["ok"] is True

    clean = tmp_path / "auditor"
    shutil.copytree(root / "receipts", clean / "receipts")
    pin = trust_pin(clean, tmp_path / "handed" / "trust-root-1.json")
    for absent in ("ontology", "enforcers", "golden", ".git"):
        assert not (clean / absent).exists()
    statement_out = tmp_path / "auditor-statement.json"
    with stopwatch("auditor_replay"):
        replay = mu_json(
            "replay", "--receipt", f"receipts/{receipt.name}", "--trust-root", pin,
            "--deployed", str(production), "--sign-key", str(auditor_key),
            "--statement-out", str(statement_out), cwd=clean,
        ).json
    assert replay["ok"] is True
    comparisons = {c["name"]: c for c in replay["comparisons"]}
    assert all(c["ok"] for c in comparisons.values()), comparisons
    assert {"subjects", "ontology digest", "payload"} <= set(comparisons)
    assert f"{len(subjects(receipt))} files" in comparisons["subjects"]["detail"]

    assert tree_digests(production) == subjects(receipt)
    assert statement_out.read_bytes() == payload_bytes(receipt)
    audit = Path(replay["audit_receipt"])
    audit = audit if audit.is_absolute() else clean / audit
    verified = mu_json("verify-receipt", str(audit), "--trust-root", pin, cwd=clean).json
    assert verified["kind"] == "Audit" and verified["signers"] == ["ana"]
    assert statement(audit)["predicateType"] == "urn:mu:v1#Audit"

    # The verdict rests on bytes: one edited byte in production and the replay fails.
    edited = tmp_path / "edited"
    shutil.copytree(production, edited)
    module = edited / "controls" / "approval_over_1m.py"
    module.write_bytes(module.read_bytes().replace(b"1000000", b"1000001", 1))
    assert read_tree(edited) != read_tree(production)
    tampered = mu_process("replay", "--receipt", f"receipts/{receipt.name}", "--trust-root",
                          pin, "--deployed", str(edited), cwd=clean)
    assert tampered.code == 1, tampered.out + tampered.err
    assert "approval_over_1m.py" in tampered.out + tampered.err


def test_2_2_the_chain_of_receipts_explains_every_change_from_t0_to_t2(
    built_three: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 2.2, change delta audit trail.

    Given O_t0, O_t1, O_t2 (the shipped example; `approval_over_1m` relabelled; the
    control `notify_cfo_on_review` added) and their receipts 0001–0003; when the
    auditor asks "what changed between t0 and t2?" with `mu log --trust-root PIN`,
    `mu diff R_t0 R_t2` and `mu verify`; then:

    - the trail is a chain: `mu log` lists exactly receipts 1, 2, 3, each verified and
      each naming its predecessor's statement digest as parent (the first none);
    - no unexplained transition: the controls `mu diff` finds changed or added from t0
      to t2 are exactly the union of the changes recorded by receipts 2 and 3; and an
      ontology edit made without a build is reported by `mu verify` (exit 1) as
      uncompiled, so an unrecorded change cannot pass unnoticed;
    - Idempotence, O →μ→μ = O →μ: A_t0 regenerated twice from its receipt
      (`mu rollback --receipt R_t0 --output`) is the same bytes both times and equals
      receipt 0001's subjects;
    - "N documented steps, each correct-by-construction": every link carries a
      compliance approver and the gates ontology, golden, coverage, reference,
      determinism and approvals PASS (O ⊨ Σ at each stage), and the markdown log has one
      row per receipt.
    """
    root = built_three.root
    pin = trust_pin(root, tmp_path / "handed" / "trust-root-1.json")
    with stopwatch("read_the_trail"):
        log = mu_json("log", "--trust-root", pin, cwd=root).json
    chain = log["chain"]
    assert [link["sequence"] for link in chain] == [1, 2, 3]
    assert [link["file"] for link in chain] == [
        f"receipts/{r.name}" for r in built_three.receipts
    ]
    parents = [link["parent"] for link in chain]
    assert parents == [None, chain[0]["statement_digest"], chain[1]["statement_digest"]]
    for link in chain:
        assert link["verified"] is True and link["problems"] == []
        assert link["approvers"] == ["alice"]
        assert link["gates"] == {
            "approvals": "PASS", "coverage": "PASS", "determinism": "PASS", "golden": "PASS",
            "ontology": "PASS", "reference": "PASS",
        }

    first, last = built_three.receipts[0], built_three.receipts[-1]
    diff = mu_json("diff", str(first), str(last), "--trust-root", pin, cwd=root).json
    moved = {c["control_id"] for c in diff["controls"] if c["status"] != "unchanged"}
    recorded = {
        control
        for link in chain[1:]
        for control in (*link["change"]["added"], *link["change"]["changed"],
                        *link["change"]["removed"])
    }
    assert moved == recorded == {"approval_over_1m", "notify_cfo_on_review"}

    markdown = mu_process("log", "--trust-root", pin, "--format", "markdown", cwd=root)
    assert markdown.code == 0, markdown.err
    for n in (1, 2, 3):
        assert f"| {n} | Receipt |" in markdown.out

    # Idempotence: regenerating A_t0 twice gives the same bytes, the ones recorded.
    outputs = [tmp_path / "a_t0", tmp_path / "a_t0_again"]
    for output in outputs:
        mu_json("rollback", "--receipt", str(first), "--output", str(output), cwd=root)
    assert read_tree(outputs[0]) == read_tree(outputs[1])
    assert tree_digests(outputs[0]) == subjects(first)

    verified = mu_json("verify", "--trust-root", pin, cwd=root).json
    assert verified["ok"] is True and verified["drifts"] == []
    approvals = root / "ontology" / "controls" / "approvals.ttl"
    approvals.write_text(approvals.read_text(encoding="utf-8").replace(
        '"10000.00"^^xsd:decimal', '"20000.00"^^xsd:decimal', 1), encoding="utf-8")
    unrecorded = mu_json("verify", "--trust-root", pin, cwd=root, codes=(1,)).json
    assert unrecorded["ok"] is False and unrecorded["drifts"]
    assert "approval_over_10k" in str(unrecorded["drifts"])
