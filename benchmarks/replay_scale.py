"""`mu build` against `mu replay` on the 1,000-control synthetic repository.

    python benchmarks/replay_scale.py [--controls 1000]

Both run as a user runs them (a fresh `mu` process each), signed with a key
made for the run. Not part of the test suite: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def mu(*args: str, cwd: Path) -> tuple[float, str]:
    """Run `mu` in a new process; seconds taken and stdout."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mu.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"mu {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def main() -> None:
    """Print build and replay times."""
    from synthetic import write_repository

    parser = argparse.ArgumentParser()
    parser.add_argument("--controls", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_repository(Path(tmp) / "repo", args.controls)
        key = Path(tmp) / "keys" / "release.pem"
        mu("keygen", "--out", str(key), cwd=root)
        mu("trust", "add", f"{key}.pub", "--role", "release", cwd=root)
        build_s, out = mu("build", "--sign-key", str(key), "--format", "json", cwd=root)
        receipt = json.loads(out)["receipt"]
        replay_s, _ = mu("replay", "--receipt", receipt, cwd=root)
        verify_s, _ = mu("verify-receipt", receipt, cwd=root)
    print("| controls | mu build s | mu replay s | mu verify-receipt s |")
    print("|---|---|---|---|")
    print(f"| {args.controls} | {build_s:.2f} | {replay_s:.2f} | {verify_s:.2f} |")


if __name__ == "__main__":
    main()
