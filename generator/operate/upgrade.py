"""`mu upgrade-check`: before a new generator ships, prove it keeps behaviour.

Regenerate A with this generator, compare it with the deployed A module by
module (bytes may change: headers name the version), and compare decisions on
the golden suite plus the generated boundary cases. Behaviour must be equal
on every case. With a key of the `release` role (`--sign-key`), a signed
upgrade receipt (`urn:mu:v1#Upgrade`, made under the newest trust-root
version) records the verdict either way; without one, the check is a report
only and nothing is written.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu.generator.compile.pipeline import Compiled, ValidationFailed, compile_ontology
from mu.generator.compile.validate import ViolationKey
from mu.generator.errors import InputError
from mu.generator.files import compare_trees, read_tree, write_tree_atomic
from mu.generator.hashing import sha256_hex
from mu.generator.jsonread import DuplicateKey, loads_strict
from mu.generator.layout import Layout
from mu.generator.provenance.approvals import made_under
from mu.generator.provenance.identity import this_generator
from mu.generator.provenance.overrides import override_violations
from mu.generator.provenance.receipt import newest, statement, store, subjects
from mu.generator.provenance.signing import Authorised, Signer, authorise
from mu.generator.provenance.statement import UPGRADE_TYPE
from mu.generator.provenance.trusthistory import load_history
from mu.generator.run.boundary import boundary_cases
from mu.generator.run.enforcers import load_enforcers
from mu.generator.run.golden import load_suite
from mu.generator.run.reference import ReferenceDecision, summarize_enforcer_decision


@dataclass(frozen=True)
class CaseDifference:
    """A case on which the deployed and the regenerated A decide differently."""

    case_id: str
    description: str
    deployed: ReferenceDecision
    regenerated: ReferenceDecision


@dataclass(frozen=True)
class UpgradeReport:
    """Module byte changes, behaviour on every case, and the upgrade receipt."""

    old_generator: dict[str, Any]
    new_generator: dict[str, Any]
    modules_changed: tuple[str, ...]
    modules_added: tuple[str, ...]
    modules_removed: tuple[str, ...]
    cases: int
    differences: tuple[CaseDifference, ...]
    receipt: Path | None
    signed_by: str | None = None  # the release identity that signed the receipt
    trust_version: int | None = None  # the trust-root version it was made under

    @property
    def equivalent(self) -> bool:
        """Same decision on every case."""
        return not self.differences


def _old_generator(layout: Layout, deployed: Path) -> dict[str, Any]:
    try:
        manifest = loads_strict((deployed / "MANIFEST.json").read_bytes())
        old = dict(manifest["generator"])
    except DuplicateKey as exc:  # a reader and mu would see different generators
        raise InputError(
            f"`{deployed}` has no readable MANIFEST.json: it {exc}",
            hint="point --deployed at a generated enforcer package",
        ) from exc
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InputError(
            f"`{deployed}` has no readable MANIFEST.json",
            hint="point --deployed at a generated enforcer package",
        ) from exc
    receipt = newest(layout.receipts)  # well formed, or refused: its fields are typed
    if receipt is not None:
        pinned = receipt.predicate.generator
        if pinned.version == old.get("version"):
            old["source_sha256"] = pinned.source_sha256
    return old


def _compile(layout: Layout) -> Compiled:
    """The ontology as the chain built it: when the newest receipt proceeded under a
    compliance override of exactly this ontology, its violations are waived again."""
    try:
        return compile_ontology(layout.ontology, shown=layout.shown(layout.ontology))
    except ValidationFailed as exc:
        receipt = newest(layout.receipts)
        override = receipt.predicate.override if receipt is not None else None
        if override is None or receipt is None or exc.digest != receipt.predicate.ontology.digest:
            raise
        waived = frozenset(
            ViolationKey(k.shape, k.focus) for k in override_violations(layout, override.by)
        )
        return compile_ontology(
            layout.ontology, shown=layout.shown(layout.ontology), waived=waived
        )


def compare_behaviour(
    deployed: Path, regenerated: Path, cases: Sequence[tuple[str, str, Any]]
) -> tuple[CaseDifference, ...]:
    """Decide every case with both packages; the cases where they differ."""
    old, new = load_enforcers(deployed), load_enforcers(regenerated)
    out = []
    for case_id, description, tx in cases:
        a, b = summarize_enforcer_decision(old, tx), summarize_enforcer_decision(new, tx)
        if a != b:
            out.append(CaseDifference(case_id, description, a, b))
    return tuple(out)


def upgrade_check(
    layout: Layout, *, deployed: Path | None = None, signer: Signer | None = None
) -> UpgradeReport:
    """Regenerate, compare modules and behaviour; with `signer`, write the upgrade receipt.

    `signer` must hold `release` in the newest trust-root version (checked before
    anything runs: `CheckFailed`, or `NoTrustRoot`, exit 1); without it nothing is written.
    """
    release: Authorised | None = None
    if signer is not None:
        release = authorise(
            signer, load_history(layout), "release", "no upgrade receipt was written"
        )
    deployed = (deployed or layout.enforcers).resolve()
    old_generator = _old_generator(layout, deployed)
    compiled = _compile(layout)
    suite = load_suite(layout.golden)
    cases = [(c.case_id, c.description, c.transaction) for c in suite.cases]
    cases += [(b.case_id, b.description, b.transaction) for b in boundary_cases(compiled.ontology)]
    diff = compare_trees(read_tree(deployed), compiled.files)
    with tempfile.TemporaryDirectory(prefix="mu-upgrade-") as scratch:
        fresh = Path(scratch) / "enforcers"
        write_tree_atomic(fresh, compiled.files)
        differences = compare_behaviour(deployed, fresh, cases)
    new_generator = this_generator().to_dict()
    report = UpgradeReport(
        old_generator=old_generator,
        new_generator=new_generator,
        modules_changed=diff.changed,
        modules_added=diff.added,
        modules_removed=diff.removed,
        cases=len(cases),
        differences=differences,
        receipt=None,
    )
    if release is None:
        return report
    predicate = {
        "old_generator": old_generator,
        "new_generator": new_generator,
        "ontology": {"digest": compiled.semantic_digest},
        "modules": {
            "changed": list(diff.changed),
            "added": list(diff.added),
            "removed": list(diff.removed),
        },
        "cases": len(cases),
        "equivalent": report.equivalent,
        "differences": [
            {
                "case": d.case_id,
                "deployed": d.deployed.to_dict(),
                "regenerated": d.regenerated.to_dict(),
            }
            for d in differences
        ],
        **made_under(release.root).to_dict(),
    }
    payload = statement(subjects("enforcers", compiled.files), UPGRADE_TYPE, predicate)
    envelope = release.signer.sign(payload)
    name = f"{sha256_hex(payload)[:12]}.json"
    path = store(layout, layout.upgrades, name, envelope)
    return dataclasses.replace(
        report, receipt=path, signed_by=release.identity, trust_version=release.root.version
    )
