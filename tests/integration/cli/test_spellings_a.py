"""The runbooks' spellings (issue 14): the `μ` command, `validate --ontology/--schema`,
`verify-hashes`, and `diff --old/--new` of two enforcer directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.chain import Built, change_threshold
from tests.conftest import REPO, Run, copy_repo, mu_process

Mu = Callable[..., Run]

# A Σ of the organisation's own that the shipped example violates: every approval rule
# must name a reviewer, and none does.
REVIEWER_SHAPE = """\
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix mu: <urn:mu:v1#> .
@prefix ex: <urn:test:> .
ex:ApprovalNeedsReviewer a sh:NodeShape ;
  sh:targetClass mu:ApprovalRule ;
  sh:property [ sh:path ex:reviewedBy ; sh:minCount 1 ;
                sh:message "an approval rule needs a reviewer" ] .
"""


def _sigma(root: Path) -> Path:
    sigma = root / "sigma"
    sigma.mkdir()
    (sigma / "reviewers.ttl").write_text(REVIEWER_SHAPE, encoding="utf-8")
    return sigma


# --- μ ---------------------------------------------------------------------------------


@pytest.mark.slow  # spawns the installed console script
def test_the_mu_console_script_is_installed_as_greek_mu(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "μ"
    assert script.is_file(), "reinstall: `.venv/bin/pip install -e '.[dev]'` writes `μ`"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    shown = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert shown.returncode == 0 and "verify-hashes" in shown.stdout
    repo = copy_repo(tmp_path / "repo")
    checked = subprocess.run(
        [str(script), "validate", "--ontology=ontology", "--schema=ontology/shapes"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "the ontology conforms" in checked.stdout
    _sigma(repo)
    violated = subprocess.run(
        [str(script), "validate", "--ontology", "ontology", "--constraints", "sigma"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert violated.returncode == 1
    assert "an approval rule needs a reviewer" in violated.stderr + violated.stdout


# --- validate --ontology --schema ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--ontology", "{O}", "--schema", "{O}/shapes"),
        ("--ontology={O}", "--schema={O}/shapes"),
        ("--ontology={O}", "--constraints={O}/shapes"),
        ("--input", "{O}", "--constraints", "{O}/shapes"),
    ],
)
def test_validate_the_shipped_example_with_its_own_schema(
    mu: Mu, repo: Path, args: tuple[str, ...]
) -> None:
    run = mu("validate", *(a.format(O=repo / "ontology") for a in args))
    assert run.code == 0, run.err
    assert "the ontology conforms" in run.out


@pytest.mark.parametrize("option", ["--schema", "--constraints"])
def test_a_schema_that_adds_a_violated_shape_fails_listing_it(
    mu: Mu, repo: Path, option: str
) -> None:
    sigma = _sigma(repo)
    ontology = str(repo / "ontology")
    run = mu("validate", "--ontology", ontology, option, str(sigma), "--format", "json")
    assert run.code == 1
    violations = json.loads(run.out)["violations"]
    assert {v["message"] for v in violations} == {"an approval rule needs a reviewer"}
    assert "ex:ApprovalOver100k" in {v["focus"] for v in violations}
    # Without the option, the ontology's own shapes/ apply and the example conforms.
    assert mu("validate", "--ontology", ontology).code == 0


def test_the_schema_replaces_the_ontologys_shapes_but_never_the_core_shapes(
    mu: Mu, repo: Path
) -> None:
    # An empty Σ: the organisation's shapes are gone, so a control without an owner is
    # still refused by the vocabulary's core shapes.
    (repo / "empty").mkdir()
    args = (f"--ontology={repo / 'ontology'}", f"--schema={repo / 'empty'}")
    assert mu("validate", *args).code == 0
    approvals = repo / "ontology" / "controls" / "approvals.ttl"
    text = approvals.read_text(encoding="utf-8")
    start = text.index("ex:ApprovalOver10k a mu:ApprovalRule")
    owner = text.index("mu:owner", start)
    line_end = text.index("\n", owner)
    approvals.write_text(text[:owner] + text[line_end + 1 :], encoding="utf-8")
    run = mu("validate", *args)
    assert run.code == 1
    assert "ApprovalOver10k" in run.out + run.err


def test_a_missing_schema_or_ontology_directory_is_bad_input(mu: Mu, repo: Path) -> None:
    ontology = str(repo / "ontology")
    nowhere = str(repo / "no-such-dir")
    missing = mu("validate", "--ontology", ontology, "--schema", nowhere)
    assert missing.code == 2
    assert f"shapes directory `{nowhere}` does not exist" in missing.err
    assert "Traceback" not in missing.err
    assert mu("validate", f"--ontology={nowhere}").code == 2


# --- verify-hashes ---------------------------------------------------------------------


def _hashes(mu: Mu, root: Path, *args: str) -> tuple[Run, dict[str, Any]]:
    run = mu("verify-hashes", *args, "--format", "json", root=root)
    return run, json.loads(run.out)


def test_verify_hashes_of_the_freshly_built_package(mu: Mu, built: Built) -> None:
    run, report = _hashes(mu, built.root)
    assert run.code == 0, run.out
    assert report["ok"] is True
    assert report["receipt"] == {
        "path": f"receipts/{built.receipt.name}",
        "sequence": 1,
        "chosen": "matching",
    }
    text = mu("verify-hashes", root=built.root)
    assert text.code == 0
    assert "ok: the package on disk is exactly what the receipt records" in text.out


def test_verify_hashes_picks_the_receipt_that_records_the_package(
    mu: Mu, built_two: Built
) -> None:
    run, report = _hashes(mu, built_two.root)
    assert run.code == 0 and report["receipt"]["sequence"] == 2
    # The first receipt recorded an older package: the relabelled control differs.
    older = str(built_two.receipts[0])
    run, report = _hashes(mu, built_two.root, "--receipt", older)
    assert run.code == 1
    assert report["manifest"]["ok"] is True
    differing = {m["path"] for m in report["against_receipt"]["mismatches"]}
    assert "controls/approval_over_1m.py" in differing and "MANIFEST.json" in differing


def test_verify_hashes_names_a_hand_edited_module(mu: Mu, built: Built) -> None:
    module = built.root / "enforcers" / "controls" / "approval_over_100k.py"
    module.write_text(module.read_text(encoding="utf-8") + "# tweaked\n", encoding="utf-8")
    run, report = _hashes(mu, built.root)
    assert run.code == 1
    assert report["receipt"]["chosen"] == "newest"
    for check in ("manifest", "against_receipt"):
        mismatches = report[check]["mismatches"]
        assert [(m["path"], m["kind"]) for m in mismatches] == [
            ("controls/approval_over_100k.py", "changed")
        ]
    text = mu("verify-hashes", root=built.root)
    assert text.code == 1
    assert "controls/approval_over_100k.py: sha256" in text.out


def test_verify_hashes_names_a_removed_and_an_added_file(mu: Mu, built: Built) -> None:
    enforcers = built.root / "enforcers"
    (enforcers / "controls" / "sod_initiator_approver.py").unlink()
    (enforcers / "controls" / "planted.py").write_text("ALLOW = True\n", encoding="utf-8")
    run, report = _hashes(mu, built.root, "--enforcers", str(enforcers))
    assert run.code == 1
    kinds = {
        (m["path"], m["kind"])
        for m in report["against_receipt"]["mismatches"]
    }
    assert kinds == {
        ("controls/planted.py", "extra"),
        ("controls/sod_initiator_approver.py", "missing"),
    }
    manifest = {(m["path"], m["kind"]) for m in report["manifest"]["mismatches"]}
    assert manifest == kinds


def test_verify_hashes_of_the_shipped_repository_without_receipts(mu: Mu, tmp_path: Path) -> None:
    # The shipped repository has enforcers/ but no receipt (receipts/ holds a README):
    # nothing records what was built, so there is nothing to compare with.
    root = copy_repo(tmp_path / "repo", enforcers=True)
    (root / "receipts").mkdir()
    (root / "receipts" / "README.md").write_bytes((REPO / "receipts" / "README.md").read_bytes())
    run = mu("verify-hashes", root=root)
    assert run.code == 2
    assert "no build receipt in `receipts`" in run.err


def test_verify_hashes_bad_input(mu: Mu, built: Built, tmp_path: Path) -> None:
    missing = mu("verify-hashes", "--enforcers", str(tmp_path / "nope"), root=built.root)
    assert missing.code == 2 and "does not exist" in missing.err
    plain = tmp_path / "plain"
    plain.mkdir()
    no_manifest = mu("verify-hashes", "--enforcers", str(plain), root=built.root)
    assert no_manifest.code == 2 and "MANIFEST.json" in no_manifest.err


# --- diff --old --new of two enforcer directories -------------------------------------

THRESHOLD = ('"100000.00"^^xsd:decimal', '"50000.00"^^xsd:decimal')


@pytest.fixture
def packages(mu: Mu, repo: Path) -> tuple[Path, Path]:
    """A_old from the shipped example, A_new after the 100k threshold became 50k."""
    old, new = repo / "A_old", repo / "A_new"
    assert mu("generate", "--input", str(repo / "ontology"), "--output", str(old)).code == 0
    change_threshold(repo, *THRESHOLD)
    assert mu("generate", "--input", str(repo / "ontology"), "--output", str(new)).code == 0
    return old, new


@pytest.mark.slow  # generates two enforcer packages
@pytest.mark.parametrize(
    "spelling",
    [("--old={A}", "--new={B}"), ("--old", "{A}", "--new", "{B}"), ("{A}", "{B}")],
)
def test_diff_of_two_enforcer_directories(
    mu: Mu, repo: Path, packages: tuple[Path, Path], spelling: tuple[str, ...]
) -> None:
    old, new = packages
    args = [a.format(A=old, B=new) for a in spelling]
    run = mu("diff", *args, "--format", "json", root=repo)
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["old"]["kind"] == report["new"]["kind"] == "enforcers"
    assert report["modules"]["changed"] == ["MANIFEST.json", "controls/approval_over_100k.py"]
    assert report["modules"]["added"] == report["modules"]["removed"] == []
    assert "controls/approval_over_10k.py" in report["modules"]["identical"]
    assert report["blast_radius"]["ratio"] == "1/26"
    flips = {f["case_id"]: f for f in report["flips"]}
    assert flips["vendor_100k_exact_l2"]["old"]["outcome"] == "APPROVE"
    assert flips["vendor_100k_exact_l2"]["new"]["outcome"] == "REJECT"
    assert report["cases_run"] > len(flips) > 0


@pytest.mark.slow  # generates two enforcer packages
def test_diff_of_enforcer_directories_verbose_lists_identical_modules(
    mu: Mu, repo: Path, packages: tuple[Path, Path]
) -> None:
    old, new = packages
    quiet = mu("diff", f"--old={old}", f"--new={new}", root=repo)
    loud = mu("diff", f"--old={old}", f"--new={new}", "--verbose", root=repo)
    assert quiet.code == loud.code == 0
    for run in (quiet, loud):
        assert "  changed controls/approval_over_100k.py" in run.out
        assert "30 identical" in run.out
        assert "vendor_100k_exact_l2" in run.out
    assert "identical controls/approval_over_10k.py" not in quiet.out
    assert "  identical controls/approval_over_10k.py" in loud.out
    markdown = mu("diff", "--old", str(old), "--new", str(new), "--format", "markdown", root=repo)
    assert markdown.code == 0
    assert "| `controls/approval_over_100k.py` | changed |" in markdown.out
    assert "| `vendor_100k_exact_l2`" in markdown.out
    identical = mu("diff", "--old", str(old), "--new", str(old), "-v", root=repo)
    assert identical.code == 0 and "decisions: 0 of" in identical.out


@pytest.mark.slow  # generates two enforcer packages
def test_diff_of_enforcer_directories_gates_the_blast_radius(
    mu: Mu, repo: Path, packages: tuple[Path, Path]
) -> None:
    old, new = packages
    over = mu("diff", "--old", str(old), "--new", str(new), "--max-blast-radius", "0.01", root=repo)
    assert over.code == 1 and "exceeds the limit" in over.out
    within = mu("diff", str(old), str(new), "--max-blast-radius", "0.5", root=repo)
    assert within.code == 0


@pytest.mark.slow  # generates two enforcer packages
def test_diff_names_a_hand_edited_enforcer_directory(
    mu: Mu, repo: Path, packages: tuple[Path, Path]
) -> None:
    old, new = packages
    module = new / "controls" / "sod_initiator_approver.py"
    module.write_text(module.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    run = mu("diff", "--old", str(old), "--new", str(new), "--format", "json", root=repo)
    assert run.code == 0
    report = json.loads(run.out)
    assert report["new"]["not_as_manifest"] == ["controls/sod_initiator_approver.py"]
    assert report["old"]["not_as_manifest"] == []
    assert "controls/sod_initiator_approver.py" in report["modules"]["changed"]


@pytest.mark.slow  # generates two enforcer packages
def test_diff_sides_given_wrongly_are_bad_input(
    mu: Mu, repo: Path, packages: tuple[Path, Path]
) -> None:
    old, _ = packages
    mixed = mu("diff", "--old", str(old), "--new", str(repo / "ontology"), root=repo)
    assert mixed.code == 2 and "is an enforcer package but" in mixed.err
    assert mu("diff", "--old", str(old), root=repo).code == 2
    extra = mu("diff", "--old", str(old), "--new", str(old), "x", root=repo)
    assert extra.code == 2 and "one side too many" in extra.err


@pytest.mark.slow  # mu in a new process
def test_diff_old_new_of_ontology_directories_still_works(repo: Path, tmp_path: Path) -> None:
    # `--old/--new` accept what the arguments accept: here two ontology directories.
    new = copy_repo(tmp_path / "new")
    change_threshold(new, *THRESHOLD)
    run = mu_process(
        "diff", "--old=ontology", f"--new={new / 'ontology'}", "--format", "json", cwd=repo
    )
    assert run.code == 0, run.err
    assert json.loads(run.out)["blast_radius"]["modules"] == ["controls/approval_over_100k.py"]


def test_verify_hashes_of_a_deployed_target(mu: Mu, built: Built, tmp_path: Path) -> None:
    # A deploy target is a symlink to its release: the release is what is checked.
    target = tmp_path / "srv" / "enforcers"
    target.parent.mkdir()
    receipt = str(built.receipt)
    deployed = mu("deploy", "--receipt", receipt, "--target", str(target), root=built.root)
    assert deployed.code == 0, deployed.out + deployed.err
    assert target.is_symlink()
    run, report = _hashes(mu, built.root, "--enforcers", str(target))
    assert run.code == 0, run.out
    assert report["enforcers"] == str(target) and report["ok"] is True
    (target / "runtime.py").write_text("# replaced\n", encoding="utf-8")
    run, report = _hashes(mu, built.root, "--enforcers", str(target))
    assert run.code == 1
    assert [m["path"] for m in report["against_receipt"]["mismatches"]] == ["runtime.py"]
