"""Overrides: the violations a compliance override names are waived, and no others.

A copy of the shipped example is broken on purpose: a role that may both
approve and execute vendor payments violates the organisation's
segregation-of-duties shape (`ontology/shapes/sod.ttl`); a control id that is
not lowercase violates the generator's core shape `mu:Control-controlId`; a
condition that does not parse fails the conditions stage. Only the first can be
waived (§9): the compiler cannot safely compile the other two.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mu.generator.compile.pipeline import Compiled, ValidationFailed, compile_ontology, waivable
from mu.generator.compile.validate import Violation, ViolationKey
from tests.conftest import copy_repo

ORG_KEY = ViolationKey(shape="ex:RoleApproverExecutorSeparationShape", focus="ex:Controller")
CORE_KEY = ViolationKey(shape="mu:Control-controlId", focus="ex:ApprovalOver10k")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _break_sod(ontology: Path) -> None:
    roles = ontology / "controls" / "roles.ttl"
    roles.write_text(
        roles.read_text(encoding="utf-8") + "\nex:Controller mu:mayExecute ex:VendorPayment .\n",
        encoding="utf-8",
    )


def _break_control_id(ontology: Path) -> None:
    _edit(ontology / "controls" / "approvals.ttl", '"approval_over_10k"', '"Bad-Id"')


def _failure(ontology: Path, waived: frozenset[ViolationKey] = frozenset()) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        compile_ontology(ontology, waived=waived)
    return info.value


def _keys(violations: tuple[Violation, ...]) -> set[ViolationKey]:
    return {ViolationKey.of(v) for v in violations}


@pytest.fixture(scope="module")
def org_broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with one org-shape violation (and nothing else wrong)."""
    ontology = copy_repo(tmp_path_factory.mktemp("org")) / "ontology"
    _break_sod(ontology)
    return ontology


@pytest.fixture(scope="module")
def org_failure(org_broken: Path) -> ValidationFailed:
    return _failure(org_broken)


@pytest.fixture(scope="module")
def both_broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with one org-shape and one core-shape violation."""
    ontology = copy_repo(tmp_path_factory.mktemp("both")) / "ontology"
    _break_sod(ontology)
    _break_control_id(ontology)
    return ontology


@pytest.fixture(scope="module")
def both_failure(both_broken: Path) -> ValidationFailed:
    """Even with both keys waived, the core violation stops the line."""
    return _failure(both_broken, frozenset({ORG_KEY, CORE_KEY}))


def test_violation_key_is_shape_and_focus() -> None:
    v = Violation("ex:A", "mu:p", "ex:S", "bad", "Violation", "controls/a.ttl", '"v"')
    assert ViolationKey.of(v) == ViolationKey("ex:S", "ex:A")
    assert v.core is False  # positional constructors still work; core defaults to False
    assert sorted([ViolationKey("b", "a"), ViolationKey("a", "z")])[0].shape == "a"
    assert waivable(v, frozenset({ViolationKey("ex:S", "ex:A")}))
    assert not waivable(v, frozenset({ViolationKey("ex:S", "ex:B")}))
    core = Violation("ex:A", None, "ex:S", "bad", "Violation", None, core=True)
    assert not waivable(core, frozenset({ViolationKey("ex:S", "ex:A")}))


def test_an_org_violation_is_rejected_with_the_attempted_digest(
    org_failure: ValidationFailed, example_compiled: Compiled
) -> None:
    assert _keys(org_failure.report.violations) == {ORG_KEY}
    assert org_failure.digest is not None
    assert len(org_failure.digest) == 64
    assert org_failure.digest != example_compiled.semantic_digest


def test_waiving_exactly_its_key_compiles(
    org_broken: Path, org_failure: ValidationFailed, example_compiled: Compiled
) -> None:
    compiled = compile_ontology(org_broken, waived=frozenset({ORG_KEY}))
    assert _keys(compiled.waived) == {ORG_KEY}
    assert compiled.waived == org_failure.report.violations
    # The report keeps every result (the waived one too), so the build can record it.
    assert compiled.checked.report.results == org_failure.report.results
    assert not compiled.checked.report.conforms
    # The package compiled is the one the override bound.
    assert compiled.semantic_digest == org_failure.digest
    ids = {c.control_id for c in compiled.ontology.controls}
    assert ids == {c.control_id for c in example_compiled.ontology.controls}
    assert {f"controls/{i}.py" for i in ids} <= compiled.files.keys()
    # The role model is not rendered: the package is the shipped (conforming) example's.
    assert compiled.files.keys() == example_compiled.files.keys()
    differ = {p for p in compiled.files if compiled.files[p] != example_compiled.files[p]}
    assert differ <= {"MANIFEST.json"}


def test_waiving_another_key_still_fails(org_broken: Path) -> None:
    other = ViolationKey(shape=ORG_KEY.shape, focus="ex:TreasuryManager")
    failure = _failure(org_broken, frozenset({other}))
    assert _keys(failure.report.violations) == {ORG_KEY}
    assert failure.digest is not None


def test_a_core_violation_cannot_be_waived(both_failure: ValidationFailed) -> None:
    assert _keys(both_failure.report.violations) == {ORG_KEY, CORE_KEY}
    assert both_failure.digest is not None


def test_core_flags(both_failure: ValidationFailed) -> None:
    flags = {ViolationKey.of(v): v.core for v in both_failure.report.violations}
    assert flags == {ORG_KEY: False, CORE_KEY: True}


def test_a_condition_that_does_not_compile_cannot_be_waived(
    tmp_path: Path,
) -> None:
    ontology = copy_repo(tmp_path) / "ontology"
    _edit(ontology / "controls" / "notifications.ttl", '"amount > 1000000.00"', '"amount >"')
    failure = _failure(ontology)
    conditions = [v for v in failure.report.violations if v.path == "mu:when"]
    assert conditions
    assert all(v.core for v in conditions)
    again = _failure(ontology, frozenset(_keys(failure.report.violations)))
    assert again.report.results == failure.report.results
