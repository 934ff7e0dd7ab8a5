"""Helpers for tests that build signed receipt chains.

Building a receipt runs `mu build`, whose determinism gate recompiles everything in a
child process: seconds per build. So the chains most tests start from are built once
per session (`ChainTemplates`) and copied per test (`signed`, `built`, `built_two`,
`built_three`): a copy of a small repository takes milliseconds. A test that must
watch a build happen still calls `build` itself."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mu.generator.compile import render
from tests.conftest import REPO, Run, copy_repo, run_mu

Mu = Callable[..., Run]


REPOSITORY_ID = "acme/payments-policy"


@dataclass(frozen=True)
class Signed:
    """A policy repository with a signed trust root; every key lives outside it.

    `root_key` is the root identity `root`; `key`/`pub` the release key of
    `release-bot`; `compliance` the keys of `alice` and `bob`. The policy asks
    one compliance approval per change.
    """

    root: Path
    key: Path
    pub: Path
    root_key: Path
    compliance: tuple[Path, ...]


@dataclass(frozen=True)
class Built(Signed):
    """`Signed` after builds: its receipts oldest first; `enforcers/` is the last one's."""

    receipts: tuple[Path, ...]

    @property
    def receipt(self) -> Path:
        """The newest receipt."""
        return self.receipts[-1]


def approve(mu: Mu, s: Signed, *keys: Path) -> None:
    """Compliance approves today's ontology (with alice's key unless others are given)."""
    for key in keys or s.compliance[:1]:
        run = mu("approve", "--key", str(key), root=s.root)
        assert run.code == 0, run.out + run.err


def build(mu: Mu, s: Signed) -> Path:
    """Approve (alice), then `mu build` with the release key; the new receipt."""
    approve(mu, s)
    run = mu("build", "--sign-key", str(s.key), "--format", "json", root=s.root)
    assert run.code == 0, run.out + run.err
    return Path(json.loads(run.out)["receipt"])


def receipts(root: Path) -> list[Path]:
    return sorted((root / "receipts").glob("[0-9][0-9][0-9][0-9]-*.json"))


def change_threshold(root: Path, old: str, new: str) -> None:
    approvals = root / "ontology" / "controls" / "approvals.ttl"
    text = approvals.read_text(encoding="utf-8")
    assert old in text
    approvals.write_text(text.replace(old, new, 1), encoding="utf-8")


def relabel_cfo_rule(root: Path) -> None:
    """The second link of the chain: `approval_over_1m` gets a new label."""
    change_threshold(
        root,
        '"vendor payments over 1,000,000.00 USD need the CFO"',
        '"vendor payments over 1,000,000.00 USD need the chief financial officer"',
    )


def add_notify_cfo_rule(root: Path) -> None:
    """The third link of the chain: a control `notify_cfo_on_review` is added."""
    (root / "ontology" / "controls" / "extra.ttl").write_text(
        "@prefix ex: <https://acme.example/policy#> .\n@prefix mu: <urn:mu:v1#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        'ex:NotifyCfo a mu:NotificationRule ; mu:controlId "notify_cfo_on_review" ;\n'
        '  rdfs:label "tell the CFO about reviews" ; mu:owner "finance-leadership" ;\n'
        '  mu:appliesTo ex:WireTransfer ; mu:recipient "cfo@acme.example" ;\n'
        "  mu:onOutcome mu:Review .\n",
        encoding="utf-8",
    )


def _unchanged(root: Path) -> None:
    """The first link of the chain: the shipped ontology as it is."""


# What changes before each build of the standard chain of three.
CHAIN_CHANGES: tuple[Callable[[Path], None], ...] = (
    _unchanged,
    relabel_cfo_rule,
    add_notify_cfo_rule,
)


def three_builds(mu: Mu, s: Signed) -> list[Path]:
    paths = []
    for change in CHAIN_CHANGES:
        change(s.root)
        paths.append(build(mu, s))
    return paths


def ok(run: Run) -> Run:
    assert run.code == 0, run.out + run.err
    return run


def new_signed(base: Path, mu: Mu) -> Signed:
    """`base/repo`: the shipped example with trust root version 2 (root, release-bot,
    alice and bob); `base/keys/`: their private keys."""
    root = copy_repo(base / "repo")
    keys = base / "keys"
    keys.mkdir()
    for name in ("root", "release", "alice", "bob"):
        ok(mu("keygen", "--out", str(keys / f"{name}.pem"), root=root))
    ok(mu("trust", "init", "--root-key", str(keys / "root.pem"), "--repository",
          REPOSITORY_ID, root=root))
    for name, role, identity in (
        ("release", "release", "release-bot"),
        ("alice", "compliance", "alice"),
        ("bob", "compliance", "bob"),
    ):
        ok(mu("trust", "add", str(keys / f"{name}.pem.pub"), "--role", role,
              "--identity", identity, root=root))
    ok(mu("trust", "sign", "--key", str(keys / "root.pem"), root=root))
    return _signed_at(base)


def _signed_at(base: Path) -> Built:
    root, keys = base / "repo", base / "keys"
    return Built(
        root,
        keys / "release.pem",
        keys / "release.pem.pub",
        keys / "root.pem",
        (keys / "alice.pem", keys / "bob.pem"),
        tuple(receipts(root)),
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`, between processes (pytest-xdist workers) too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ChainTemplates:
    """Signed chains built at most once per test run, each test getting its own copy.

    Stage 0 is a fresh `signed` repository; stage n holds the first n receipts of
    `three_builds`. A stage is built on first use, from a copy of the stage below, under
    a file lock in the run's shared temporary directory, so all pytest-xdist workers use
    the same templates. Templates are never changed once made; tests get copies."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def copy(self, stage: int, dest: Path) -> Built:
        """`dest/repo` and `dest/keys`: a private copy of `stage` (the key stays 0600)."""
        with _locked(self.directory / "lock"):
            source = self._ensure(stage)
        for name in ("repo", "keys"):
            shutil.copytree(source / name, dest / name, symlinks=True)
        copied = _signed_at(dest)
        assert len(copied.receipts) == stage
        return copied

    def _ensure(self, stage: int) -> Path:
        here = self.directory / f"stage{stage}"
        if (here / "done").exists():
            return here
        shutil.rmtree(here, ignore_errors=True)  # left half-made by a worker that died
        here.mkdir(parents=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("XDG_CONFIG_HOME", str(self.directory / "xdg"))
            if stage == 0:
                new_signed(here, run_mu)
            else:
                below = self._ensure(stage - 1)
                for name in ("repo", "keys"):
                    shutil.copytree(below / name, here / name, symlinks=True)
                signed = _signed_at(here)
                CHAIN_CHANGES[stage - 1](signed.root)
                build(run_mu, signed)
        (here / "done").touch()
        return here


@pytest.fixture(scope="session")
def chain_templates(tmp_path_factory: pytest.TempPathFactory) -> ChainTemplates:
    """The session's signed chains, shared by the pytest-xdist workers of one run."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # each worker's basetemp is a folder of the run's basetemp
    return ChainTemplates(base / "signed-chains")


@pytest.fixture
def signed(tmp_path: Path, chain_templates: ChainTemplates) -> Signed:
    """A scratch repository (tmp_path/repo) with a signed trust root and its keys
    outside it (tmp_path/keys/: root, release, alice, bob); no receipt yet."""
    made = chain_templates.copy(0, tmp_path)
    return Signed(made.root, made.key, made.pub, made.root_key, made.compliance)


@pytest.fixture
def built(tmp_path: Path, chain_templates: ChainTemplates) -> Built:
    """`signed` after one build of the shipped example: receipt 0001, `enforcers/` from it."""
    return chain_templates.copy(1, tmp_path)


@pytest.fixture
def built_two(tmp_path: Path, chain_templates: ChainTemplates) -> Built:
    """`built` after `relabel_cfo_rule` and a second build: receipts 0001 and 0002."""
    return chain_templates.copy(2, tmp_path)


@pytest.fixture
def built_three(tmp_path: Path, chain_templates: ChainTemplates) -> Built:
    """The chain `three_builds` makes: receipts 0001, 0002 and 0003."""
    return chain_templates.copy(3, tmp_path)


STRICT = "over = bisect_left(group.thresholds, amount)"
# Counting the thresholds below a hair above the amount counts one equal to it too.
MUTANT = 'over = bisect_left(group.thresholds, amount + Decimal("0.000001"))'


@pytest.fixture
def mutant_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This generator, except that approval rules fire at exactly the threshold."""
    runtime_dir = tmp_path / "runtime"
    shutil.copytree(render.RUNTIME_DIR, runtime_dir, ignore=shutil.ignore_patterns("__pycache__"))
    decision = runtime_dir / "engine.py"
    text = decision.read_text(encoding="utf-8")
    assert STRICT in text
    decision.write_text(text.replace(STRICT, MUTANT), encoding="utf-8")
    monkeypatch.setattr(render, "RUNTIME_DIR", runtime_dir)
    render._assembled_runtime.cache_clear()
    yield
    render._assembled_runtime.cache_clear()


@pytest.fixture
def mutant_install(tmp_path: Path) -> dict[str, str]:
    """A real, defective mu on disk: a copy of the tool whose approval rules fire at
    exactly the threshold. Returns the environment that makes `python -m mu.cli` use it
    (and every process it starts, such as the determinism gate's)."""
    install = tmp_path / "mutant-mu"
    shutil.copytree(
        REPO / "generator",
        install / "mu" / "generator",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(REPO / "cli.py", install / "mu" / "cli.py")
    decision = install / "mu" / "generator" / "compile" / "runtime" / "engine.py"
    text = decision.read_text(encoding="utf-8")
    assert STRICT in text
    decision.write_text(text.replace(STRICT, MUTANT), encoding="utf-8")
    return {"PYTHONPATH": str(install)}
