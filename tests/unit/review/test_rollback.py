"""`mu rollback --receipt`: A exactly as an earlier receipt recorded it, proven
by digests; refused when the snapshot was tampered with; and recorded by the
next build as a change back to the earlier ontology."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from mu.generator.files import read_tree
from mu.generator.layout import Layout
from mu.generator.provenance.trusthistory import load_history
from tests.chain import Built, build, receipts
from tests.conftest import Run
from tests.resign import resign

Mu = Callable[..., Run]


def statement_of(receipt: Path) -> dict[str, object]:
    return dict(json.loads(base64.b64decode(json.loads(receipt.read_bytes())["payload"])))


def subjects(receipt: Path) -> dict[str, str]:
    recorded = statement_of(receipt)["subject"]
    assert isinstance(recorded, list)
    return {s["name"]: s["digest"]["sha256"] for s in recorded}


def test_rollback_to_the_first_receipt_reproduces_its_enforcers(mu: Mu, built_three: Built) -> None:
    first, _second, third = built_three.receipts
    assert read_tree(built_three.root / "enforcers") != {}
    run = mu("rollback", "--receipt", str(first), root=built_three.root)
    assert run.code == 0, run.out + run.err
    on_disk = {
        f"enforcers/{path}": hashlib.sha256(data).hexdigest()
        for path, data in read_tree(built_three.root / "enforcers").items()
    }
    assert on_disk == subjects(first)
    assert not (built_three.root / "ontology" / "controls" / "extra.ttl").exists()

    # The next build records the rollback: a new link back to the first ontology.
    fourth = build(mu, built_three)
    assert fourth.name.startswith("0004-")
    log = json.loads(mu("log", "--format", "json", root=built_three.root).out)
    assert log["verified"] is True
    entries = log["chain"]
    assert entries[3]["ontology_digest"] == entries[0]["ontology_digest"]
    assert entries[3]["change"] == {
        "added": [],
        "removed": ["notify_cfo_on_review"],
        "changed": ["approval_over_1m"],
    }
    assert subjects(fourth) == subjects(first)
    assert third.exists()


def test_rollback_to_another_directory_leaves_the_repository_alone(
    mu: Mu, built_three: Built, tmp_path: Path
) -> None:
    first = built_three.receipts[0]
    before = read_tree(built_three.root / "enforcers")
    out = tmp_path / "rolled-back"
    run = mu("rollback", "--receipt", str(first), "--output", str(out), root=built_three.root)
    assert run.code == 0, run.err
    assert read_tree(built_three.root / "enforcers") == before
    assert (built_three.root / "ontology" / "controls" / "extra.ttl").exists()
    assert {
        f"enforcers/{p}": hashlib.sha256(d).hexdigest() for p, d in read_tree(out).items()
    } == subjects(first)


def test_rollback_with_a_tampered_snapshot_is_refused(mu: Mu, built: Built) -> None:
    first = built.receipt
    (built.root / "ontology" / "controls" / "approvals.ttl").write_text(
        (built.root / "ontology" / "controls" / "approvals.ttl")
        .read_text(encoding="utf-8")
        .replace("the CFO", "the chief financial officer"),
        encoding="utf-8",
    )
    build(mu, built)
    before = read_tree(built.root / "enforcers")
    assert json.loads(mu("log", "--format", "json", root=built.root).out)["verified"]
    predicate = statement_of(first)["predicate"]
    assert isinstance(predicate, dict)
    snapshot = built.root / predicate["ontology"]["snapshot"]["path"]
    text = snapshot.read_text(encoding="utf-8")
    snapshot.write_text(text.replace("100000.00", "900000.00", 1), encoding="utf-8")
    run = mu("rollback", "--receipt", str(first), root=built.root)
    assert run.code == 1
    assert "has been altered" in run.err
    assert read_tree(built.root / "enforcers") == before
    assert len(receipts(built.root)) == 2


def test_rollback_of_an_unverifiable_receipt_is_refused(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    # The receipt as signed by a key the trust root does not hold.
    stranger = tmp_path / "stranger.pem"
    assert mu("keygen", "--out", str(stranger)).code == 0
    receipt = resign(built.receipt, stranger, lambda s: None)
    run = mu(
        "rollback", "--receipt", str(receipt), "--output", str(tmp_path / "out"), root=built.root
    )
    assert run.code == 1
    assert "does not verify (signature, trust failed)" in run.err
    assert "untrusted key" in run.err
    assert not (tmp_path / "out").exists()


def test_rollback_from_a_pinned_trust_root(mu: Mu, built_two: Built, tmp_path: Path) -> None:
    first = built_two.receipts[0]
    pin = load_history(Layout(built_two.root)).first.digest
    out = tmp_path / "out"
    run = mu(
        "rollback",
        "--receipt",
        str(first),
        "--output",
        str(out),
        "--trust-root",
        pin,
        root=built_two.root,
    )
    assert run.code == 0, run.out + run.err
    assert "warning" not in run.err
    unpinned = mu("rollback", "--receipt", str(first), "--output", str(out), root=built_two.root)
    assert unpinned.code == 0 and "trusting this repository's own trust root" in unpinned.err
    wrong = mu(
        "rollback",
        "--receipt",
        str(first),
        "--output",
        str(out),
        "--trust-root",
        "f" * 64,
        root=built_two.root,
    )
    assert wrong.code == 1 and "is not a version of this repository's trust root" in wrong.err
