"""`mu deploy` from the command line: deploy, report the modules to restart,
switch back; a refused deploy exits 1 and leaves the running release."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

from tests.chain import Built, build, change_threshold
from tests.conftest import Run

Mu = Callable[..., Run]


def test_deploy_switch_and_switch_back(mu: Mu, built: Built, tmp_path: Path) -> None:
    target = tmp_path / "prod" / "enforcers"
    first = built.receipt
    run = mu("deploy", "--receipt", str(first), "--target", str(target), root=built.root)
    assert run.code == 0, run.out + run.err
    assert target.is_symlink() and (target / "MANIFEST.json").is_file()

    change_threshold(
        built.root,
        '"vendor payments over 1,000,000.00 USD need the CFO"',
        '"vendor payments over one million USD need the CFO"',
    )
    second = build(mu, built)
    run = mu(
        "deploy",
        "--receipt",
        str(second),
        "--target",
        str(target),
        "--format",
        "json",
        root=built.root,
    )
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["restart"]["changed"] == ["controls/approval_over_1m.py"]
    assert result["health"]["ok"] is True
    assert Path(result["release"]).name.startswith("0002-")

    again = mu("deploy", "--receipt", str(second), "--target", str(target), root=built.root)
    assert again.code == 0 and "nothing to do" in again.out

    back = mu("deploy", "--switch-back", "--target", str(target), root=built.root)
    assert back.code == 0, back.err
    assert target.resolve().name.startswith("0001-")
    # Receipt 1 is older than the chain's newest link: it runs, with a warning on record.
    assert "warning: " in back.err and "older than the newest link of the chain" in back.err
    assert "warning" not in back.out  # warnings go to standard error only
    record = json.loads((target.parent / "enforcers.deploy.json").read_text())
    assert record["warnings"] and record["trust_root"]["version"] == 1


def test_deploy_from_a_pinned_trust_root(mu: Mu, built: Built, tmp_path: Path) -> None:
    from mu.generator.layout import Layout
    from mu.generator.provenance.trusthistory import load_history

    pin = load_history(Layout(built.root)).first.digest
    target = tmp_path / "prod" / "enforcers"
    unpinned = mu(
        "deploy",
        "--receipt",
        str(built.receipt),
        "--target",
        str(target),
        "--trust-root",
        "0" * 64,
        root=built.root,
    )
    assert unpinned.code == 1 and "is not a version of this repository's trust root" in (
        unpinned.err
    )
    run = mu(
        "deploy",
        "--receipt",
        str(built.receipt),
        "--target",
        str(target),
        "--trust-root",
        pin,
        "--format",
        "json",
        root=built.root,
    )
    assert run.code == 0, run.err
    assert "warning" not in run.err
    result = json.loads(run.out)
    assert result["trust_root"]["digest"] == pin and result["signed_by"] == ["release-bot"]


def test_refused_deploy_is_exit_1_and_keeps_the_release(
    mu: Mu, built: Built, tmp_path: Path
) -> None:
    target = tmp_path / "prod" / "enforcers"
    first = built.receipt
    assert mu("deploy", "--receipt", str(first), "--target", str(target), root=built.root).code == 0
    data = json.loads(first.read_bytes())
    # A keyid is only a hint (DSSE): a forgery needs a signature no trusted key made.
    data["signatures"][0]["sig"] = base64.b64encode(bytes(64)).decode("ascii")
    forged = built.root / "receipts" / "forged.json"
    forged.write_text(json.dumps(data))
    run = mu("deploy", "--receipt", str(forged), "--target", str(target), root=built.root)
    assert run.code == 1
    assert target.resolve().name.startswith("0001-")
    assert mu("deploy", "--target", str(target), root=built.root).code == 2
