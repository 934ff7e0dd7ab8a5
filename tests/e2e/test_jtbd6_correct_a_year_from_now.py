"""Job 6, "still operationally correct a year from now": scenarios 6.1 (continuous
compliance verification) and 6.2 (a generator upgrade with the ontology unchanged)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mu.generator.files import read_tree
from tests.chain import STRICT, Built
from tests.conftest import REPO, mu_process
from tests.e2e.kit import Stopwatch, mu_json, mu_ok, statement, subjects, tree_digests, trust_pin

pytestmark = pytest.mark.slow
# The "v1.1" generator: the same binary search written out in full. The bytes of the
# generated runtime change; no decision can.
IMPROVED = "over = bisect_left(group.thresholds, amount, 0, len(group.thresholds))"


def test_6_1_months_of_changes_still_compile_to_what_production_runs(
    built_three: Built, tmp_path: Path, stopwatch: Stopwatch
) -> None:
    """Scenario 6.1, continuous compliance verification.

    Given a repository that has accumulated changes (here three receipts: the shipped
    example, a relabelled rule, an added notification; the original's twelve are the
    same mechanism repeated) with receipt 0003 in production; when compliance runs the
    quarterly check — `mu validate --ontology --schema` on the merged O,
    `mu verify --deployed PROD` (chain, trust, approvals, O ⊨ Σ, a fresh A against
    the committed and deployed ones) and a fresh generation from scratch; then:

    - hashes match, no drift: `mu verify` exits 0 with no drift and a fresh A, hashed
      by the test, equals production's files and receipt 0003's subjects;
    - hashes differ, the difference is explained: after one byte of a deployed module
      is edited, `mu verify` exits 1 and its drift names that file;
    - Idempotence, repeated generations are stable: two fresh generations in separate
      processes with different hash seeds are byte-identical;
    - Determinism, generator + O → A repeatable: the replay of receipt 0003 passes
      every comparison;
    - no hidden debt, every past change explicit: the controls added over the chain's
      receipts are exactly the controls of receipt 0003, none removed, and every link
      verifies.
    """
    root = built_three.root
    receipt = built_three.receipt
    production = tmp_path / "srv" / "production"
    mu_json("deploy", "--receipt", str(receipt), "--target", str(production), cwd=root)
    pin = trust_pin(root, tmp_path / "handed" / "trust-root-1.json")

    mu_ok("validate", "--ontology", "ontology", "--constraints", "ontology/shapes", cwd=root)
    with stopwatch("quarterly_verify"):
        report = mu_json("verify", "--deployed", str(production), "--trust-root", pin,
                         cwd=root).json
    assert report["ok"] is True and report["drifts"] == []
    assert any("3 receipts, verified" in line for line in report["summary"]), report

    fresh = [tmp_path / "fresh-1", tmp_path / "fresh-2"]
    for seed, output in zip(("11", "22"), fresh, strict=True):
        run = mu_process("generate", "--output", str(output), cwd=root, seed=seed)
        assert run.code == 0, run.out + run.err
    assert read_tree(fresh[0]) == read_tree(fresh[1])
    assert tree_digests(fresh[0]) == tree_digests(production) == subjects(receipt)
    replay = mu_json("replay", "--receipt", str(receipt), "--trust-root", pin, cwd=root).json
    assert replay["ok"] is True and all(c["ok"] for c in replay["comparisons"])

    chain = mu_json("log", "--trust-root", pin, cwd=root).json["chain"]
    assert all(link["verified"] for link in chain) and len(chain) == 3
    added = [c for link in chain for c in link["change"]["added"]]
    assert sorted(added) == sorted(statement(receipt)["predicate"]["controls"])
    assert all(link["change"]["removed"] == [] for link in chain)

    module = production / "controls" / "notify_cfo_on_review.py"
    module.chmod(0o644)
    module.write_bytes(module.read_bytes() + b"# patched in production\n")
    drifted = mu_json("verify", "--deployed", str(production), "--trust-root", pin,
                      cwd=root, codes=(1,)).json
    assert drifted["ok"] is False
    assert "notify_cfo_on_review.py" in str(drifted["drifts"])


def _install(base: Path, old: str, new: str) -> dict[str, str]:
    """A copy of this mu with one line of its runtime rewritten; the environment that
    makes `python -m mu.cli` (and the processes it starts) use it."""
    shutil.copytree(REPO / "generator", base / "mu" / "generator",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "cli.py", base / "mu" / "cli.py")
    engine = base / "mu" / "generator" / "compile" / "runtime" / "engine.py"
    text = engine.read_text(encoding="utf-8")
    assert old in text
    engine.write_text(text.replace(old, new), encoding="utf-8")
    return {"PYTHONPATH": str(base)}


def test_6_2_a_generator_upgrade_keeps_every_decision(
    built: Built, tmp_path: Path, stopwatch: Stopwatch, mutant_install: dict[str, str]
) -> None:
    """Scenario 6.2, generational improvements (kaizen).

    Given A_v1, receipt 0001 built by this mu and deployed to production, and a
    "v1.1" mu whose runtime is rewritten without changing behaviour; when the team runs
    `mu upgrade-check --deployed PROD --sign-key RELEASE` with v1.1 (regenerate with
    the new generator, compare modules and decisions on the golden suite and every
    rule's boundary cases), then rebuilds with v1.1 — compliance re-approving, since
    an approval binds the generator — and deploys; then:

    - upgrade is clean, behaviour unchanged, internals improved: the check exits 0,
      equivalent, no differing case over hundreds, and the generated `runtime.py` (and
      only the runtime, no control module) changes;
    - documented "generator improved, ontology unchanged, behaviour equivalent": a
      signed Upgrade statement records the old and new generators (different source
      sha256) and `equivalent: true`;
    - Minimality, no policy drift: the new receipt's ontology digest equals receipt
      0001's, its `change` is empty, and every control's digest is unchanged;
    - Kaizen, improvement in the generator, not in O: the new receipt pins v1.1's
      source sha256, differing from receipt 0001's;
    - zero customer impact: the deploy passes its health check and reloads no control
      module; and the same check with a generator that does change a decision (at
      exactly 100,000.00 with an L2 approver) exits 1 naming the flip, so a
      behaviour-changing upgrade cannot pass as an internal one.
    """
    root = built.root
    first = built.receipt
    production = tmp_path / "srv" / "production"
    mu_json("deploy", "--receipt", str(first), "--target", str(production), cwd=root)
    improved = _install(tmp_path / "improved-mu", STRICT, IMPROVED)

    with stopwatch("upgrade_check"):
        check = mu_json("upgrade-check", "--deployed", str(production), "--sign-key",
                        str(built.key), cwd=root, extra_env=improved).json
    assert check["equivalent"] is True and check["differences"] == []
    assert check["cases"] > 168
    assert [m for m in check["modules"]["changed"] if m.endswith(".py")] == ["runtime.py"]
    assert check["modules"]["added"] == check["modules"]["removed"] == []
    upgrade = statement(Path(check["receipt"]) if Path(check["receipt"]).is_absolute()
                        else root / check["receipt"])
    assert upgrade["predicateType"] == "urn:mu:v1#Upgrade"
    recorded = upgrade["predicate"]
    assert recorded["equivalent"] is True
    old_source = statement(first)["predicate"]["generator"]["source_sha256"]
    assert check["old_generator"]["source_sha256"] == old_source
    assert check["new_generator"]["source_sha256"] != old_source

    approved = mu_process("approve", "--key", str(built.compliance[0]), cwd=root,
                          extra_env=improved)
    assert approved.code == 0, approved.out + approved.err
    result = mu_json("build", "--sign-key", str(built.key), cwd=root, extra_env=improved).json
    second = root / result["receipt"]
    old_predicate, new_predicate = (statement(r)["predicate"] for r in (first, second))
    assert new_predicate["ontology"]["digest"] == old_predicate["ontology"]["digest"]
    assert new_predicate["change"] == {"added": [], "changed": [], "removed": []}
    assert new_predicate["controls"] == old_predicate["controls"]
    assert new_predicate["generator"]["source_sha256"] == check["new_generator"][
        "source_sha256"]
    deployed = mu_json("deploy", "--receipt", str(second), "--target", str(production),
                       cwd=root, extra_env=improved).json
    assert deployed["health"]["ok"] is True
    assert deployed["restart"] == {"added": [], "changed": [], "removed": []}
    assert "runtime.py" in deployed["package_files_changed"]

    behaviour = mu_json("upgrade-check", "--deployed", str(production), cwd=root,
                        codes=(1,), extra_env=mutant_install).json
    assert behaviour["equivalent"] is False
    assert any(d["case"].startswith("approval_over_100k:amount:100000.00:L2")
               for d in behaviour["differences"]), behaviour["differences"][:5]
