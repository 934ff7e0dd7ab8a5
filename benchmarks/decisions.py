"""Decisions per second of mu against cedarpy and a hand-written Python loop, same rules,
same transactions, one run.

    pip install -e '.[bench]'          # cedarpy: a dependency of this benchmark only
    python benchmarks/decisions.py [--controls 1000] [--transactions 20000] [--repeat 5]

It writes the synthetic repository (benchmarks/synthetic.py) to a temporary
directory, compiles it into an enforcer package with mu's own pipeline, loads
the package, and translates the same ontology model twice more:

- **cedarpy**: one pre-parsed `PolicySet` per transaction type. A base
  `permit` lets everything through; every decision control becomes a `forbid`
  annotated `@id("<control id>")`, so the determining policies of a Deny name
  the controls that fired. Cedar has two outcomes, so REVIEW is a `forbid`
  whose control has effect Review: the outcome is REJECT if any determining
  control rejects, else REVIEW. Approval rules compare the `decimal` amount and
  the approver's rank (a Long); segregation rules compare the party ids; the
  `mu:when` conditions are translated from mu's own parse tree. A currency that
  no approval rule of the type covers is one more `forbid` (`@id("currency")`)
  meaning INVALID. The transaction travels in the request context, built per
  decision (that is part of deciding with Cedar). Notification and audit-log
  controls are obligations, which Cedar does not model, so Cedar decides
  outcome and reasons only: mu and the hand loop also compute the actions.
- **hand loop**: what a careful engineer writes by hand: per type, plain tuples
  of rules and actions in a fixed order, conditions as Python lambdas, the
  amount as a `Decimal`; no validation, no trace, no party-id normal forms.

Before timing, all three decide every transaction and must agree on every
outcome; mu and the hand loop must also agree on the set of reason control ids
and on the actions, and Cedar on the reason ids too. Any difference aborts with
the transaction and the answers. Then each engine decides all transactions
`--repeat` times, the engines taking turns (each one's best pass counts), mu's
per-call latency is sampled, and
mu's batch throughput is measured on 1 and 2 cores: worker processes that each
load the package and only decide, and, where this mu has it, `mu decide --batch
FILE --jobs N` end to end (process start, package load, JSON in and out).
Not part of the test suite: timings on shared machines are noisy, so nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import transaction, write_repository

from mu.generator.compile.conditions import ast as cond
from mu.generator.compile.conditions.parser import parse_condition
from mu.generator.compile.model import CORE_FIELDS, Control, Ontology

# An answer every engine can give: outcome, reason control ids, actions (kind, control id).
Answer = tuple[str, frozenset[str], tuple[tuple[str, str], ...]]
PARTIES = ("initiator", "approver", "executor")
_PY_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_CEDAR_DECIMAL_OPS = {
    "<": "lessThan",
    "<=": "lessThanOrEqual",
    ">": "greaterThan",
    ">=": "greaterThanOrEqual",
}


# The translators below cover the condition language as the synthetic policies
# use it: `amount` is the only decimal field and `approver.authority` the only
# authority field. Anything else would make the engines disagree, which aborts.

# --------------------------------------------------------------------------
# The model, per transaction type
# --------------------------------------------------------------------------


def datatypes(ontology: Ontology, type_id: str) -> dict[str, str]:
    """Field path -> datatype for one transaction type (core fields included)."""
    ttype = ontology.type_by_id(type_id)
    assert ttype is not None
    return {f.path: f.datatype for f in CORE_FIELDS + ttype.fields}


def applicable(ontology: Ontology, type_id: str) -> list[Control]:
    """The controls of a type, by control id (the order reasons are listed in)."""
    return sorted(
        (c for c in ontology.controls if type_id in c.applies_to), key=lambda c: c.control_id
    )


def action_order(controls: Iterable[Control]) -> list[str]:
    """Every control id after those it depends on, ties by id (SPEC §3), Kahn with a heap."""
    controls = list(controls)
    waiting = {c.control_id: len(set(c.depends_on)) for c in controls}
    dependants: dict[str, list[str]] = {c.control_id: [] for c in controls}
    for c in controls:
        for dep in set(c.depends_on):
            dependants[dep].append(c.control_id)
    ready = [cid for cid, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        cid = heapq.heappop(ready)
        order.append(cid)
        for other in dependants[cid]:
            waiting[other] -= 1
            if waiting[other] == 0:
                heapq.heappush(ready, other)
    return order


def _operand(node: cond.Operand | cond.SetItem, types: Mapping[str, str]) -> tuple[str, Any]:
    """(kind, payload) of an operand: ("field", path), ("code", code) or ("lit", value)."""
    if isinstance(node, cond.FieldRef):
        return "field", node.path
    if isinstance(node, cond.Name):
        return ("field", node.name) if node.name in types else ("code", node.name)
    return "lit", node.value


# --------------------------------------------------------------------------
# The hand-written loop
# --------------------------------------------------------------------------


class PyCondition:
    """A condition as the Python expression a person would write over `t` (the
    transaction dict), `amount` (a Decimal) and `rank` (the approver's rank)."""

    def __init__(self, types: Mapping[str, str], ranks: Mapping[str, int]) -> None:
        self.types, self.ranks = types, ranks
        self.constants: dict[str, object] = {}

    def const(self, value: object) -> str:
        """A name for a constant, so Decimals are built once, not per decision."""
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def value(self, node: cond.Operand | cond.SetItem, authority: bool) -> str:
        kind, payload = _operand(node, self.types)
        if kind == "field":
            if payload == "amount":
                return "amount"
            if self.types[payload] == "authority":
                return "rank"  # approver.authority, the only authority field here
            return "t" + "".join(f"[{part!r}]" for part in payload.split("."))
        if kind == "code" or authority:
            return repr(self.ranks[payload])
        return self.const(payload) if isinstance(payload, Decimal) else repr(payload)

    def expr(self, node: cond.Expr) -> str:
        match node:
            case cond.Or(operands):
                return "(" + " or ".join(self.expr(o) for o in operands) + ")"
            case cond.And(operands):
                return "(" + " and ".join(self.expr(o) for o in operands) + ")"
            case cond.Not(operand):
                return f"(not {self.expr(operand)})"
            case cond.Compare(op, left, right):
                kinds = (_operand(left, self.types)[0], _operand(right, self.types)[0])
                authority = "code" in kinds
                a, b = self.value(left, authority), self.value(right, authority)
                return f"({a} {_PY_OPS[op]} {b})"
            case cond.In(negated, left, values):
                authority = any(isinstance(i, cond.Name) for i in values.items)
                items = ", ".join(self.value(i, authority) for i in values.items)
                word = "not in" if negated else "in"
                return f"({self.value(left, authority)} {word} ({items},))"
            case cond.BoolLit(value):
                return repr(value)
            case _:
                return self.value(node, False)  # a bare boolean field


def py_condition(
    text: str | None, types: Mapping[str, str], ranks: Mapping[str, int]
) -> Callable[..., bool] | None:
    """A lambda for a condition (None: always holds). `eval` of text built here
    from mu's parse tree, never of user text: this stands for hand-written code."""
    if text is None:
        return None
    builder = PyCondition(types, ranks)
    body = builder.expr(parse_condition(text))
    return eval(f"lambda t, amount, rank: {body}", dict(builder.constants))  # type: ignore[no-any-return]


APPROVAL, SEGREGATION, CONDITION = 0, 1, 2


def hand_rules(ontology: Ontology) -> dict[str, tuple[Any, ...]]:
    """Per type: (covered currencies, decision rules, action rules) as plain tuples."""
    ranks = {a.code: a.rank for a in ontology.authority_levels}
    position = {cid: n for n, cid in enumerate(action_order(ontology.controls))}
    plans: dict[str, tuple[Any, ...]] = {}
    for ttype in ontology.transaction_types:
        types = datatypes(ontology, ttype.type_id)
        rules: list[tuple[Any, ...]] = []
        actions: list[tuple[Any, ...]] = []
        controls = applicable(ontology, ttype.type_id)
        for c in controls:
            when = py_condition(c.when, types, ranks)
            if c.kind == "approval":
                assert c.amount_threshold is not None and c.required_authority is not None
                rules.append(
                    (
                        APPROVAL,
                        c.control_id,
                        when,
                        c.currency,
                        c.amount_threshold,
                        ranks[c.required_authority],
                    )
                )
            elif c.kind == "segregation":
                rules.append((SEGREGATION, c.control_id, when, tuple(c.separates)))
            elif c.kind == "condition":
                rules.append((CONDITION, c.control_id, when, c.effect))
            else:
                kind = "notify" if c.kind == "notification" else "ledger"
                actions.append((position[c.control_id], kind, c.control_id, when, c.on_outcome))
        currencies = frozenset(c.currency for c in controls if c.kind == "approval")
        plans[ttype.type_id] = (
            currencies,
            tuple(rules),
            tuple(a[1:] for a in sorted(actions)),
        )
    return plans


def hand_decide(plans: Mapping[str, tuple[Any, ...]], ranks: Mapping[str, int], t: Any) -> Answer:
    """Decide one transaction the way a hand-written loop would."""
    currencies, rules, action_rules = plans[t["type"]]
    currency = t["currency"]
    if currencies and currency not in currencies:
        return "INVALID", frozenset(), ()
    amount = Decimal(t["amount"])
    rank = ranks[t["approver"]["authority"]]
    reasons: list[str] = []
    reject = review = False
    for rule in rules:
        when = rule[2]
        if when is not None and not when(t, amount, rank):
            continue
        kind = rule[0]
        if kind == APPROVAL:
            if currency == rule[3] and amount > rule[4] and rank < rule[5]:
                reasons.append(rule[1])
                reject = True
        elif kind == SEGREGATION:
            ids = [t[party]["id"] for party in rule[3]]
            if len(set(ids)) != len(ids):
                reasons.append(rule[1])
                reject = True
        else:
            reasons.append(rule[1])
            if rule[3] == "REJECT":
                reject = True
            else:
                review = True
    outcome = "REJECT" if reject else "REVIEW" if review else "APPROVE"
    actions = tuple(
        (kind, cid)
        for kind, cid, when, outcomes in action_rules
        if (when is None or when(t, amount, rank)) and (not outcomes or outcome in outcomes)
    )
    return outcome, frozenset(reasons), actions


# --------------------------------------------------------------------------
# Cedar
# --------------------------------------------------------------------------


def _cedar_decimal(value: object) -> str:
    """A Cedar `decimal(...)` literal: it needs a point and at most four places."""
    text = format(Decimal(str(value)), "f")
    return f'decimal("{text if "." in text else text + ".0"}")'


def _cedar_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class CedarCondition:
    """A condition as a Cedar expression over `context`."""

    def __init__(self, types: Mapping[str, str], ranks: Mapping[str, int]) -> None:
        self.types, self.ranks = types, ranks

    def value(self, node: cond.Operand | cond.SetItem, authority: bool, money: bool) -> str:
        kind, payload = _operand(node, self.types)
        if kind == "field":
            if payload == "amount":
                return "context.amount"
            if self.types[payload] == "authority":
                return "context.approver_rank"
            return "context." + payload
        if kind == "code" or authority:
            return str(self.ranks[payload])
        if money:  # a number compared with the amount is a Cedar decimal
            return _cedar_decimal(payload)
        if isinstance(payload, bool):
            return "true" if payload else "false"
        if isinstance(payload, str):
            return _cedar_string(payload)
        return str(payload)

    def expr(self, node: cond.Expr) -> str:
        match node:
            case cond.Or(operands):
                return "(" + " || ".join(self.expr(o) for o in operands) + ")"
            case cond.And(operands):
                return "(" + " && ".join(self.expr(o) for o in operands) + ")"
            case cond.Not(operand):
                return f"(!{self.expr(operand)})"
            case cond.Compare(op, left, right):
                kinds = (_operand(left, self.types), _operand(right, self.types))
                authority = any(k == "code" for k, _ in kinds)
                money = any(k == "field" and self.types[p] == "decimal" for k, p in kinds)
                a = self.value(left, authority, money)
                b = self.value(right, authority, money)
                if money and op in _CEDAR_DECIMAL_OPS:
                    return f"({a}.{_CEDAR_DECIMAL_OPS[op]}({b}))"
                return f"({a} {_PY_OPS[op]} {b})"
            case cond.In(negated, left, values):
                authority = any(isinstance(i, cond.Name) for i in values.items)
                items = ", ".join(self.value(i, authority, False) for i in values.items)
                test = f"[{items}].contains({self.value(left, authority, False)})"
                return f"(!{test})" if negated else test
            case cond.BoolLit(value):
                return "true" if value else "false"
            case _:
                return self.value(node, False, False)


def cedar_policies(ontology: Ontology, type_id: str) -> str:
    """The Cedar policy text of one transaction type."""
    ranks = {a.code: a.rank for a in ontology.authority_levels}
    translate = CedarCondition(datatypes(ontology, type_id), ranks)
    out = ["permit (principal, action, resource);"]
    controls = applicable(ontology, type_id)
    currencies = sorted({str(c.currency) for c in controls if c.kind == "approval"})
    if currencies:
        listed = ", ".join(_cedar_string(c) for c in currencies)
        out.append(
            f'@id("currency") forbid (principal, action, resource) '
            f"when {{ !([{listed}].contains(context.currency)) }};"
        )
    for c in controls:
        tests = [translate.expr(parse_condition(c.when))] if c.when else []
        if c.kind == "approval":
            assert c.required_authority is not None
            tests += [
                f"context.currency == {_cedar_string(str(c.currency))}",
                f"context.amount.greaterThan({_cedar_decimal(c.amount_threshold)})",
                f"context.approver_rank < {ranks[c.required_authority]}",
            ]
        elif c.kind == "segregation":
            pairs = [
                f"context.{a} == context.{b}"
                for n, a in enumerate(c.separates)
                for b in c.separates[n + 1 :]
            ]
            tests.append("(" + " || ".join(pairs) + ")")
        elif c.kind != "condition":
            continue  # notifications and audit logs: obligations, not Cedar decisions
        out.append(
            f'@id("{c.control_id}") forbid (principal, action, resource) '
            f"when {{ {' && '.join(tests)} }};"
        )
    return "\n".join(out)


class CedarEngine:
    """cedarpy with one pre-parsed policy set per type and an empty, pre-parsed entity set."""

    def __init__(self, ontology: Ontology) -> None:
        import cedarpy

        self.cedarpy = cedarpy
        self.policies = {
            t.type_id: cedarpy.PolicySet.from_str(cedar_policies(ontology, t.type_id))
            for t in ontology.transaction_types
        }
        self.effects = {c.control_id: c.effect or "REJECT" for c in ontology.controls}
        self.ranks = {a.code: a.rank for a in ontology.authority_levels}
        self.entities = cedarpy.Entities.from_json_str("[]")

    def decide(self, t: Any) -> Answer:
        """Decide one transaction: build the request, authorize, map policy ids to controls."""
        request = {
            "principal": {"type": "User", "id": t["approver"]["id"]},
            "action": {"type": "Action", "id": "decide"},
            "resource": {"type": "Transaction", "id": t["id"]},
            "context": {
                "amount": {"__extn": {"fn": "decimal", "arg": t["amount"]}},
                "currency": t["currency"],
                "approver_rank": self.ranks[t["approver"]["authority"]],
                **{party: t[party]["id"] for party in PARTIES},
                "counterparty": t["counterparty"],
            },
        }
        result = self.cedarpy.is_authorized(request, self.policies[t["type"]], self.entities)
        if result.diagnostics.errors:
            raise SystemExit(f"cedar evaluation errors for {t}: {result.diagnostics.errors}")
        if result.allowed:
            return "APPROVE", frozenset(), ()
        fired = frozenset(result.diagnostics.id_annotations_by_reason.values())
        if "currency" in fired:
            return "INVALID", frozenset(), ()
        effects = {self.effects[cid] for cid in fired}
        return ("REJECT" if "REJECT" in effects else "REVIEW"), fired, ()


# --------------------------------------------------------------------------
# mu
# --------------------------------------------------------------------------


def mu_decide(module: ModuleType, t: Any) -> Answer:
    """mu's answer reduced to what the other engines give."""
    try:
        d = module.evaluate(t)
    except module.InvalidTransaction:
        return "INVALID", frozenset(), ()
    return (
        d.outcome,
        frozenset(r.control_id for r in d.reasons),
        tuple((a.kind, a.control_id) for a in d.actions),
    )


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def check_agreement(
    txs: Sequence[Any], mu: Sequence[Answer], hand: Sequence[Answer], cedar: Sequence[Answer]
) -> None:
    """Abort loudly unless every engine gives the same answer to every transaction."""
    bad = []
    for t, m, h, c in zip(txs, mu, hand, cedar, strict=True):
        if m != h or m[:2] != c[:2]:
            bad.append(f"  {t}\n    mu:    {m}\n    hand:  {h}\n    cedar: {c[:2]}")
    if bad:
        raise SystemExit(
            f"the engines disagree on {len(bad)} of {len(txs)} transactions; first ones:\n"
            + "\n".join(bad[:5])
        )


def best_rates(
    engines: Mapping[str, Callable[[Any], object]], txs: Sequence[Any], repeat: int
) -> dict[str, float]:
    """Decisions per second of each engine: the fastest of its `repeat` passes over `txs`.

    The engines take turns, one pass each per round, so that a slow spell of a
    shared machine falls on all of them alike rather than on whichever ran then.
    """
    best = dict.fromkeys(engines, float("inf"))
    for _ in range(repeat):
        for name, decide in engines.items():
            start = time.perf_counter()
            for t in txs:
                decide(t)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: len(txs) / seconds for name, seconds in best.items()}


def latencies(module: ModuleType, txs: Sequence[Any]) -> tuple[float, float]:
    """p50 and p99 of one mu decision, in microseconds."""
    evaluate, invalid = module.evaluate, module.InvalidTransaction
    samples = []
    clock = time.perf_counter_ns
    for t in txs:
        start = clock()
        with contextlib.suppress(invalid):
            evaluate(t)
        samples.append(clock() - start)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[len(samples) * 99 // 100] / 1000


_WORKER: dict[str, Any] = {}


def _worker_init(package: str, barrier: Any) -> None:
    """Each worker loads the package itself, as a deployed decision service would."""
    from mu.generator.run.enforcers import load_enforcers

    _WORKER["module"] = load_enforcers(Path(package))
    _WORKER["barrier"] = barrier


def _worker_run(bounds: tuple[int, int]) -> tuple[int, int, int]:
    """Decide transactions [start, stop) after all workers are ready: (count, t0, t1) in ns."""
    module = _WORKER["module"]
    txs = [transaction(i) for i in range(*bounds)]
    for t in txs[:200]:  # warm up
        mu_decide(module, t)
    _WORKER["barrier"].wait()
    start = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    for t in txs:
        mu_decide(module, t)
    return len(txs), start, time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def batch_rate(package: Path, transactions: int, jobs: int) -> float:
    """Decisions per second of `jobs` worker processes sharing `transactions` transactions."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter, as a deployed worker
    barrier = ctx.Barrier(jobs)
    step = -(-transactions // jobs)
    chunks = [(n, min(n + step, transactions)) for n in range(0, transactions, step)]
    with ctx.Pool(jobs, _worker_init, (str(package), barrier)) as pool:
        results = pool.map(_worker_run, chunks, chunksize=1)
    count = sum(r[0] for r in results)
    return count / ((max(r[2] for r in results) - min(r[1] for r in results)) / 1e9)


def cli_batch_rate(package: Path, txs: Sequence[Any], jobs: int, tmp: Path) -> float | None:
    """Decisions per second of `mu decide --batch FILE --jobs N`, end to end (process start,
    package load, JSON in and out); None if this mu has no `--batch`."""
    import json
    import subprocess

    cli = [sys.executable, "-m", "mu.cli", "decide"]
    helptext = subprocess.run([*cli, "--help"], capture_output=True, text=True, check=False)
    if "--batch" not in helptext.stdout:
        return None
    lines = tmp / "transactions.jsonl"
    if not lines.exists():
        lines.write_text("".join(json.dumps(t) + "\n" for t in txs), encoding="utf-8")
    args = [*cli, "--batch", str(lines), "--jobs", str(jobs), "--enforcers", str(package)]
    start = time.perf_counter()
    proc = subprocess.run(
        [*args, "--format", "json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: some line was invalid, which is a decision too
        raise SystemExit(f"mu decide --batch failed ({proc.returncode}): {proc.stderr[-2000:]!r}")
    return len(txs) / elapsed


def main() -> None:
    """Build, check agreement, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--controls", type=int, default=1000)
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    try:
        import cedarpy  # noqa: F401
    except ImportError:
        raise SystemExit("cedarpy is missing: pip install -e '.[bench]'") from None

    from mu.generator.compile.pipeline import compile_ontology
    from mu.generator.files import write_tree_atomic
    from mu.generator.run.enforcers import load_enforcers

    with tempfile.TemporaryDirectory() as tmp:
        root = write_repository(Path(tmp), args.controls)
        compiled = compile_ontology(root / "ontology")
        write_tree_atomic(root / "enforcers", compiled.files)
        module = load_enforcers(root / "enforcers")
        ontology = compiled.ontology
        ranks = {a.code: a.rank for a in ontology.authority_levels}
        plans = hand_rules(ontology)
        cedar = CedarEngine(ontology)
        txs = [transaction(i) for i in range(args.transactions)]

        def hand(t: Any) -> Answer:
            return hand_decide(plans, ranks, t)

        mu_answers = [mu_decide(module, t) for t in txs]
        check_agreement(txs, mu_answers, [hand(t) for t in txs], [cedar.decide(t) for t in txs])
        outcomes = Counter(a[0] for a in mu_answers)

        def mu(t: Any) -> object:
            # mu's own answer, the Decision, as a caller gets it; reducing it to
            # the others' shape (`mu_decide`) is for the agreement check only.
            try:
                return module.evaluate(t)
            except module.InvalidTransaction:
                return None

        rates = best_rates({"mu": mu, "cedarpy": cedar.decide, "hand loop": hand}, txs, args.repeat)
        p50, p99 = latencies(module, txs)
        batch = {jobs: batch_rate(root / "enforcers", args.transactions, jobs) for jobs in (1, 2)}
        cli_batch = {
            jobs: cli_batch_rate(root / "enforcers", txs, jobs, Path(tmp)) for jobs in (1, 2)
        }

    print(
        f"{args.controls} controls, {args.transactions} transactions "
        f"({', '.join(f'{k} {v}' for k, v in sorted(outcomes.items()))}); "
        "all three engines agree on every outcome and reason\n"
    )
    print("| engine | decisions/s | ratio vs mu |")
    print("|---|---:|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} | {rate / rates['mu']:.2f} |")
    print()
    print(f"mu / cedarpy = {rates['mu'] / rates['cedarpy']:.1f}x")
    print(f"hand loop / mu = {rates['hand loop'] / rates['mu']:.2f}x")
    print(f"mu latency of one decision: p50 {p50:.1f} us, p99 {p99:.1f} us")
    for jobs, rate in batch.items():
        cores = f"{jobs} core{'s' if jobs > 1 else ''}"
        print(f"mu batch on {cores} (worker processes, decide only): {rate:,.0f} decisions/s")
        cli_rate = cli_batch[jobs]
        if cli_rate is not None:
            print(
                f"mu decide --batch --jobs {jobs} (end to end, JSON Lines in and out): "
                f"{cli_rate:,.0f} decisions/s"
            )


if __name__ == "__main__":
    main()
