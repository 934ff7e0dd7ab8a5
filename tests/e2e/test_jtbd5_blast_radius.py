"""Job 5, "minimise the blast radius if something goes wrong": scenarios 5.1 (minimal
diff) and 5.2 (deterministic rollback from a receipt)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from mu.generator.files import read_tree
from tests.chain import Built
from tests.conftest import mu_process
from tests.e2e.kit import Stopwatch, mu_json, mu_ok, statement, subjects, tree_digests

pytestmark = pytest.mark.slow
CHANGED = "controls/approval_over_1m.py"


def test_5_1_one_changed_rule_changes_one_module(
    built_two: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 5.1, minimal diff verification.

    Given O_old, the shipped example of 26 controls (receipt 0001, deployed to
    production as A_old), and a ΔO changing one rule, `approval_over_1m` (its label:
    a change of its threshold would flip golden cases the suite pins, so it would come
    with new golden cases), built into receipt 0002 and A_new; when the operator runs
    `mu diff R_old R_new`, `mu diff --old A_old --new A_new --verbose` on the two
    enforcer directories, and deploys A_new; then:

    - the diff is minimal, only that rule's enforcer recompiled: both diffs name
      exactly one changed control module, `controls/approval_over_1m.py`, a blast
      radius of 1/26;
    - unchanged artefacts are byte-identical to A_old: every module the diff calls
      identical has the same bytes in A_old and A_new, read by the test;
    - Minimality: the change passes `--max-blast-radius 0.05` and is refused (exit 1)
      by `--max-blast-radius 0.01`, so the gate measures this change;
    - blast radius bounded, one process restarted (mu has no processes; a deploy says
      which modules a running service reloads): the deploy of A_new lists exactly
      that module as changed, nothing added or removed;
    - Waste Elimination: no golden decision flips, and receipt 0002 records the one
      changed control while every other control keeps its digest from receipt 0001.
    """
    root = built_two.root
    old_receipt, new_receipt = built_two.receipts
    production = tmp_path / "srv" / "production"
    mu_json("deploy", "--receipt", str(old_receipt), "--target", str(production), cwd=root)
    a_old = tmp_path / "a_old"
    shutil.copytree(production, a_old)

    with stopwatch("diff"):
        by_receipt = mu_json("diff", str(old_receipt), str(new_receipt), cwd=root).json
        by_directory = mu_json("diff", "--old", str(a_old), "--new", "enforcers", "--verbose",
                               cwd=root).json
    for diff in (by_receipt, by_directory):
        assert diff["blast_radius"]["modules"] == [CHANGED]
        assert diff["blast_radius"]["ratio"] == "1/26"
        assert diff["flips"] == []
        assert diff["modules"]["added"] == diff["modules"]["removed"] == []
    assert [m for m in by_directory["modules"]["changed"] if m.startswith("controls/")] == [
        CHANGED
    ]
    identical = by_directory["modules"]["identical"]
    assert len(identical) >= 30
    old_files, new_files = read_tree(a_old), read_tree(root / "enforcers")
    for module in identical:
        assert old_files[module] == new_files[module], module
    assert old_files[CHANGED] != new_files[CHANGED]

    mu_ok("diff", str(old_receipt), str(new_receipt), "--max-blast-radius", "0.05", cwd=root)
    over = mu_process("diff", str(old_receipt), str(new_receipt), "--max-blast-radius", "0.01",
                      cwd=root)
    assert over.code == 1, over.out + over.err

    deployed = mu_json("deploy", "--receipt", str(new_receipt), "--target", str(production),
                       cwd=root).json
    assert deployed["restart"] == {"added": [], "changed": [CHANGED], "removed": []}
    assert deployed["health"]["ok"] is True

    old_controls = statement(old_receipt)["predicate"]["controls"]
    new_predicate = statement(new_receipt)["predicate"]
    assert new_predicate["change"] == {"added": [], "changed": ["approval_over_1m"],
                                       "removed": []}
    differing = {c for c in old_controls
                 if old_controls[c]["digest"] != new_predicate["controls"][c]["digest"]}
    assert differing == {"approval_over_1m"}


def test_5_2_rollback_regenerates_the_old_release_from_its_receipt(
    built_two: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 5.2, rollback capability.

    Given receipt 0001 (O_t0 → A_t0) deployed to production and then replaced by
    receipt 0002, whose change turns out to be unwanted; when the team deletes its
    working copies of `ontology/` and `enforcers/` (nothing kept by hand), runs
    `mu rollback --receipt R_t0`, checks the result, and deploys receipt 0001 again;
    then:

    - rollback is deterministic: the regenerated `enforcers/` is byte for byte the
      release that production ran for receipt 0001, and its files, hashed by the test,
      equal the receipt's subjects;
    - no manual revert or backup script: `ontology/` is restored from the receipt's
      signed snapshot, every file with the sha256 the receipt records, and
      `mu generate --check` confirms the restored O compiles to the restored A;
    - Idempotence, μ∘μ = μ: a second rollback changes no byte;
    - time to rollback: reported (rollback and redeploy), not asserted;
    - proof that it came from stored O: the redeploy names receipt 0001 (sequence 1,
      its statement digest) and `mu receipt --deployment` verifies that production now
      runs it; only the one module changed by 0002 is reloaded.
    """
    root = built_two.root
    first, second = built_two.receipts
    production = tmp_path / "srv" / "production"
    for receipt in (first, second):
        mu_json("deploy", "--receipt", str(receipt), "--target", str(production), cwd=root)
    [a_t0] = (production.parent / "production.releases").glob("0001-*")
    recorded = statement(first)["predicate"]

    shutil.rmtree(root / "ontology")
    shutil.rmtree(root / "enforcers")
    with stopwatch("rollback"):
        mu_json("rollback", "--receipt", str(first), cwd=root)
    restored = read_tree(root / "enforcers")
    assert restored == read_tree(a_t0)
    assert tree_digests(root / "enforcers") == subjects(first)
    ontology = {
        str(p.relative_to(root / "ontology")): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "ontology").rglob("*.ttl"))
    }
    assert ontology == recorded["ontology"]["files"]
    mu_ok("generate", "--check", cwd=root)

    mu_json("rollback", "--receipt", str(first), cwd=root)
    assert read_tree(root / "enforcers") == restored

    with stopwatch("redeploy"):
        redeployed = mu_json("deploy", "--receipt", str(first), "--target", str(production),
                             cwd=root).json
    assert redeployed["sequence"] == 1
    assert redeployed["statement_digest"].startswith(first.stem.split("-")[1])
    assert redeployed["restart"] == {"added": [], "changed": [CHANGED], "removed": []}
    running = mu_json("receipt", "--deployment", str(production), cwd=root).json
    assert running["verified"] is True and running["sequence"] == 1
    assert running["statement_digest"] == redeployed["statement_digest"]
    assert read_tree(production) == restored
