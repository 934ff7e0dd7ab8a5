"""`mu decide --batch` throughput and peak memory, with one worker and with two.

    python benchmarks/batch.py [--controls 100] [--lines 10000,100000] [--jobs 1,2] [--repeat 1]

Builds the synthetic repository (`synthetic.write_repository`), compiles it
with `mu generate`, writes JSON Lines files of `synthetic.transaction(i)`, and
runs `mu decide --batch FILE --format json` as a user runs it (a fresh `mu`
process, its output thrown away). Not part of the test suite: nothing here
asserts a time.

Peak RSS is `getrusage(RUSAGE_CHILDREN).ru_maxrss` of a small wrapper process
that runs `mu` and waits for it: the largest resident set of any single process
of the run (the `mu` parent or one worker), not their sum. Memory is bounded
when that figure does not grow with the number of lines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parent.parent
# Runs `mu` with the given arguments in a child and prints its wall time, exit
# code, the peak RSS (KiB) of any single process it waited for and the CPU
# seconds of all of them. A wrapper of its own per run, so one run's figures
# never show in another's.
WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": elapsed, "code": proc.returncode, "peak_kib": usage.ru_maxrss,
                  "cpu": usage.ru_utime + usage.ru_stime,
                  "stderr": proc.stderr.decode("utf-8", "replace")}))
"""


def mu(*args: str, cwd: Path) -> str:
    """Run `mu` in a new process; its stdout, or stop the benchmark if it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "mu.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
    )
    if proc.returncode != 0:
        raise SystemExit(f"mu {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def write_batch(path: Path, lines: int) -> int:
    """Write `lines` synthetic transactions as JSON Lines; the file's size in bytes."""
    from synthetic import transaction

    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            out.write(json.dumps(transaction(i), separators=(",", ":")) + "\n")
    return path.stat().st_size


def run_batch(path: Path, jobs: int, cwd: Path) -> dict[str, object]:
    """One `mu decide --batch` run: seconds, exit code, peak RSS (KiB), the summary."""
    argv = [sys.executable, "-m", "mu.cli", "decide", "--batch", str(path)]
    argv += ["--jobs", str(jobs), "--format", "json"]
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    )
    result: dict[str, object] = json.loads(proc.stdout)
    if result["code"] not in (0, 1):
        raise SystemExit(f"mu decide --batch failed:\n{result['stderr']}")
    return result


def main() -> None:
    """Print throughput and peak RSS per batch size and number of workers."""
    from synthetic import write_repository

    parser = argparse.ArgumentParser()
    parser.add_argument("--controls", type=int, default=100)
    parser.add_argument("--lines", default="10000,100000", help="Batch sizes, comma-separated.")
    parser.add_argument("--jobs", default="1,2", help="Worker counts, comma-separated.")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="Runs per figure, interleaved; the fastest counts (as timeit's best of N: on a "
        "shared machine the others' load only ever adds time), the highest peak RSS.",
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.lines.split(",")]
    jobs_list = [int(j) for j in args.jobs.split(",")]
    rows = []
    load_before = os.getloadavg()[0]  # the figures only mean something on an idle machine
    with tempfile.TemporaryDirectory() as tmp:
        root = write_repository(Path(tmp) / "repo", args.controls)
        mu("generate", cwd=root)
        for lines in sizes:
            path = Path(tmp) / f"batch-{lines}.jsonl"
            size = write_batch(path, lines)
            runs: dict[int, list[dict[str, object]]] = {jobs: [] for jobs in jobs_list}
            for _ in range(args.repeat):
                for jobs in jobs_list:
                    runs[jobs].append(run_batch(path, jobs, root))
            for jobs in jobs_list:
                best = min(runs[jobs], key=lambda r: float(str(r["seconds"])))
                best["peak_kib"] = max(int(str(r["peak_kib"])) for r in runs[jobs])
                summary = str(best["stderr"]).splitlines()[0]
                rows.append((lines, size, jobs, best, summary))
    print(
        f"{args.controls} controls; {os.cpu_count()} CPUs, load average before and after "
        f"{load_before:.2f} / {os.getloadavg()[0]:.2f}; Python {sys.version.split()[0]}"
    )
    print(
        "| lines | file MiB | jobs | seconds | decisions/s | CPU s (all processes) "
        "| peak RSS MiB (largest process) |"
    )
    print("|---|---|---|---|---|---|---|")
    for lines, size, jobs, result, _ in rows:
        seconds = float(str(result["seconds"]))
        peak = int(str(result["peak_kib"])) / 1024
        cpu = float(str(result["cpu"]))
        print(
            f"| {lines:,} | {size / 2**20:.1f} | {jobs} | {seconds:.2f} | "
            f"{lines / seconds:,.0f} | {cpu:.2f} | {peak:.1f} |"
        )
    print()
    for lines, _, jobs, _, summary in rows:
        print(f"{lines:,} lines, --jobs {jobs}: {summary}")


if __name__ == "__main__":
    main()
