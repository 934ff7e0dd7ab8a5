"""The trust root's policy on a trusted build (SPEC §9): who may sign it, who approved it,
and the override that lets a stopped line go on.

`gates.py` knows nothing of this: it runs ontology, golden and determinism.
Here, before any gate runs, the signer must hold the `release` role of the
newest trust-root version (`release_signer`). After the gates:

- `apply_override`: when the ontology gate failed only on violations of the
  organisation's own shapes, and a quorum of compliance identities overrode
  a rejection of exactly this ontology naming exactly these violations, the
  gates run again with those violations waived;
- `enforce`: the approvals gate — distinct compliance identities of the newest
  version that approved this ontology digest under this generator in this
  repository, never the build signer's own, as many as the policy asks — and,
  when an override was used, the override gate (the override by the quorum is
  the approval of that exact ontology).

The receipt records the statuses and the statements counted; a replay rebuilds
the same two gates from a re-check of those statements (`approvals.recheck`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mu.generator.build.gates import GateRun, run_gates
from mu.generator.cache import NO_CACHE, Cache
from mu.generator.compile.validate import ViolationKey
from mu.generator.layout import Layout
from mu.generator.provenance.approvals import Tally, tally_approvals
from mu.generator.provenance.identity import GeneratorId
from mu.generator.provenance.overrides import find_override
from mu.generator.provenance.predicates import ApprovalsRecord, OverrideRecord
from mu.generator.provenance.signing import Authorised, Signer, authorise
from mu.generator.provenance.trusthistory import load_history
from mu.generator.provenance.verdict import Check

APPROVE_HINT = "compliance approves this ontology with `mu approve --key KEY`"


def release_signer(layout: Layout, signer: Signer) -> Authorised:
    """The build signer, when the newest trust-root version trusts its key for `release`.

    Raises `NoTrustRoot` (exit 1, with how to make one) when the repository has no
    trust root, and `CheckFailed` (exit 1) naming the key when it is not trusted:
    both before any gate runs, so nothing is built, signed or written.
    """
    return authorise(
        signer, load_history(layout), "release", "nothing was built, signed or written"
    )


@dataclass(frozen=True)
class Waiver:
    """A verified override: the rejection it lifts, the violations it names, its signers."""

    rejection: str  # statement digest of the rejection receipt
    keys: frozenset[ViolationKey]
    tally: Tally

    @property
    def names(self) -> str:
        """`alice`, `bob`: the overriding identities, as reports name them."""
        return ", ".join(f"`{a.identity}`" for a in self.tally.counted)

    def record(self) -> OverrideRecord:
        """As the receipt records it."""
        return OverrideRecord(self.rejection, tuple(a.ref() for a in self.tally.counted))


@dataclass(frozen=True)
class Policy:
    """The policy gates of one trusted build and what its receipt records of them."""

    gates: tuple[Check, ...]  # approvals, and override when one was used; () when none ran
    approvals: ApprovalsRecord | None
    override: OverrideRecord | None

    @property
    def ok(self) -> bool:
        """True when every policy gate that ran passed."""
        return all(g.ok for g in self.gates)


def violation_keys(run: GateRun) -> frozenset[ViolationKey]:
    """Every violated shape and focus node of a run (what an override must name exactly)."""
    if run.validation is None:
        return frozenset()
    return frozenset(ViolationKey.of(v) for v in run.validation.violations)


def overridable(run: GateRun) -> bool:
    """Whether a compliance override can lift this failure: the ontology gate is the only
    one that failed, on violations of the organisation's own shapes only (never a core
    shape of the vocabulary, never a condition that does not compile)."""
    violations = run.validation.violations if run.validation is not None else ()
    return (
        run.ontology_failed
        and not run.waived  # waiving already failed: the ontology cannot be compiled at all
        and bool(violations)
        and not any(v.core for v in violations)
        and [g.name for g in run.gates if not g.ok] == ["ontology"]
    )


def _note(run: GateRun, text: str) -> GateRun:
    """`run` with `text` appended to its ontology gate's detail."""
    gates = tuple(
        replace(g, detail=f"{g.detail}; {text}") if g.name == "ontology" else g for g in run.gates
    )
    return replace(run, gates=gates)


def apply_override(
    layout: Layout,
    release: Authorised,
    run: GateRun,
    generator: GeneratorId,
    cache: Cache = NO_CACHE,
) -> tuple[GateRun, Waiver | None]:
    """`run` again with its violations waived, when an override by the compliance quorum
    names exactly them for exactly this ontology; else `run`, its ontology gate saying why
    no override applied (when one was attempted), and None."""
    if not overridable(run) or run.digest is None:
        return run, None
    found = find_override(layout, release.root, run.digest, generator, exclude=release.identity)
    if found is None:
        return _note(run, "overridable by the compliance quorum (`mu approve --override`)"), None
    tally, override = found
    named = frozenset(ViolationKey(v.shape, v.focus) for v in override.violations)
    current = violation_keys(run)
    where = f"override of rejection {override.rejection[:12]}"
    if not tally.ok:
        return _note(run, f"{where}: {tally.describe()}"), None
    if named != current:
        missing, extra = len(current - named), len(named - current)
        return _note(
            run,
            f"{where} does not name exactly these violations "
            f"({missing} not named, {extra} no longer found): override the newest rejection",
        ), None
    waiver = Waiver(override.rejection, named, tally)
    again = run_gates(layout, waived=named, cache=cache)
    if again.compiled is None:
        return _note(again, f"{where} names them all, yet the ontology does not compile"), None
    gates = tuple(
        Check(
            g.name,
            g.status,
            f"{len(again.compiled.waived)} violation(s) overridden by rejection "
            f"{override.rejection[:12]} ({waiver.names})",
        )
        if g.name == "ontology"
        else g
        for g in again.gates
    )
    return replace(again, gates=gates), waiver


def enforce(
    layout: Layout,
    release: Authorised,
    run: GateRun,
    generator: GeneratorId,
    waiver: Waiver | None,
) -> Policy:
    """The approvals gate (and the override gate, with a waiver) of a trusted build.

    No policy gate runs when the ontology did not compile: there is no change
    to approve.
    """
    if run.compiled is None:
        return Policy((), None, None)
    root = release.root
    required = root.metadata.approvals
    if waiver is not None:
        lifted = waiver.record()
        approvals = Check(
            "approvals",
            "PASS",
            f"{len(waiver.tally.counted)}/{required} compliance identities ({waiver.names}) "
            f"overrode exactly this ontology (trust root version {root.version})",
        )
        override = Check(
            "override",
            "PASS",
            f"rejection {waiver.rejection[:12]}: {len(run.compiled.waived)} violation(s) "
            f"lifted by {waiver.names}",
        )
        return Policy((approvals, override), ApprovalsRecord(required, lifted.by), lifted)
    digest = run.compiled.semantic_digest
    tally = tally_approvals(layout, root, digest, generator, exclude=release.identity)
    detail = f"{tally.describe()}; ontology {digest[:12]}, trust root version {root.version}"
    if not tally.ok:
        detail += f"; {APPROVE_HINT} (the build signer `{release.identity}` never counts)"
    gate = Check.of("approvals", tally.ok, detail)
    record = ApprovalsRecord(required, tuple(a.ref() for a in tally.counted))
    return Policy((gate,), record if tally.ok else None, None)
