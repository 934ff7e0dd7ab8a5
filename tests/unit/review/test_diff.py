"""`mu diff` (SPEC §7): ontology changes per control, enforcer modules, golden
decisions that flip and the blast radius, between git refs, ontology
directories, repositories and receipts."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import RDFS

from mu.generator.errors import CheckFailed, InputError
from mu.generator.layout import Layout
from mu.generator.reports.diff import diff_dict, diff_json, diff_markdown, diff_text
from mu.generator.review.diff import DiffReport, compare, diff, diff_specs
from mu.generator.review.sides import CompiledSide, compile_side, resolve_side
from tests.chain import Built
from tests.conftest import DATA, REPO, copy_repo

# Every golden case of the shipped example runs on each side of a diff.
GOLDEN_CASES = sum(
    p.read_text(encoding="utf-8").count("[[case]]") for p in (REPO / "golden").glob("*.toml")
)

MU = rdflib.Namespace("urn:mu:v1#")
CONTROL_IDS = sorted(json.loads((REPO / "enforcers" / "MANIFEST.json").read_bytes())["controls"])
APPROVALS = Path("ontology/controls/approvals.ttl")
CASE_75K = """
[[case]]
id = "vendor_75k_l2"
description = "75,000.00 USD approved by an L2 manager"
expect = { outcome = "APPROVE" }

[case.transaction]
id = "tx-vendor-75k-l2"
type = "vendor_payment"
amount = "75000.00"
currency = "USD"
initiator = { id = "alice" }
approver = { id = "bob", authority = "L2" }
executor = { id = "carol" }
counterparty = { country = "DE", is_new = false, risk_score = 10 }
invoice = { id = "INV-100231" }
"""


def replace_in(root: Path, rel: Path, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def lower_threshold(root: Path) -> None:
    """`approval_over_100k`: 100000.00 → 50000.00 (its threshold is the only 100000.00)."""
    replace_in(root, APPROVALS, '"100000.00"^^xsd:decimal', '"50000.00"^^xsd:decimal')


def edit_control(ontology: Path, control_id: str, edit: str) -> None:
    """Relabel (`edit="label"`) or drop (`edit="remove"`) a control with rdflib, in its file."""
    for path in sorted((ontology / "controls").glob("*.ttl")):
        graph = rdflib.Graph()
        graph.parse(path, format="turtle")
        node = next(graph.subjects(MU.controlId, rdflib.Literal(control_id)), None)
        if node is None:
            continue
        if edit == "label":
            graph.set((node, RDFS.label, rdflib.Literal(f"{control_id}, relabelled")))
        else:
            graph.remove((node, None, None))
        path.write_text(graph.serialize(format="turtle"), encoding="utf-8")
        return
    raise AssertionError(f"no control {control_id}")


def side_at(root: Path, work: Path, spec: str | None = None) -> CompiledSide:
    return compile_side(resolve_side(spec or str(root), Layout(root), work))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> CompiledSide:
    """The shipped example, compiled once for the whole module."""
    root = copy_repo(tmp_path_factory.mktemp("base") / "repo")
    return side_at(root, root.parent / "work")


def test_the_example_has_26_controls(base: CompiledSide) -> None:
    assert len(CONTROL_IDS) == 26
    assert [c.control_id for c in base.compiled.ontology.controls] == CONTROL_IDS


# One control of each kind in the fast loop (`-m "not slow"`); all 26 in the full suite.
FAST_CONTROLS = {
    "approval_over_100k",
    "sod_approver_executor",
    "fraud_sanctioned_vendor_country",
    "notify_compliance_on_reject",
    "audit_rejections",
}


@pytest.mark.parametrize(
    "control_id",
    [
        pytest.param(cid, marks=() if cid in FAST_CONTROLS else pytest.mark.slow)
        for cid in CONTROL_IDS
    ],
)
def test_one_control_changed_touches_one_module(
    base: CompiledSide, repo: Path, tmp_path: Path, control_id: str
) -> None:
    edit_control(repo / "ontology", control_id, "label")
    report = compare(base, side_at(repo, tmp_path / "work"))

    module = f"controls/{control_id}.py"
    assert report.modules.changed == tuple(sorted(["MANIFEST.json", module]))
    assert report.modules.added == report.modules.removed == ()
    assert set(report.modules.identical) == set(base.compiled.files) - {"MANIFEST.json", module}
    assert (report.blast_count, report.blast_total) == (1, 26)
    assert report.blast_modules == (module,)
    [change] = report.controls
    assert (change.control_id, change.status) == (control_id, "changed")
    assert [p.property for p in change.properties] == ["label"]
    assert change.properties[0].new == f"{control_id}, relabelled"
    assert report.schema.empty and report.flips == ()


@pytest.mark.slow
def test_lowering_a_threshold_lists_the_decisions_that_flip(
    base: CompiledSide, repo: Path, tmp_path: Path
) -> None:
    (repo / "golden" / "extra_75k.toml").write_text(CASE_75K, encoding="utf-8")
    lower_threshold(repo)
    data = json.loads(diff_json(compare(base, side_at(repo, tmp_path / "work"))))

    assert data["controls"] == [
        {
            "control_id": "approval_over_100k",
            "status": "changed",
            "properties": [{"property": "amount_threshold", "old": "100000.00", "new": "50000.00"}],
        }
    ]
    flips = {f["case_id"]: f for f in data["flips"]}
    # A case only NEW has is run on both sides, too.
    assert flips["vendor_75k_l2"]["old"]["outcome"] == "APPROVE"
    assert flips["vendor_75k_l2"]["new"]["outcome"] == "REJECT"
    assert "approval_over_100k" in flips["vendor_75k_l2"]["new"]["reasons"]
    assert flips["vendor_100k_minus_cent_l2"]["old"]["outcome"] == "APPROVE"
    assert flips["vendor_new_50k_plus_cent"]["old"]["outcome"] == "REVIEW"
    assert flips["vendor_new_50k_plus_cent"]["new"]["outcome"] == "REJECT"
    # Above the old threshold, or approved by an L3, nothing changes.
    assert "transaction_105k_L2_actor" not in flips and "transaction_105k_L3_actor" not in flips
    assert list(flips) == sorted(flips)
    assert data["blast_radius"]["ratio"] == "1/26"
    text = diff_text(compare(base, side_at(repo, tmp_path / "work2")))
    assert "amount_threshold: 100000.00 → 50000.00" in text


def git(root: Path, *args: str) -> str:
    run = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return run.stdout


def git_repo(root: Path) -> None:
    git(root, "init", "-q")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "user.name", "test")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")


@pytest.mark.slow  # many `git` processes
def test_diff_between_two_git_refs(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    git_repo(root)
    lower_threshold(root)
    (root / "ontology" / "controls" / "approvals.ttl").rename(
        root / "ontology" / "controls" / "approvals_renamed.ttl"
    )  # moving triples between files changes nothing the diff reports
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "lower the threshold")
    layout, work = Layout(root), tmp_path / "work"
    report = diff(resolve_side("HEAD~1", layout, work), resolve_side("HEAD", layout, work))
    assert (report.old.kind, report.new.kind) == ("git", "git")
    assert [(c.control_id, c.status) for c in report.controls] == [
        ("approval_over_100k", "changed")
    ]
    assert report.modules.changed == ("MANIFEST.json", "controls/approval_over_100k.py")
    assert report.flips and report.blast_count == 1
    # The same ref on both sides: nothing to report.
    same = diff(resolve_side("HEAD", layout, work), resolve_side("HEAD", layout, work))
    assert not same.controls and not same.flips and same.blast_count == 0


@pytest.mark.slow  # many `git` processes
def test_a_policy_repository_inside_a_larger_git_repository(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "mono" / "policy")
    git_repo(tmp_path / "mono")
    lower_threshold(root)
    git(root, "commit", "-q", "-am", "lower")
    report = diff(
        resolve_side("HEAD~1", Layout(root), tmp_path / "w"),
        resolve_side("HEAD", Layout(root), tmp_path / "w"),
    )
    assert [c.control_id for c in report.controls] == ["approval_over_100k"]


def test_diff_between_two_receipts(built_two: Built, tmp_path: Path) -> None:
    # Built by the session (tests/chain.py): the second build relabelled `approval_over_1m`
    # ("need the CFO" → "need the chief financial officer"), a change that keeps every
    # decision, as a build must pass its golden gate.
    root = built_two.root
    layout = Layout(root)
    first, second = built_two.receipts
    shutil.rmtree(root / "ontology")  # a receipt's snapshot is all a side needs
    work = tmp_path / "work"
    old = resolve_side(str(first), layout, work)
    new = resolve_side(str(second), layout, work)
    report = diff(old, new)
    assert (report.old.kind, report.new.kind) == ("receipt", "receipt")
    [change] = report.controls
    assert change.control_id == "approval_over_1m"
    assert [(p.property, p.new) for p in change.properties] == [
        ("label", "vendor payments over 1,000,000.00 USD need the chief financial officer")
    ]
    assert report.flips == () and report.cases_run == GOLDEN_CASES and report.blast_count == 1


def test_an_ontology_directory_takes_its_sibling_golden(base: CompiledSide, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    side = resolve_side(str(root / "ontology"), Layout(tmp_path / "elsewhere"), tmp_path / "w")
    assert side.kind == "directory"
    assert sorted(p.name for p in side.layout.golden.glob("*.toml")) == sorted(
        p.name for p in (REPO / "golden").glob("*.toml")
    )
    report = compare(base, compile_side(side))
    assert not report.controls and not report.flips and report.cases_run == GOLDEN_CASES


def test_a_spec_that_is_nothing_is_a_usage_error(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    with pytest.raises(InputError) as err:
        resolve_side("no-such-ref", Layout(root), tmp_path / "w")
    assert err.value.code == 2 and "`no-such-ref`" in err.value.message and err.value.hint
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        resolve_side(str(tmp_path / "empty"), Layout(root), tmp_path / "w")


def test_a_side_that_does_not_conform_is_named(base: CompiledSide, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    replace_in(root, APPROVALS, "mu:requiredAuthority ex:L3 .", "mu:requiredAuthority ex:L9 .")
    with pytest.raises(CheckFailed) as err:
        side_at(root, tmp_path / "w", spec=str(root))
    assert err.value.code == 1
    assert f"`{root}`" in err.value.message and "violation(s)" in err.value.message
    assert "mu validate" in err.value.hint and err.value.problems


def test_adding_a_control_shows_its_properties(
    base: CompiledSide, repo: Path, tmp_path: Path
) -> None:
    (repo / "ontology" / "controls" / "extra.ttl").write_text(
        "@prefix ex: <https://acme.example/policy#> .\n@prefix mu: <urn:mu:v1#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        'ex:NotifyCfo a mu:NotificationRule ; mu:controlId "notify_cfo_on_review" ;\n'
        '  rdfs:label "tell the CFO about reviews" ; mu:owner "finance-leadership" ;\n'
        '  mu:appliesTo ex:WireTransfer ; mu:recipient "cfo@acme.example" ;\n'
        "  mu:onOutcome mu:Review .\n",
        encoding="utf-8",
    )
    data = diff_dict(compare(base, side_at(repo, tmp_path / "w")))
    [added] = data["controls"]
    assert (added["control_id"], added["status"]) == ("notify_cfo_on_review", "added")
    props = {p["property"]: (p["old"], p["new"]) for p in added["properties"]}
    assert props["kind"] == (None, "notification")
    assert props["label"] == (None, "tell the CFO about reviews")
    assert props["applies_to"] == (None, ["wire_transfer"])
    assert props["recipients"] == (None, ["cfo@acme.example"])
    assert props["on_outcome"] == (None, ["REVIEW"])
    assert data["modules"]["added"] == ["controls/notify_cfo_on_review.py"]
    assert "dispatch.py" in data["modules"]["changed"]
    assert data["blast_radius"]["ratio"] == "1/27"
    # The new notification fires on every wire that asks for a review.
    assert data["flips"] and all(
        f["new"]["outcome"] == "REVIEW" and "notify:notify_cfo_on_review" in f["new"]["actions"]
        for f in data["flips"]
    )


def test_removing_a_control_shows_what_it_was(
    base: CompiledSide, repo: Path, tmp_path: Path
) -> None:
    edit_control(repo / "ontology", "approval_over_1m", "remove")
    data = diff_dict(compare(base, side_at(repo, tmp_path / "w")))
    [removed] = data["controls"]
    assert (removed["control_id"], removed["status"]) == ("approval_over_1m", "removed")
    props = {p["property"]: (p["old"], p["new"]) for p in removed["properties"]}
    assert props["amount_threshold"] == ("1000000.00", None)
    assert props["required_authority"] == ("CFO", None)
    assert data["modules"]["removed"] == ["controls/approval_over_1m.py"]
    assert data["blast_radius"]["ratio"] == "1/26"
    flips = {f["case_id"]: f for f in data["flips"]}
    assert flips and all(f["old"]["outcome"] == "REJECT" for f in flips.values())
    assert all("approval_over_1m" in f["old"]["reasons"] for f in flips.values())


def test_renaming_a_transaction_type(base: CompiledSide, repo: Path, tmp_path: Path) -> None:
    replace_in(
        repo,
        Path("ontology/controls/transaction_types.ttl"),
        'mu:typeId "expense_refund"',
        'mu:typeId "expense_reimbursement"',
    )
    data = diff_dict(compare(base, side_at(repo, tmp_path / "w")))
    types = {t["key"]: t for t in data["schema"]["transaction_types"]}
    assert {k: t["status"] for k, t in types.items()} == {
        "expense_refund": "removed",
        "expense_reimbursement": "added",
    }
    added = {p["property"]: p["new"] for p in types["expense_reimbursement"]["properties"]}
    assert added["field receipt.attached"] == "boolean, required"
    assert added["field cost_center"] == "string, optional"
    affected = sorted(
        c.control_id for c in base.compiled.ontology.controls if "expense_refund" in c.applies_to
    )
    assert [c["control_id"] for c in data["controls"]] == affected
    for change in data["controls"]:
        assert [p["property"] for p in change["properties"]] == ["applies_to"]
        [p] = change["properties"]
        assert "expense_refund" in p["old"] and "expense_reimbursement" in p["new"]
    assert data["schema"]["roles"]  # roles that may initiate or approve refunds
    refunds = sorted(c.case_id for c in base.cases if c.transaction.get("type") == "expense_refund")
    flips = {f["case_id"]: f for f in data["flips"]}
    assert refunds and set(refunds) <= set(flips)
    for case_id in refunds:
        assert flips[case_id]["new"]["outcome"] == "INVALID"
        assert "type" in flips[case_id]["new"]["fields"]
    assert data["blast_radius"]["ratio"] == f"{len(affected)}/26"


def test_a_changed_shape_lists_its_triples(base: CompiledSide, repo: Path, tmp_path: Path) -> None:
    replace_in(repo, Path("ontology/shapes/sod.ttl"), "remove mu:mayApprove", "drop mu:mayApprove")
    report = compare(base, side_at(repo, tmp_path / "w"))
    [shape] = report.schema.shapes
    assert shape.key == "https://acme.example/policy#RoleApproverExecutorSeparationShape"
    [triples] = shape.properties
    assert isinstance(triples.old, tuple) and isinstance(triples.new, tuple)
    assert len(triples.old) == len(triples.new) == 1
    assert "remove mu:mayApprove" in triples.old[0] and "drop mu:mayApprove" in triples.new[0]
    assert not report.controls and report.blast_count == 0
    assert report.modules.changed == report.modules.added == report.modules.removed == ()


@pytest.mark.slow
def test_markdown_for_a_pull_request(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = copy_repo(tmp_path / "threshold_50k")
    lower_threshold(new)
    monkeypatch.chdir(tmp_path)
    layout = Layout(Path("repo"))
    report = diff(
        resolve_side("repo", layout, tmp_path / "w"),
        resolve_side("threshold_50k", layout, tmp_path / "w"),
        max_blast_radius=0.05,
    )
    expected = (DATA / "diff" / "threshold_50k.md").read_text(encoding="utf-8")
    assert diff_markdown(report) == expected


def check_limit(report: DiffReport, limit: float) -> bool:
    return dataclasses.replace(report, max_blast_radius=limit).ok


def test_max_blast_radius(base: CompiledSide, repo: Path, tmp_path: Path) -> None:
    lower_threshold(repo)
    new = side_at(repo, tmp_path / "w")
    measured = compare(base, new).blast_radius
    assert measured == pytest.approx(1 / 26)
    assert compare(base, new).ok  # no limit, no failure
    assert not compare(base, new, max_blast_radius=0.03).ok
    assert compare(base, new, max_blast_radius=0.04).ok
    assert compare(base, new, max_blast_radius=1 / 26).ok  # at the limit is within it
    assert not check_limit(compare(base, new), 0.0)
    text = diff_text(compare(base, new, max_blast_radius=0.03))
    assert text.splitlines()[-2].startswith("error: blast radius 3.8% exceeds the limit 3.0%")
    with pytest.raises(InputError):
        compare(base, new, max_blast_radius=1.5)


@pytest.mark.slow
def test_output_is_deterministic(base: CompiledSide, repo: Path, tmp_path: Path) -> None:
    lower_threshold(repo)
    one = compare(base, side_at(repo, tmp_path / "a"))
    two = compare(base, side_at(repo, tmp_path / "b"))
    assert diff_json(one) == diff_json(two) and diff_markdown(one) == diff_markdown(two)
    # The scratch copies never show: only the specs as given.
    for work in ("a", "b"):
        assert str(tmp_path / work) not in diff_json(one) + diff_text(one) + diff_markdown(one)


def test_markdown_cells_escape_pipes_and_backticks(
    base: CompiledSide, repo: Path, tmp_path: Path
) -> None:
    replace_in(repo, APPROVALS, "need the CFO", "need the `CFO` | board")
    markdown = diff_markdown(compare(base, side_at(repo, tmp_path / "w")))
    [row] = [line for line in markdown.splitlines() if line.startswith("| `approval_over_1m`")]
    assert "``" in row and "\\|" in row
    # Six cell borders: the value's own pipe is escaped, so the table keeps its five columns.
    assert row.replace("\\|", "").count("|") == 6


def test_fields_and_authority_levels(base: CompiledSide, repo: Path, tmp_path: Path) -> None:
    replace_in(
        repo,
        Path("ontology/controls/transaction_types.ttl"),
        'mu:path "invoice.po_number" ;       mu:datatype xsd:string ;  mu:required false',
        'mu:path "invoice.po_number" ;       mu:datatype xsd:string ;  mu:required true',
    )
    replace_in(
        repo,
        Path("ontology/controls/transaction_types.ttl"),
        '[ a mu:Field ; mu:path "purpose" ;',
        '[ a mu:Field ; mu:path "memo" ; mu:datatype xsd:string ; mu:required false ] ,\n'
        '        [ a mu:Field ; mu:path "purpose" ;',
    )
    replace_in(repo, Path("ontology/controls/authority.ttl"), "L2 — manager", "L2 — senior manager")
    report = compare(base, side_at(repo, tmp_path / "w"))
    [level] = report.schema.authority_levels
    assert (level.key, level.status) == ("L2", "changed")
    assert [(p.property, p.old, p.new) for p in level.properties] == [
        ("label", "L2 — manager", "L2 — senior manager")
    ]
    types = {(t.key, t.status): t.properties for t in report.schema.transaction_types}
    assert list(types) == [("vendor_payment", "changed"), ("wire_transfer", "changed")]
    [po] = types["vendor_payment", "changed"]
    assert (po.property, po.old, po.new) == (
        "field invoice.po_number",
        "string, optional",
        "string, required",
    )
    [memo] = types["wire_transfer", "changed"]
    assert (memo.property, memo.old, memo.new) == ("field memo", None, "string, optional")
    # The schema is one module of its own: no control module is touched.
    assert report.modules.changed == ("MANIFEST.json", "schema.py")
    assert report.blast_count == 0 and not report.controls


@pytest.mark.slow  # many `git` processes
def test_diff_specs_is_the_whole_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_repo(tmp_path / "repo")
    git_repo(root)
    lower_threshold(root)
    monkeypatch.chdir(root)
    report = diff_specs("HEAD", ".", Layout(Path(".")), max_blast_radius=0.01)
    assert (report.old.kind, report.new.kind) == ("git", "directory")
    assert [c.control_id for c in report.controls] == ["approval_over_100k"]
    assert not report.ok
