"""All or nothing, including the receipt: a failing, terminated or killed build never
leaves `enforcers/` newer than the receipt chain, nor temporary debris."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mu.generator.build import build as build_module
from mu.generator.files import read_tree
from mu.generator.hashing import tree_digest
from tests.chain import Built, Mu, approve, change_threshold, receipts
from tests.conftest import REPO

OLD = '"vendor payments over 1,000,000.00 USD need the CFO"'
NEW = '"vendor payments over 1,000,000.00 USD need the chief financial officer"'

# Runs `mu` in a fresh process with a fault injected at one point of the write.
CHILD = """
import os, signal, sys
from mu.generator.build import build
from mu.generator import files as writer
point, how = sys.argv[1], sys.argv[2]
def fault(*_):
    os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGTERM)
gates = build.run_gates
def armed(*args, **kwargs):
    # Only after the gates: their scratch writes are not the write under test.
    run = gates(*args, **kwargs)
    setattr(writer, point, fault)
    return run
build.run_gates = armed
sys.argv = ["mu", *sys.argv[3:]]
from mu.cli import main
main()
"""


def recorded_trees(root: Path) -> list[str]:
    """The enforcer tree digest each receipt of the chain records, oldest first."""
    out = []
    for path in receipts(root):
        envelope = json.loads(path.read_bytes())
        statement = json.loads(base64.b64decode(envelope["payload"]))
        out.append(statement["predicate"]["enforcers"]["sha256"])
    return out


def debris(root: Path) -> list[str]:
    names = [p.name for p in root.iterdir() if p.name.startswith(".enforcers.")]
    names += [p.name for p in (root / "receipts").rglob(".*") if p.is_file()]
    return sorted(names)


def test_a_build_that_cannot_write_its_receipt_leaves_enforcers_alone(
    mu: Mu, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = read_tree(built.root / "enforcers")
    change_threshold(built.root, OLD, NEW)
    approve(mu, built)

    def refuse(*_: object) -> Path:
        raise PermissionError(13, "Permission denied", str(built.root / "receipts"))

    monkeypatch.setattr(build_module, "store_receipt", refuse)
    run = mu("build", "--sign-key", str(built.key), root=built.root)
    assert run.code == 2 and "cannot write the receipt" in run.err, run.err
    assert "Traceback" not in run.out + run.err
    assert read_tree(built.root / "enforcers") == before
    assert len(receipts(built.root)) == 1 and debris(built.root) == []


def run_child(root: Path, key: Path, point: str, how: str) -> int:
    argv = [sys.executable, "-c", CHILD, point, how, "--root", str(root), "build"]
    proc = subprocess.run(
        [*argv, "--sign-key", str(key)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return proc.returncode


@pytest.mark.slow
@pytest.mark.parametrize("point", ["_after_file", "_before_commit"])
def test_a_killed_build_never_leaves_enforcers_newer_than_the_chain(
    mu: Mu, built: Built, point: str
) -> None:
    change_threshold(built.root, OLD, NEW)
    approve(mu, built)
    code = run_child(built.root, built.key, point, "kill")
    assert code == -signal.SIGKILL
    on_disk = tree_digest(read_tree(built.root / "enforcers"))
    chain = recorded_trees(built.root)
    assert on_disk == chain[0], "enforcers/ moved although the build died"
    # The next build repairs whatever the killed one left: debris, and a receipt ahead.
    again = mu("build", "--sign-key", str(built.key), "--format", "json", root=built.root)
    assert again.code == 0, again.out + again.err
    assert debris(built.root) == []
    chain = recorded_trees(built.root)
    assert len(chain) == 2 and tree_digest(read_tree(built.root / "enforcers")) == chain[-1]


@pytest.mark.slow
def test_a_terminated_build_cleans_up_and_records_nothing(mu: Mu, built: Built) -> None:
    before = read_tree(built.root / "enforcers")
    change_threshold(built.root, OLD, NEW)
    approve(mu, built)
    code = run_child(built.root, built.key, "_before_commit", "term")
    assert code == 128 + signal.SIGTERM
    assert read_tree(built.root / "enforcers") == before
    assert len(receipts(built.root)) == 1 and debris(built.root) == []
