"""Issue 15: a new control no golden case covers refuses the build, naming it; the bar
is the repository's (`[build] min_coverage` in `mu.toml`), lowered only in review, and
every receipt records it, so `mu replay` holds the snapshot to the recorded bar."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from mu.generator.files import read_tree
from tests.chain import Built, Mu, approve, ok, receipts
from tests.conftest import copy_repo

FRAUD_NEW = """@prefix ex: <https://acme.example/policy#> .
@prefix mu: <urn:mu:v1#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:FraudNew a mu:ConditionRule ;
    mu:controlId "fraud_new" ;
    rdfs:label "wire transfers over 90,000,000.00 are rejected" ;
    mu:owner "fraud-operations" ;
    mu:appliesTo ex:WireTransfer ;
    mu:when "amount > 90000000.00" ;
    mu:effect mu:Reject ;
    mu:message "unusually large wire transfer" .
"""
REFUSED = (
    "golden coverage 96.2% (26/27 controls) is below the required 100%: `fraud_new` never fires"
)


def add_fraud_new(root: Path) -> None:
    (root / "ontology" / "controls" / "fraud_new.ttl").write_text(FRAUD_NEW, encoding="utf-8")


def predicate(path: Path) -> dict[str, Any]:
    envelope = json.loads(path.read_bytes())
    statement: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return dict(statement["predicate"])


@pytest.mark.slow
def test_an_uncovered_new_control_refuses_a_development_build(mu: Mu, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    add_fraud_new(root)
    run = mu("build", root=root)
    assert run.code == 1, run.out + run.err
    assert f"coverage     FAIL  {REFUSED}" in run.out
    assert "lower `[build] min_coverage` in mu.toml" in run.out
    assert "build failed (coverage): nothing was generated" in run.out
    assert not (root / "enforcers").exists()
    gates = [line.split()[0] for line in run.out.splitlines() if line.startswith("  ")]
    assert gates == ["ontology", "golden", "coverage", "reference", "determinism"]


@pytest.mark.slow
def test_a_signed_rejection_records_the_uncovered_control(mu: Mu, built: Built) -> None:
    add_fraud_new(built.root)
    approve(mu, built)
    before = read_tree(built.root / "enforcers")
    run = mu("build", "--sign-key", str(built.key), "--format", "json", root=built.root)
    assert run.code == 1, run.out + run.err
    result = json.loads(run.out)
    assert result["receipt"] is None and result["overridable"] is False
    assert result["gates"]["coverage"]["detail"].startswith(REFUSED)
    rejected = predicate(Path(result["rejection"]))
    assert rejected["failed_gates"] == ["coverage"]
    assert rejected["coverage"] == {
        "required": 100,
        "covered": 26,
        "controls": 27,
        "uncovered": {"fraud_new": "never fires"},
    }
    assert ok(mu("verify-receipt", result["rejection"], root=built.root))
    assert read_tree(built.root / "enforcers") == before and len(receipts(built.root)) == 1


@pytest.mark.slow
def test_a_lowered_bar_is_recorded_in_the_receipt_and_replayed(mu: Mu, built: Built) -> None:
    add_fraud_new(built.root)
    (built.root / "mu.toml").write_text("[build]\nmin_coverage = 96\n", encoding="utf-8")
    approve(mu, built)
    run = ok(mu("build", "--sign-key", str(built.key), "--format", "json", root=built.root))
    result = json.loads(run.out)
    detail = result["gates"]["coverage"]["detail"]
    assert "required 96%, lowered from 100% by `[build] min_coverage` in mu.toml" in detail
    assert "uncovered: `fraud_new` never fires" in detail
    receipt = Path(result["receipt"])
    recorded = predicate(receipt)
    assert recorded["coverage"] == {
        "required": 96,
        "covered": 26,
        "controls": 27,
        "uncovered": {"fraud_new": "never fires"},
    }
    assert recorded["gates"]["coverage"] == recorded["gates"]["reference"] == "PASS"

    # Raising the bar again is the repository's business: a replay holds the snapshot to
    # the bar the receipt recorded, and shows it.
    (built.root / "mu.toml").unlink()
    replayed = mu("replay", "--receipt", str(receipt), root=built.root)
    assert replayed.code == 0, replayed.out + replayed.err
    assert "required 96% by `[build] min_coverage` (lowered from 100%; 1 uncovered)" in (
        replayed.out
    )
    again = mu("replay", "--receipt", str(receipt), "--format", "json", root=built.root)
    checks = {c["name"]: c for c in json.loads(again.out)["comparisons"]}
    assert checks["payload"]["ok"] and checks["coverage"]["ok"]

    # Without the lowered bar, the same tree no longer builds.
    refused = mu("build", "--sign-key", str(built.key), root=built.root)
    assert refused.code == 1 and REFUSED in refused.out
