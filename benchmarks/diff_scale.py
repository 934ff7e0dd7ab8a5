"""`mu diff` on the 1,000-control synthetic repository, one control edited: old against new.

    python benchmarks/diff_scale.py [--controls 1000] [--shapes 0] [--old-ref ba15280]
                                    [--repeat 3]

OLD is `generator/review/diff.py` as committed at --old-ref (rdflib's
canonicaliser per shape, deepdiff, packages written to disk with an fsync
per file and imported from there), NEW the one in this checkout (pyoxigraph
RDFC-1.0, a direct comparison, packages imported from memory). Each run is
a fresh process running the whole `mu diff` command as a user does, with
OLD's module put in place of NEW's before `mu.cli` is imported; the best of
--repeat runs is reported, as wall and CPU seconds, with the ratio old / new
and whether the two printed the same bytes.

--shapes N adds N organisation shapes to both sides (they target nothing,
so validation stays cheap): Σ is where the two canonicalisers differ most.
Not part of the test suite: timings on shared machines are noisy, so
nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

# The last commit whose `mu diff` canonicalised with rdflib.
DEFAULT_OLD_REF = "ba15280"
DIFF_MODULE = "mu.generator.review.diff"
SHAPES_HEADER = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix mu: <urn:mu:v1#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <https://bench.example/shapes#> .
"""


def shapes_ttl(count: int) -> str:
    """`count` node shapes with blank-node property shapes and an `sh:or` list each."""
    out = [SHAPES_HEADER]
    for i in range(count):
        out.append(
            f"ex:S{i:04d} a sh:NodeShape ; sh:targetSubjectsOf ex:unused{i} ;\n"
            f'  sh:property [ sh:path mu:owner ; sh:minCount 1 ; sh:datatype xsd:string ; '
            f'sh:message "shape {i} needs an owner" ] ,\n'
            f'  [ sh:path mu:controlId ; sh:pattern "^c[0-9]+$" ] ;\n'
            "  sh:or ( [ sh:path mu:when ; sh:minCount 1 ] "
            "[ sh:path mu:dependsOn ; sh:minCount 1 ] ) .\n"
        )
    return "".join(out)


def write_sides(root: Path, controls: int, shapes: int) -> tuple[Path, Path]:
    """Two repositories, equal but for the owner of one control in the second."""
    from synthetic import write_repository

    old, new = write_repository(root / "old", controls), write_repository(root / "new", controls)
    for side in (old, new):
        if shapes:
            path = side / "ontology" / "shapes" / "bench.ttl"
            path.write_text(shapes_ttl(shapes), encoding="utf-8")
    path = new / "ontology" / "controls" / "controls.ttl"
    text = path.read_text(encoding="utf-8")
    before = 'mu:controlId "c00010" ; rdfs:label "control 10" ; mu:owner "team-3"'
    edited = text.replace(before, before.replace('"team-3"', '"team-99"'))
    assert edited.count('"team-99"') == 1, "the synthetic repository changed: edit another line"
    path.write_text(edited, encoding="utf-8")
    return old, new


def _install_old(ref: str) -> None:
    """Put `generator/review/diff.py` as committed at `ref` in place of this checkout's."""
    proc = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{ref}:generator/review/diff.py"],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"cannot read the old diff at `{ref}`: {proc.stderr.decode().strip()}")
    module = types.ModuleType(DIFF_MODULE)
    module.__file__ = f"{ref}:generator/review/diff.py"
    # Registered first: dataclasses look their module up while the classes are made.
    sys.modules[DIFF_MODULE] = module
    exec(compile(proc.stdout, module.__file__, "exec"), module.__dict__)


def child(impl: str, ref: str, argv: list[str]) -> None:
    """Run `mu ARGV` in this process with the OLD or NEW diff; report to stderr as JSON."""
    start = time.perf_counter()
    if impl == "old":
        _install_old(ref)
    from mu.cli import main

    sys.argv = ["mu", *argv]
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "code": code,
        "inner_s": time.perf_counter() - start,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }
    sys.stdout.flush()
    print(json.dumps(report), file=sys.stderr)


def run(impl: str, ref: str, old: Path, new: Path) -> dict[str, float | str]:
    """One `mu diff` in a fresh process; wall and CPU seconds and the digest of its output."""
    argv = ["--root", str(old), "diff", str(old / "ontology"), str(new / "ontology")]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", impl, "--old-ref", ref, "--", *argv],
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - start
    last = proc.stderr.decode().strip().splitlines()[-1:] or ["{}"]
    report = json.loads(last[0])
    if proc.returncode != 0 or report.get("code") != 0:
        raise SystemExit(f"{impl} `mu diff` failed:\n{proc.stdout.decode()}{proc.stderr.decode()}")
    return {
        "wall_s": wall,
        "cpu_s": float(report["cpu_s"]),
        "output": hashlib.sha256(proc.stdout).hexdigest(),
    }


def main() -> None:
    """Print old and new `mu diff` times side by side."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--controls", type=int, default=1000)
    parser.add_argument("--shapes", type=int, default=0)
    parser.add_argument("--old-ref", default=DEFAULT_OLD_REF)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=("old", "new"))
    parser.add_argument("argv", nargs="*")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.old_ref, args.argv)
        return
    with tempfile.TemporaryDirectory() as tmp:
        old, new = write_sides(Path(tmp), args.controls, args.shapes)
        best: dict[str, dict[str, float | str]] = {}
        for _ in range(args.repeat):
            for impl in ("old", "new"):  # interleaved, so load on the machine hits both
                result = run(impl, args.old_ref, old, new)
                if impl not in best or float(result["wall_s"]) < float(best[impl]["wall_s"]):
                    best[impl] = result
    o, n = best["old"], best["new"]
    print(
        f"mu diff, {args.controls} controls, {args.shapes} shapes, one control edited "
        f"(best of {args.repeat}; old = {args.old_ref})"
    )
    print("| | old | new | old / new |")
    print("|---|---|---|---|")
    for key, label in (("wall_s", "wall s"), ("cpu_s", "CPU s")):
        a, b = float(o[key]), float(n[key])
        print(f"| {label} | {a:.2f} | {b:.2f} | {a / b:.1f}x |")
    print(f"same output: {'yes' if o['output'] == n['output'] else 'NO'}")


if __name__ == "__main__":
    main()
