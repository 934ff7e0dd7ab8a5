"""The reference gate of `mu build`: the enforcers decide as the reference evaluator does.

`run.reference` reads SPEC §3 straight off the ontology and shares no code
with the templates, the condition emitter or the runtime. This gate decides
the golden cases and the ontology's boundary cases (`run.boundary`) with both
the package just rendered and the reference, and fails naming the first cases
on which they differ: a generator defect is caught before anything is written
or signed, not by `mu upgrade-check` or `mu diagnose` after a deploy.

It must stay cheap at scale. At 10,000 controls one decision of either side
walks the ~2,000 controls of a transaction type, and the boundary cases number
~70,000, so checking all of them would take minutes. The gate therefore works
within a budget of *control evaluations* (a case costs one plus the controls
of its type), never of time, so that the same ontology checks the same cases on
any machine:

- golden cases first, every one while they cost at most half the budget, else
  an evenly spread sample of them;
- then boundary cases in rounds: each round takes one case of every site (a
  type's authority levels, or one control of a type), a different edge per
  site and per round, visiting sites in bit-reversed order so that any prefix
  is spread over every type and control; sites are made only when visited.

A small ontology is checked completely (the shipped example: every golden and
boundary case); a large one on a spread sample, and the gate's detail says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from mu.generator.compile.conditions import ConditionProblem
from mu.generator.compile.model import Ontology
from mu.generator.provenance.verdict import Check
from mu.generator.run.boundary import Boundaries, Probe
from mu.generator.run.golden import GoldenCase
from mu.generator.run.reference import Reference, ReferenceDecision, summarize_enforcer_decision

# ~1 s of both evaluators on this project's 2-core machine at 2,000 and 10,000 controls.
BUDGET = 150_000
NAMED = 5  # differing cases a failing gate names


@dataclass(frozen=True)
class Case:
    """One transaction both evaluators decide, and how a message names it."""

    name: str
    transaction: Mapping[str, Any]


@dataclass(frozen=True)
class Disagreement:
    """A case on which the enforcers and the reference decide differently."""

    name: str
    reference: ReferenceDecision
    enforcers: ReferenceDecision


@dataclass(frozen=True)
class Selection:
    """The cases the budget allowed, and how much of each kind that is."""

    cases: tuple[Case, ...]
    golden: int  # golden cases chosen
    golden_total: int
    boundary: int  # boundary cases chosen
    complete: bool  # every boundary case of every site was chosen
    budget: int  # control evaluations allowed


@dataclass(frozen=True)
class CrossCheck:
    """The cases decided, and every one on which the two sides differ."""

    selection: Selection
    differences: tuple[Disagreement, ...]


def spread(n: int) -> list[int]:
    """0 … n-1 in bit-reversed order: every prefix is spread evenly over the range."""
    bits = max(1, (n - 1).bit_length())
    reversed_ = (int(format(i, f"0{bits}b")[::-1], 2) for i in range(1 << bits))
    return [i for i in reversed_ if i < n]


def _cost(reference: Reference, transaction: Mapping[str, Any]) -> int:
    """Control evaluations one decision of `transaction` takes on each side."""
    type_id = transaction.get("type")
    return 1 + (len(reference.applicable.get(type_id, ())) if isinstance(type_id, str) else 0)


def _golden(
    reference: Reference, golden: Sequence[GoldenCase], cap: int
) -> tuple[list[Case], int]:
    """Every golden case if they fit in `cap`, else a spread sample; and their cost."""
    costs = [_cost(reference, c.transaction) for c in golden]
    chosen = list(range(len(golden)))
    if sum(costs) > cap:
        chosen, spent = [], 0
        for i in spread(len(golden)):
            if spent + costs[i] > cap:
                break
            chosen.append(i)
            spent += costs[i]
        chosen.sort()  # decided, and named, in the suite's order
    cases = [
        Case(f"golden `{golden[i].case_id}` ({golden[i].file})", golden[i].transaction)
        for i in chosen
    ]
    return cases, sum(costs[i] for i in chosen)


def _rounds(boundaries: Boundaries) -> Iterator[tuple[str, Probe]]:
    """Boundary cases round by round: in round r, case (k + r) of the k-th site visited."""
    order = [boundaries.sites[i] for i in spread(len(boundaries.sites))]
    made: dict[int, list[Probe]] = {}
    r = 0
    while True:
        gave = False
        for k, site in enumerate(order):
            if k not in made:
                made[k] = boundaries.cases(site)
            probes = made[k]
            if r < len(probes):
                gave = True
                yield site.ttype.type_id, probes[(k + r) % len(probes)]
        if not gave:
            return
        r += 1


def select(
    reference: Reference, golden: Sequence[GoldenCase], budget: int = BUDGET
) -> Selection:
    """The cases to decide within `budget` control evaluations (see the module's doc)."""
    cases, spent = _golden(reference, golden, budget // 2)
    golden_count = len(cases)
    complete = True
    for type_id, probe in _rounds(Boundaries.of(reference.ontology)):
        cost = _cost(reference, probe.transaction)
        if spent + cost > budget:
            complete = False
            break
        spent += cost
        cases.append(Case(f"boundary `{probe.label}` ({type_id})", probe.transaction))
    boundary = len(cases) - golden_count
    return Selection(tuple(cases), golden_count, len(golden), boundary, complete, budget)


def _reference(reference: Reference, transaction: Mapping[str, Any]) -> ReferenceDecision:
    """The reference's decision; an ontology it cannot interpret is an `ERROR` to report
    (validation passed, so that would be a defect of mu, never the sender's fault)."""
    try:
        return reference.decide(transaction)
    except (ValueError, ConditionProblem) as exc:
        return ReferenceDecision("ERROR", error=f"the reference cannot decide: {exc}")


def cross_check(
    package: ModuleType,
    ontology: Ontology,
    golden: Sequence[GoldenCase],
    budget: int = BUDGET,
) -> CrossCheck:
    """Decide the selected cases with `package` and with the reference; every difference."""
    reference = Reference.of(ontology)
    selection = select(reference, golden, budget)
    differences = []
    for case in selection.cases:
        expected = _reference(reference, case.transaction)
        observed = summarize_enforcer_decision(package, case.transaction)
        if observed != expected:
            differences.append(Disagreement(case.name, expected, observed))
    return CrossCheck(selection, tuple(differences))


def _decision(d: ReferenceDecision) -> str:
    """`REJECT [a, b]`, `INVALID (amount)`, `ERROR: …`: what a message shows of a decision."""
    if d.outcome == "INVALID":
        return f"INVALID ({', '.join(d.invalid_fields) or 'the transaction'})"
    if d.outcome == "ERROR":
        return f"ERROR: {d.error}"
    return f"{d.outcome} [{', '.join(cid for cid, _ in d.reasons)}]"


def describe(d: Disagreement) -> str:
    """The first way the two decisions differ, each side as it decided."""
    ref, enf = d.reference, d.enforcers
    if (ref.outcome, ref.reasons, ref.invalid_fields, ref.error) != (
        enf.outcome,
        enf.reasons,
        enf.invalid_fields,
        enf.error,
    ):
        return f"{d.name}: reference {_decision(ref)}, enforcers {_decision(enf)}"
    if ref.actions != enf.actions:
        shown = [", ".join(f"{k}:{c}" for k, c in x.actions) for x in (ref, enf)]
        return f"{d.name}: actions [{shown[0]}] by the reference, [{shown[1]}] by the enforcers"
    steps = sorted(set(ref.trace) ^ set(enf.trace))
    where = ", ".join(f"`{cid}` {status}" for cid, status in steps[:4])
    return f"{d.name}: traces differ ({where})"


def reference_gate(result: CrossCheck) -> Check:
    """The gate's verdict: PASS when every case agreed, else the first differing ones named."""
    s = result.selection
    scope = (
        f"{s.golden}/{s.golden_total} golden and {s.boundary} boundary cases"
        + ("" if s.complete else f" (a spread sample within {s.budget:,} control evaluations)")
    )
    if not result.differences:
        return Check("reference", "PASS", f"{scope}: the enforcers decide as the reference does")
    named = "; ".join(describe(d) for d in result.differences[:NAMED])
    more = len(result.differences) - NAMED
    return Check(
        "reference",
        "FAIL",
        f"the enforcers differ from the reference evaluator on {len(result.differences)} of "
        f"{scope}: {named}" + (f"; and {more} more" if more > 0 else "")
        + " — a defect of the generator, not of the ontology: report it to mu's maintainers",
    )
