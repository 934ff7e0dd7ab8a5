"""`mu verify` (quarterly): clean on a fresh build; each drift cause detected
and named — a hand-edited byte, an ontology edit not compiled, a deployed
directory from an older receipt, a deleted module, an extra file."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.chain import Built, Signed, build, change_threshold
from tests.conftest import Run

Mu = Callable[..., Run]


def verify(mu: Mu, s: Signed, *extra: str) -> tuple[int, dict[str, Any]]:
    run = mu("verify", "--format", "json", *extra, root=s.root)
    return run.code, json.loads(run.out)


def causes(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(d["area"], Path(d["where"]).name, d["cause"]) for d in report["drifts"]]


def test_clean_after_a_fresh_build(mu: Mu, built: Built) -> None:
    code, report = verify(mu, built)
    assert code == 0, report
    assert report["ok"] and report["drifts"] == []
    text = mu("verify", root=built.root)
    assert text.code == 0 and "verified: no drift" in text.out
    markdown = mu("verify", "--format", "markdown", root=built.root)
    assert "**Result: no drift.**" in markdown.out


def test_hand_edited_byte_is_named_with_a_diff(mu: Mu, built: Built) -> None:
    module = built.root / "enforcers" / "controls" / "approval_over_100k.py"
    module.write_text(module.read_text().replace("100000.00", "100001.00"))
    code, report = verify(mu, built)
    assert code == 1
    [drift] = report["drifts"]
    assert drift["cause"] == "hand edit: its sha256 matches no receipt"
    assert drift["where"].endswith("enforcers/controls/approval_over_100k.py")
    assert "-THRESHOLD: Decimal = Decimal('100000.00')" in drift["diff"]
    assert "+THRESHOLD: Decimal = Decimal('100001.00')" in drift["diff"]


def test_uncompiled_ontology_edit_is_named(mu: Mu, built: Built) -> None:
    change_threshold(
        built.root,
        '"vendor payments over 1,000,000.00 USD need the CFO"',
        '"vendor payments over one million USD need the CFO"',
    )
    code, report = verify(mu, built)
    assert code == 1
    found = causes(report)
    assert ("ontology", "approvals.ttl", "uncompiled ontology change") in found
    module = [d for d in report["drifts"] if d["area"] == "enforcers"]
    assert [Path(d["where"]).name for d in module] == ["MANIFEST.json", "approval_over_1m.py"]
    assert all(d["cause"].startswith("uncompiled ontology change") for d in module)


def test_deployed_directory_from_an_older_receipt_is_named(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    first = built.receipt
    deployed = tmp_path / "deployed"
    shutil.copytree(built.root / "enforcers", deployed)
    change_threshold(
        built.root,
        '"vendor payments over 1,000,000.00 USD need the CFO"',
        '"vendor payments over one million USD need the CFO"',
    )
    build(mu, built)
    code, report = verify(mu, built, "--deployed", str(deployed))
    assert code == 1
    assert sorted(causes(report)) == [
        ("deployed", name, f"older release: it is what receipt {first.name} recorded")
        for name in ("MANIFEST.json", "approval_over_1m.py")
    ]


def test_deleted_module_and_extra_file_are_named(mu: Mu, built: Built) -> None:
    (built.root / "enforcers" / "controls" / "sod_wire_all_parties.py").unlink()
    (built.root / "enforcers" / "controls" / "backdoor.py").write_text("APPROVE = True\n")
    code, report = verify(mu, built)
    assert code == 1
    found = causes(report)
    assert ("enforcers", "sod_wire_all_parties.py", "deleted file") in found
    assert (
        "enforcers",
        "backdoor.py",
        "extra file: produced by no receipt and not by the generator",
    ) in found


def test_a_broken_chain_is_drift(mu: Mu, built: Built) -> None:
    path = built.receipt
    data = json.loads(path.read_bytes())
    sig = bytearray(base64.b64decode(data["signatures"][0]["sig"]))
    sig[5] ^= 0x01
    data["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    path.write_text(json.dumps(data))
    code, report = verify(mu, built)
    assert code == 1
    assert any(d["area"] == "chain" and d["cause"] == "signature" for d in report["drifts"])


def test_an_untrusted_link_is_a_trust_drift_and_the_pin_is_reported(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    from mu.generator.layout import Layout
    from mu.generator.provenance.trusthistory import load_history
    from tests.resign import resign

    pin = load_history(Layout(built.root)).first.digest
    code, report = verify(mu, built, "--trust-root", pin)
    assert code == 0, report
    assert report["warning"] is None
    assert any("verified from the pin" in line for line in report["summary"])
    stranger = tmp_path / "stranger.pem"
    assert mu("keygen", "--out", str(stranger)).code == 0
    forged = resign(built.receipt, stranger, lambda s: None)
    code, report = verify(mu, built)
    assert code == 1 and report["warning"] is not None
    drifts = [(d["where"], d["cause"]) for d in report["drifts"] if d["area"] == "chain"]
    assert (forged.name, "trust") in drifts and (forged.name, "signature") in drifts
