"""The trust root's policy on a build, without building: who may sign it, which
approvals count (distinct identities, never the signer's, this generator, this
repository), which failures an override can lift, and the predicates attested."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mu.generator.build.attest import gate_statuses, receipt_predicate, rejection_predicate
from mu.generator.build.build import build
from mu.generator.build.gates import GateRun
from mu.generator.build.policy import Policy, enforce, overridable, release_signer
from mu.generator.compile.pipeline import Compiled
from mu.generator.compile.validate import ValidationReport, Violation, ViolationKey
from mu.generator.errors import CheckFailed
from mu.generator.layout import Layout
from mu.generator.provenance.approvals import approve, made_under
from mu.generator.provenance.claims import MadeUnder, TrustRef
from mu.generator.provenance.identity import GeneratorId, this_generator
from mu.generator.provenance.keys import generate_keypair
from mu.generator.provenance.predicates import ApprovalRef, ApprovalsRecord, OverrideRecord
from mu.generator.provenance.signing import resolve_signer
from mu.generator.provenance.snapshot import SnapshotRef
from mu.generator.provenance.trusthistory import NoTrustRoot
from mu.generator.provenance.verdict import Check
from mu.generator.run.golden import GoldenReport
from tests.conftest import copy_repo
from tests.unit.build.trusted import Trusted, trusted_repo


@pytest.fixture
def trusted(tmp_path: Path) -> Trusted:
    return trusted_repo(tmp_path)


def passing_run(compiled: Compiled) -> GateRun:
    """What `run_gates` gives for the shipped ontology (golden and determinism left out)."""
    return GateRun(
        (Check("ontology", "PASS", "O ⊨ Σ"),),
        compiled.sources,
        compiled.checked.report,
        compiled,
        None,
        compiled.semantic_digest,
    )


def failed_run(*violations: Violation, waived: frozenset[ViolationKey] = frozenset()) -> GateRun:
    report = ValidationReport(violations)
    return GateRun((Check("ontology", "FAIL", "x"),), (), report, None, None, "d" * 64, waived)


def violation(shape: str, *, core: bool = False) -> Violation:
    return Violation("ex:Role", None, shape, "msg", "Violation", "controls/roles.ttl", core=core)


# --- who may sign a trusted build ------------------------------------------------------


def test_a_repository_without_trust_root_builds_nothing_trusted(tmp_path: Path) -> None:
    layout = Layout(copy_repo(tmp_path / "repo"))
    key = tmp_path / "release.pem"
    generate_keypair(key)
    signer = resolve_signer(layout, key)
    with pytest.raises(NoTrustRoot) as info:
        build(layout, signer)
    assert "mu trust init" in (info.value.hint or "")
    assert not layout.receipts.exists() and not layout.enforcers.exists()


def test_a_key_without_the_release_role_is_refused_before_any_gate(trusted: Trusted) -> None:
    alice = trusted.signer("alice")
    with pytest.raises(CheckFailed) as info:
        build(trusted.layout, alice)
    message = info.value.message
    assert f"key `{alice.keyid[:12]}` (identity `alice`)" in message
    assert "not trusted for release in trust root version 2" in message
    assert "holds compliance" in message
    assert "--role release" in (info.value.hint or "")
    stranger = trusted.signer("stranger")  # known to no version
    with pytest.raises(CheckFailed, match=rf"key `{stranger.keyid[:12]}` is not trusted"):
        release_signer(trusted.layout, stranger)
    assert not trusted.layout.rejected.exists() and not trusted.layout.enforcers.exists()
    assert release_signer(trusted.layout, trusted.signer("release")).identity == "release-bot"


def test_the_development_key_never_signs_evidence_even_when_trusted(trusted: Trusted) -> None:
    from mu.generator.provenance.trustedit import propose_add, sign_proposal

    dev = resolve_signer(trusted.layout, None)  # made on first use, 0600
    propose_add(trusted.layout, Path(f"{dev.path}.pub"), "release", "dev")
    sign_proposal(trusted.layout, trusted.key("root"))
    given = resolve_signer(trusted.layout, dev.path)  # the same key, given by path
    assert given.development
    for signer in (dev, given):
        with pytest.raises(CheckFailed, match="is the local development key"):
            build(trusted.layout, signer)
        with pytest.raises(CheckFailed, match="is the local development key"):
            approve(trusted.layout, signer, trusted.history())
    assert not trusted.layout.rejected.exists() and not trusted.layout.approvals.exists()


# --- which approvals count -------------------------------------------------------------


@pytest.mark.slow
def test_identities_count_once_and_never_the_build_signer(
    trusted: Trusted, example_compiled: Compiled
) -> None:
    # release-bot's own key also holds compliance; alice holds two compliance keys.
    trusted.grant(("release", "compliance", "release-bot"), ("alice-2", "compliance", "alice"))
    trusted.policy(2)
    layout, history = trusted.layout, trusted.history()
    for name in ("release", "alice", "alice-2"):
        approve(layout, trusted.signer(name), history)
    release = release_signer(layout, trusted.signer("release"))
    run = passing_run(example_compiled)

    policy = enforce(layout, release, run, this_generator(), None)
    [gate] = policy.gates
    assert gate.status == "FAIL" and policy.approvals is None
    assert "1/2 compliance identities (`alice`)" in gate.detail
    assert "`release-bot`: the build signer's own identity never approves" in gate.detail
    assert "trust root version 4" in gate.detail and "mu approve --key" in gate.detail

    approve(layout, trusted.signer("bob"), history)
    policy = enforce(layout, release, run, this_generator(), None)
    assert policy.ok and policy.override is None
    assert policy.approvals is not None and policy.approvals.required == 2
    assert [r.identity for r in policy.approvals.by] == ["alice", "bob"]


def test_an_approval_under_another_generator_does_not_count(
    trusted: Trusted, example_compiled: Compiled
) -> None:
    approve(trusted.layout, trusted.signer("alice"), trusted.history())
    release = release_signer(trusted.layout, trusted.signer("release"))
    other = GeneratorId("mu", "0.0.9", "0" * 64)
    policy = enforce(trusted.layout, release, passing_run(example_compiled), other, None)
    [gate] = policy.gates
    assert gate.status == "FAIL"
    assert "`alice`: approved under another generator" in gate.detail


def test_an_approval_made_in_another_repository_does_not_count(
    tmp_path: Path, example_compiled: Compiled
) -> None:
    here = trusted_repo(tmp_path / "here")
    # The same organisation, the same alice key, another policy repository.
    there = trusted_repo(tmp_path / "there", "acme/other-policy", keys=here.keys)
    approval = approve(there.layout, there.signer("alice"), there.history())
    here.layout.approvals.mkdir(parents=True)
    shutil.copy(approval.path, here.layout.approvals / approval.path.name)
    release = release_signer(here.layout, here.signer("release"))
    policy = enforce(here.layout, release, passing_run(example_compiled), this_generator(), None)
    [gate] = policy.gates
    assert gate.status == "FAIL"
    assert "made for repository `acme/other-policy`" in gate.detail


def test_no_policy_gate_runs_when_the_ontology_did_not_compile(trusted: Trusted) -> None:
    release = release_signer(trusted.layout, trusted.signer("release"))
    run = failed_run(violation("ex:Shape"))
    assert enforce(trusted.layout, release, run, this_generator(), None) == Policy((), None, None)


# --- which failures an override can lift -----------------------------------------------


def test_only_violations_of_the_organisations_shapes_are_overridable() -> None:
    assert overridable(failed_run(violation("ex:A"), violation("ex:B")))
    assert not overridable(failed_run(violation("ex:A"), violation("mu:Core", core=True)))
    assert not overridable(failed_run())  # nothing violated: not an ontology failure
    # Waiving was already tried: the ontology cannot be compiled at all.
    waived = frozenset({ViolationKey("ex:A", "ex:Role")})
    assert not overridable(failed_run(violation("ex:A"), waived=waived))


# --- what is attested ------------------------------------------------------------------

MADE = MadeUnder("acme/payments-policy", TrustRef(2, "e" * 64), "2026-01-02T03:04:05Z")
REF = ApprovalRef("a" * 64, "b" * 64, "alice")
SNAPSHOT = SnapshotRef(f"receipts/snapshots/{'c' * 64}.json", "c" * 64)


def test_the_receipt_predicate_is_a_pure_function_of_what_policy_decided(
    example_compiled: Compiled,
) -> None:
    run = replace(passing_run(example_compiled), golden=GoldenReport("f" * 64, (), ()))

    def predicate(gates: tuple[Check, ...]) -> dict[str, Any]:
        return receipt_predicate(
            run,
            this_generator(),
            SNAPSHOT,
            None,
            1,
            made=MADE,
            approvals=ApprovalsRecord(1, (REF,)),
            override=OverrideRecord("9" * 64, (REF,)),
            policy_gates=gates,
        ).to_dict()

    recorded = predicate((Check("approvals", "PASS", "one"), Check("override", "PASS", "two")))
    # Detail text is never signed: a replay's re-check words it differently.
    reworded = (Check("approvals", "PASS", "re-checked"), Check("override", "PASS", "ok"))
    assert predicate(reworded) == recorded
    assert recorded["gates"] == {"ontology": "PASS", "approvals": "PASS", "override": "PASS"}
    assert recorded["repository"] == "acme/payments-policy"
    assert recorded["trust_root"] == {"version": 2, "digest": "e" * 64}
    assert recorded["signedAt"] == "2026-01-02T03:04:05Z"
    assert recorded["override"]["by"] == [REF.to_dict()]


def test_a_gate_is_never_recorded_twice() -> None:
    run = failed_run(violation("ex:A"))
    with pytest.raises(ValueError, match="given twice"):
        gate_statuses(run, (Check("ontology", "PASS", ""),))


def test_a_rejection_records_the_line_stop_and_every_violation(trusted: Trusted) -> None:
    run = failed_run(violation("ex:A"), violation("ex:B"))
    made = made_under(trusted.history().newest)
    predicate = rejection_predicate(run, this_generator(), None, made=made, overridable=True)
    recorded = predicate.to_dict()
    assert recorded["compliance_override_required"] is True and recorded["overridable"] is True
    assert recorded["ontology"]["digest"] == "d" * 64
    assert [(v["shape"], v["focus"]) for v in recorded["violations"]] == [
        ("ex:A", "ex:Role"),
        ("ex:B", "ex:Role"),
    ]
    assert recorded["failed_gates"] == ["ontology"]
    assert recorded["repository"] == "acme/payments-policy"
