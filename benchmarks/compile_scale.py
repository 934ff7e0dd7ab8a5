"""`mu build` at scale, cold and after a one-control edit, per stage; and decision throughput.

    python benchmarks/compile_scale.py [--sizes 1000,10000,50000] [--transactions 100000]

For each size, a synthetic repository (`synthetic.py`) is made a git checkout (so the
build cache has a home in `.git/mu-cache/`) with a signed trust root, set up with mu's
own commands as the tests do (`tests/chain.py`): a root key, a `release` key and one
compliance key, all outside the repository; its `mu.toml` sets `[build] min_coverage = 0`,
since the synthetic golden suite is a single smoke case. Then, each build after a `mu approve`:

1. **cold**: the first signed build, the cache empty;
2. **one edit**: one control's threshold changed in `controls.ttl`, built again with
   the cache the cold build left;
3. **one edit, --no-cache**: another control's threshold changed, built without the
   cache.

Each build runs in a fresh process, as `mu build --sign-key` does (the same library
call, the same JSON rendering), with a `Progress` callback that timestamps each stage
as the build announces it: a stage's time runs until the next stage begins, so work
that overlaps (a gate run beside another) is counted in the stage announced first.
`startup` is the interpreter and imports, `before` the key and trust checks until the
first stage, `finish` everything after the gates (approvals, snapshot, receipt, writing
`enforcers/`; marked by wrapping the build's `run_gates`), `output` the JSON rendering.
Wall time is measured around the whole process. Peak memory is the build
process's own (`RUSAGE_SELF`) and, separately, the determinism gate's second compile's,
sampled from `/proc` (see `ChildPeaks`: `RUSAGE_CHILDREN` would report the parent's).

Finally the 1,000-control package decides `--transactions` transactions.
Not part of the test suite: timings on shared machines are noisy, so nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()  # before mu is imported: `startup` counts the imports
sys.path.insert(0, str(Path(__file__).resolve().parent))

KINDS = (
    ("cold", False, "cold, empty cache"),
    ("edit", False, "one edit, warm cache"),
    ("edit-nocache", True, "one edit, --no-cache"),
)


class ChildPeaks:
    """The peak resident memory of each child of this process, sampled from `/proc`.

    `RUSAGE_CHILDREN` cannot tell: Linux starts a child's `ru_maxrss` at its parent's
    size when it forks, so a small child of a large parent reports the parent's peak.
    `VmHWM` in `/proc/PID/status` is the child's own high-water mark since `exec`."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peaks: dict[int, tuple[str, int]] = {}  # pid -> (command line, KiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ChildPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _children(self) -> set[int]:
        pids: set[int] = set()
        for listing in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
            try:
                pids.update(int(p) for p in listing.read_text().split())
            except (OSError, ValueError):
                continue
        return pids

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in self._children():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue  # it just ended
                found = re.search(r"^VmHWM:\s+(\d+) kB", status, flags=re.MULTILINE)
                if found:
                    kib = max(int(found[1]), self.peaks.get(pid, ("", 0))[1])
                    self.peaks[pid] = (command.decode(errors="replace"), kib)

    def peak_mib(self, marker: str) -> float:
        """The largest peak among children whose command line holds `marker` (MiB)."""
        return max((k for c, k in self.peaks.values() if marker in c), default=0) / 1024


def child_build(root: Path, key: Path, no_cache: bool) -> dict[str, Any]:
    """One signed build as `mu build --sign-key KEY --format json` runs it; its timings."""
    from mu.generator.build import build as build_module
    from mu.generator.build.build import build
    from mu.generator.cache import Cache
    from mu.generator.layout import Layout
    from mu.generator.progress import Step
    from mu.generator.provenance.identity import this_generator
    from mu.generator.provenance.signing import resolve_signer
    from mu.generator.reports import tables

    marks: list[tuple[str, float]] = [("startup", STARTED)]

    def stamp(step: Step, /) -> None:
        if step.stage != marks[-1][0]:
            marks.append((step.stage, time.perf_counter()))

    run_gates = build_module.run_gates

    def timed_gates(*args: Any, **kwargs: Any) -> Any:
        # The gates return before the build signs and writes: mark where that begins.
        try:
            return run_gates(*args, **kwargs)
        finally:
            marks.append(("finish", time.perf_counter()))

    build_module.run_gates = timed_gates  # type: ignore[assignment]
    layout = Layout(root)
    marks.append(("before", time.perf_counter()))
    signer = resolve_signer(layout, key)
    generator = this_generator().source_sha256
    cache = (
        Cache.disabled() if no_cache else Cache.for_repository(layout.root, generator=generator)
    )
    with cache, ChildPeaks() as children:
        result = build(layout, signer, progress=stamp, cache=cache)
        stats = cache.stats()
    marks.append(("output", time.perf_counter()))
    rendered = tables.BUILD["json"](result)
    end = time.perf_counter()
    stages: dict[str, float] = {}
    for (name, start), (_, stop) in zip(marks, [*marks[1:], ("end", end)], strict=True):
        stages[name] = stages.get(name, 0.0) + stop - start
    return {
        "ok": result.ok,
        "gates": {g.name: f"{g.status}: {g.detail}" for g in result.gates},
        "stages": stages,
        "inside": end - STARTED,
        "rss_build_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # The determinism gate's second compile, the one child a build runs.
        "rss_children_mib": children.peak_mib("mu.generator.compile.regen"),
        "cache": {"hits": stats.hits, "misses": stats.misses, "written": stats.written},
        "output_bytes": len(rendered),
    }


@dataclass(frozen=True)
class Repository:
    """A synthetic policy repository with its signed trust root, keys kept outside it."""

    root: Path
    release: Path
    compliance: Path


def _env(work: Path) -> dict[str, str]:
    # mu's own configuration (the development key) stays in the scratch directory.
    return {**os.environ, "XDG_CONFIG_HOME": str(work / "xdg")}


def run(*args: str, cwd: Path, work: Path) -> float:
    """Run a command to completion; seconds taken. Fails loudly with its output."""
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=_env(work), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return time.perf_counter() - start


def mu(*args: str, root: Path, work: Path) -> float:
    """`mu ARGS` in a new process, as a user runs it; seconds taken."""
    return run(sys.executable, "-m", "mu.cli", *args, cwd=root, work=work)


def set_up(work: Path, controls: int) -> Repository:
    """`work/repo`: the synthetic repository, a git checkout with a signed trust root
    (root, release-bot, one compliance approver); `work/keys`: their private keys."""
    from synthetic import write_repository

    root = write_repository(work / "repo", controls)
    # The synthetic golden suite is one smoke case: the coverage gate measures, never fails.
    (root / "mu.toml").write_text("[build]\nmin_coverage = 0\n", encoding="utf-8")
    run("git", "init", "-q", str(root), cwd=work, work=work)
    keys = work / "keys"
    for name in ("root", "release", "alice"):
        mu("keygen", "--out", str(keys / f"{name}.pem"), root=root, work=work)
    trust = ("trust", "init", "--root-key", str(keys / "root.pem"), "--repository", "bench/x")
    mu(*trust, root=root, work=work)
    for name, role in (("release", "release"), ("alice", "compliance")):
        mu("trust", "add", str(keys / f"{name}.pem.pub"), "--role", role, root=root, work=work)
    mu("trust", "sign", "--key", str(keys / "root.pem"), root=root, work=work)
    return Repository(root, keys / "release.pem", keys / "alice.pem")


def edit_threshold(root: Path, controls: int, nth: int) -> str:
    """Raise one approval rule's threshold by 1,000.00 (a different rule for each `nth`);
    the id of the control changed."""
    path = root / "ontology" / "controls" / "controls.ttl"
    text = path.read_text(encoding="utf-8")
    index = (controls // 2 // 25 + nth) * 25 % controls  # kind 0: an approval rule
    cid = f"c{index:05d}"
    pattern = re.compile(
        rf'(ex:{cid} mu:controlId[^\n]*\n[^\n]*mu:amountThreshold ")(\d+)(\.00")'
    )
    edited, count = pattern.subn(lambda m: f"{m[1]}{int(m[2]) + 1000}{m[3]}", text)
    if count != 1:
        raise SystemExit(f"control {cid} has no threshold to edit")
    path.write_text(edited, encoding="utf-8")
    return cid


def measure_build(repo: Repository, no_cache: bool, work: Path) -> dict[str, Any]:
    """Approve today's ontology, then one build in a fresh process; its figures."""
    approve = mu("approve", "--key", str(repo.compliance), root=repo.root, work=work)
    command = [sys.executable, __file__, "--child-build", str(repo.root), str(repo.release)]
    start = time.perf_counter()
    proc = subprocess.run(
        [*command, *(["--no-cache"] if no_cache else [])],
        env=_env(work),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the build failed:\n{proc.stdout}\n{proc.stderr}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not figures["ok"]:
        raise SystemExit(f"a gate failed: {figures['gates']}")
    return {**figures, "wall": wall, "approve": approve}


def measure_size(controls: int, keep: Path | None) -> list[dict[str, Any]]:
    """Cold, one-edit and one-edit --no-cache builds of one size."""
    with tempfile.TemporaryDirectory(prefix="mu-bench-", dir=keep) as tmp:
        work = Path(tmp)
        repo = set_up(work, controls)
        rows = []
        for nth, (kind, no_cache, _) in enumerate(KINDS):
            if nth:
                edit_threshold(repo.root, controls, nth)
            rows.append({"controls": controls, "kind": kind, **measure_build(repo, no_cache, work)})
    return rows


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


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table: one line per build, a column per stage (in the order seen)."""
    stages: list[str] = []
    for row in rows:
        stages += [s for s in row["stages"] if s not in stages]
    head = ["controls", "build", "wall s", *stages, "% of cold", "peak RSS MiB (build)",
            "peak RSS MiB (determinism child)", "cache hits/misses/written", "mu approve s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    cold: dict[int, float] = {}
    for row in rows:
        label = next(text for kind, _, text in KINDS if kind == row["kind"])
        if row["kind"] == "cold":
            cold[row["controls"]] = row["wall"]
        share = 100 * row["wall"] / cold[row["controls"]]
        cache = row["cache"]
        cells = [
            str(row["controls"]), label, f"{row['wall']:.2f}",
            *(f"{row['stages'].get(s, 0.0):.2f}" for s in stages),
            f"{share:.0f}%", f"{row['rss_build_mib']:.0f}", f"{row['rss_children_mib']:.0f}",
            f"{cache['hits']}/{cache['misses']}/{cache['written']}", f"{row['approve']:.2f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the tables (and, with --json, every figure)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--transactions", type=int, default=100_000, help="0: skip")
    parser.add_argument("--throughput-controls", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, help="Where scratch repositories go.")
    parser.add_argument("--json", type=Path, help="Also write every figure here.")
    parser.add_argument("--child-build", nargs=2, metavar=("ROOT", "KEY"), help=argparse.SUPPRESS)
    parser.add_argument("--child-throughput", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_build:
        root, key = args.child_build
        print(json.dumps(child_build(Path(root), Path(key), args.no_cache)))
        return
    if args.child_throughput:
        print(json.dumps(measure_throughput(*args.child_throughput)))
        return
    rows: list[dict[str, Any]] = []
    for size in [int(s) for s in args.sizes.split(",")]:
        rows += measure_size(size, args.workdir)
        print(f"{size} controls measured", file=sys.stderr, flush=True)
    print(table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    if args.transactions:
        command = [sys.executable, __file__, "--child-throughput"]
        sizes = [str(args.throughput_controls), str(args.transactions)]
        proc = subprocess.run([*command, *sizes], capture_output=True, text=True, check=True)
        tp = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"decision throughput: {tp['decisions_per_second']:.0f} decisions/s "
            f"({int(tp['transactions'])} transactions against {args.throughput_controls} "
            f"controls, {tp['seconds']:.2f} s); outcomes "
            + ", ".join(f"{k[8:]}={int(v)}" for k, v in tp.items() if k.startswith("outcome_"))
        )


if __name__ == "__main__":
    main()
