"""The runbooks' deploy spellings (SPEC §7): `mu deploy --target=ENV --enforcer=A` to a
named environment of `mu.toml`, and `mu receipt --deployment=ENV`, the signed record
of what runs there and since when."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.chain import Built
from tests.conftest import Run, mu_process

Mu = Callable[..., Run]


def _environments(built: Built) -> tuple[Path, Path]:
    """`mu.toml` with `test` (absolute) and `production` (relative to the root)."""
    test = built.root.parent / "srv" / "test" / "enforcers"
    (built.root / "mu.toml").write_text(
        f'[environments.test]\ntarget = "{test}"\n'
        '[environments.production]\ntarget = "../srv/production/enforcers"\n',
        encoding="utf-8",
    )
    return test, built.root.parent / "srv" / "production" / "enforcers"


def _copy_of_a(built: Built, name: str) -> Path:
    """A copy of the committed A (receipt 2's), outside the repository."""
    copy = built.root.parent / name
    shutil.copytree(built.root / "enforcers", copy)
    return copy


def test_deploy_an_enforcer_directory_to_a_named_environment(mu: Mu, built_two: Built) -> None:
    test, production = _environments(built_two)
    a_new = _copy_of_a(built_two, "A_new")

    run = mu("deploy", "--target=test", f"--enforcer={a_new}", root=built_two.root)
    assert run.code == 0, run.out + run.err
    assert test.is_symlink() and test.resolve().name.startswith("0002-")
    assert "environment `test` of `mu.toml`" in run.out
    assert f"`{built_two.receipts[1].name}` records exactly the files of `{a_new}`" in run.out

    # Receipt 1's A (deployed by receipt to production, a target relative to the root) is
    # found by content: the matching link of the chain, not the newest.
    run = mu(
        "deploy", "--receipt", str(built_two.receipts[0]), "--target", "production",
        root=built_two.root,
    )  # fmt: skip
    assert run.code == 0, run.err
    assert production.resolve().name.startswith("0001-")
    a_old = production.resolve()
    run = mu(
        "deploy", "--target", "test", "--enforcer", str(a_old), "--format", "json",
        root=built_two.root,
    )  # fmt: skip
    assert run.code == 0, run.err
    result = json.loads(run.out)
    assert result["environment"] == "test" and result["enforcer"] == str(a_old)
    assert Path(result["receipt"]).name == built_two.receipts[0].name
    assert "older than the newest link of the chain" in run.err


def test_an_edited_enforcer_directory_is_refused(mu: Mu, built_two: Built) -> None:
    test, _ = _environments(built_two)
    edited = _copy_of_a(built_two, "A_edited")
    module = sorted((edited / "controls").glob("approval_*.py"))[0]
    module.write_text(module.read_text(encoding="utf-8") + "# hot fix\n", encoding="utf-8")

    run = mu("deploy", "--target", "test", "--enforcer", str(edited), root=built_two.root)
    assert run.code == 1, run.out + run.err
    assert "no receipt of the chain records" in run.err
    assert f"controls/{module.name}" in run.err
    assert not test.exists() and not test.parent.exists()


def test_unknown_environment_and_bad_usage(mu: Mu, built_two: Built) -> None:
    _environments(built_two)
    a_new = _copy_of_a(built_two, "A_new")
    run = mu("deploy", "--target", "prodution", "--enforcer", str(a_new), root=built_two.root)
    assert run.code == 2
    assert "`prodution` is not an environment of `mu.toml`" in run.err
    assert "`production`, `test`" in run.err

    both = mu(
        "deploy", "--target", "test", "--enforcer", str(a_new),
        "--receipt", str(built_two.receipt), root=built_two.root,
    )  # fmt: skip
    assert both.code == 2 and "exactly one of `--receipt` and `--enforcer`" in both.err
    neither = mu("deploy", "--target", "test", root=built_two.root)
    assert neither.code == 2 and "exactly one of" in neither.err
    missing = built_two.root.parent / "A_missing"
    run = mu("deploy", "--target", "test", "--enforcer", str(missing), root=built_two.root)
    assert run.code == 2 and f"`{missing}` is not a directory" in run.err

    run = mu("receipt", "--deployment", "staging", root=built_two.root)
    assert run.code == 2 and "`staging` is not an environment of `mu.toml`" in run.err
    run = mu("receipt", "--deployment=production", "--format", "json", root=built_two.root)
    assert run.code == 2, run.out
    assert "nothing is deployed to environment `production`" in json.loads(run.out)["error"]


def test_a_bad_mu_toml_names_file_and_key(mu: Mu, built_two: Built) -> None:
    (built_two.root / "mu.toml").write_text(
        '[environments.test]\ntargte = "/srv/test"\n', encoding="utf-8"
    )
    a_new = _copy_of_a(built_two, "A_new")
    run = mu("deploy", "--target", "test", "--enforcer", str(a_new), root=built_two.root)
    assert run.code == 2
    assert "`mu.toml`" in run.err and "`environments.test.targte` unknown key" in run.err
    run = mu("receipt", "--deployment", "test", root=built_two.root)
    assert run.code == 2 and "`environments.test.targte`" in run.err


def test_receipt_of_a_deployment_verified_and_since_when(mu: Mu, built_two: Built) -> None:
    _, production = _environments(built_two)
    run = mu(
        "deploy", "--target", "production", "--enforcer", str(built_two.root / "enforcers"),
        root=built_two.root,
    )  # fmt: skip
    assert run.code == 0, run.err

    run = mu("receipt", "--deployment=production", root=built_two.root)
    assert run.code == 0, run.out + run.err
    name = built_two.receipt.name
    assert run.out.startswith(f"ok: `production` (`{production}`) runs receipt 2 (`{name}`)")
    assert re.search(r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run.out)
    assert "signed by:        `release-bot`" in run.out

    shown = json.loads(mu("receipt", "--deployment", "production", "--format", "json",
                          root=built_two.root).out)  # fmt: skip
    record = json.loads((production.parent / "enforcers.deploy.json").read_text())
    assert shown["statement_digest"] == record["current"]["digest"]
    assert shown["sequence"] == 2 and shown["deployed_since"] == record["time"]
    assert shown["signed_by"] == ["release-bot"] and len(shown["keyids"][0]) == 64
    assert shown["verified"] is True and shown["trust_root_from"] == "target"
    assert shown["target_pin_version"] == record["trust_root"]["version"]
    assert shown["environment"] == "production"

    # A deployed file edited in place: the record no longer verifies (exit 1, saying why).
    module = sorted((production / "controls").glob("approval_*.py"))[0]
    module.chmod(0o644)
    module.write_text(module.read_text(encoding="utf-8") + "# hot fix\n", encoding="utf-8")
    run = mu("receipt", "--deployment", "production", root=built_two.root)
    assert run.code == 1, run.out
    assert f"differ from what `{name}` signed" in run.err
    assert f"controls/{module.name}" in run.err


def test_receipt_of_a_deployment_as_a_user_runs_it(mu: Mu, built_two: Built) -> None:
    _environments(built_two)
    deployed = mu(
        "deploy", "--target", "test", "--enforcer", str(built_two.root / "enforcers"),
        root=built_two.root,
    )  # fmt: skip
    assert deployed.code == 0, deployed.err
    run = mu_process("receipt", "--deployment=test", cwd=built_two.root)
    assert run.code == 0, run.err
    assert f"runs receipt 2 (`{built_two.receipt.name}`)" in run.out
