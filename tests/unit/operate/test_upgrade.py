"""`mu upgrade-check`: equivalence on an unchanged generator; the differing
cases when the generator's threshold comparison is altered (`>` to `>=`)."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mu.generator.compile.pipeline import Compiled
from mu.generator.run.boundary import boundary_cases
from tests.chain import Built
from tests.conftest import REPO, Run

Mu = Callable[..., Run]


def test_unchanged_generator_is_equivalent(mu: Mu, built: Built) -> None:
    run = mu("upgrade-check", "--format", "json", root=built.root)
    assert run.code == 0, run.out + run.err
    report = json.loads(run.out)
    assert report["equivalent"] is True and report["differences"] == []
    assert report["cases"] > 300
    assert report["modules"]["changed"] == []
    # Without a key it is a report only: nothing written, never the development key.
    assert report["receipt"] is None and report["signed"] is False
    assert not (built.root / "receipts" / "upgrades").exists()
    assert "report only" in mu("upgrade-check", root=built.root).out


def test_the_upgrade_receipt_is_signed_by_a_release_key_under_the_trust_root(
    mu: Mu, built: Built
) -> None:
    refused = mu("upgrade-check", "--sign-key", str(built.compliance[0]), root=built.root)
    assert refused.code == 1 and "not trusted for release in trust root version 2" in refused.err
    assert not (built.root / "receipts" / "upgrades").exists()
    run = mu("upgrade-check", "--sign-key", str(built.key), "--format", "json", root=built.root)
    assert run.code == 0, run.out + run.err
    report = json.loads(run.out)
    receipt = Path(report["receipt"])
    assert receipt.parent.name == "upgrades" and report["signed_by"] == "release-bot"
    statement = json.loads(base64.b64decode(json.loads(receipt.read_bytes())["payload"]))
    assert statement["predicateType"] == "urn:mu:v1#Upgrade"
    predicate = statement["predicate"]
    assert predicate["repository"] == "acme/payments-policy"
    assert predicate["trust_root"]["version"] == 2 and predicate["signedAt"]
    assert predicate["equivalent"] is True


@pytest.mark.slow
def test_altered_threshold_comparison_is_caught(mu: Mu, repo: Path, mutant_generator: None) -> None:
    shutil.copytree(REPO / "enforcers", repo / "enforcers")  # deployed with the real generator
    run = mu("upgrade-check", "--format", "json", root=repo)
    assert run.code == 1
    report = json.loads(run.out)
    assert report["equivalent"] is False
    assert "runtime.py" in report["modules"]["changed"]
    differing = {d["case"] for d in report["differences"]}
    # Exactly at 100,000.00 with an L2 approver: approved before, rejected now.
    at = [c for c in differing if c.startswith("approval_over_100k:amount:100000.00:L2")]
    assert at, sorted(differing)[:10]
    flip = next(d for d in report["differences"] if d["case"] == at[0])
    assert flip["deployed"]["outcome"] == "APPROVE"
    assert flip["regenerated"]["outcome"] == "REJECT"
    # The golden suite's exactly-at cases catch it too.
    assert any(not c.count(":") for c in differing)
    text = mu("upgrade-check", root=repo)
    assert "behaviour changes on" in text.out and "DIFFERS approval_over_100k" in text.out


def test_boundary_cases_are_deterministic_and_cover_every_threshold(
    example_compiled: Compiled,
) -> None:
    ontology = example_compiled.ontology
    first, second = boundary_cases(ontology), boundary_cases(ontology)
    assert first == second
    ids = [c.case_id for c in first]
    assert len(ids) == len(set(ids))
    for control in ontology.controls:
        if control.kind == "approval":
            t = control.amount_threshold
            assert any(f"{control.control_id}:amount:{t}:" in i for i in ids)
        if control.kind == "segregation":
            assert any(f"{control.control_id}:parties:(0, 0, 0)" in i for i in ids)
