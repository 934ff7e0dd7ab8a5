"""Compile-time scaling and decision throughput of mu.

    python benchmarks/compile_scale.py [--sizes 100,1000,10000] [--transactions 100000]

For each size, a fresh process compiles a synthetic repository and reports the
time of each pipeline stage and its peak RSS; then the 1,000-control package
decides on --transactions transactions. Not part of the test suite: timings
on shared machines are noisy, so nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

COLUMNS = ("load", "validate", "extract", "conditions", "lower", "render", "digest", "write")


def measure_compile(controls: int) -> dict[str, float]:
    """Run every stage once in this process; seconds per stage and peak RSS (MiB)."""
    from synthetic import write_repository

    from mu.generator.compile.pipeline import STAGES, Unit
    from mu.generator.files import write_tree_atomic

    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = write_repository(Path(tmp), controls)
        unit = Unit(root / "ontology")
        for stage in STAGES:  # the compiler's own list, timed one by one
            start = time.perf_counter()
            unit = stage.run(unit)
            times[stage.name] = time.perf_counter() - start
            if stage.name == "conditions":
                assert unit.conforms, unit.report.violations[:3] if unit.report else None
        assert unit.files is not None
        start = time.perf_counter()
        write_tree_atomic(root / "enforcers", unit.files)
        times["write"] = time.perf_counter() - start
    times["total"] = sum(times.values())
    times["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return times


def measure_throughput(controls: int, transactions: int) -> dict[str, float]:
    """Decisions per second of the generated package over `transactions` transactions."""
    from synthetic import transaction, write_repository

    from mu.generator.compile.pipeline import compile_ontology
    from mu.generator.files import write_tree_atomic
    from mu.generator.run.enforcers import load_enforcers

    with tempfile.TemporaryDirectory() as tmp:
        root = write_repository(Path(tmp), controls)
        compiled = compile_ontology(root / "ontology")
        write_tree_atomic(root / "enforcers", compiled.files)
        module = load_enforcers(root / "enforcers")
        txs = [transaction(i) for i in range(transactions)]
        outcomes: dict[str, int] = {}
        start = time.perf_counter()
        for tx in txs:
            try:
                outcome = module.evaluate(tx).outcome
            except module.InvalidTransaction:
                outcome = "INVALID"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        elapsed = time.perf_counter() - start
    return {
        "transactions": transactions,
        "seconds": elapsed,
        "decisions_per_second": transactions / elapsed,
        **{f"outcome_{k}": v for k, v in sorted(outcomes.items())},
    }


def in_subprocess(kind: str, *args: int) -> dict[str, float]:
    """Run one measurement in a fresh interpreter so peak RSS is its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--throughput-controls", type=int, default=1000)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        fn = measure_compile if kind == "compile" else measure_throughput
        print(json.dumps(fn(*map(int, rest))))  # type: ignore[operator]
        return
    header = "| controls | " + " | ".join(COLUMNS) + " | total s | peak RSS MiB |"
    print(header)
    print("|" + "---|" * (len(COLUMNS) + 3))
    for size in [int(s) for s in args.sizes.split(",")]:
        t = in_subprocess("compile", size)
        cells = " | ".join(f"{t[s]:.2f}" for s in COLUMNS)
        print(f"| {size} | {cells} | {t['total']:.2f} | {t['peak_rss_mib']:.0f} |", flush=True)
    tp = in_subprocess("throughput", args.throughput_controls, args.transactions)
    print()
    print(
        f"decision throughput: {tp['decisions_per_second']:.0f} decisions/s "
        f"({int(tp['transactions'])} transactions against {args.throughput_controls} controls, "
        f"{tp['seconds']:.2f} s); outcomes "
        + ", ".join(f"{k[8:]}={int(v)}" for k, v in tp.items() if k.startswith("outcome_"))
    )


if __name__ == "__main__":
    main()
