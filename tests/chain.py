"""Helpers for tests that build signed receipt chains."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.compile import render
from tests.conftest import REPO, Run, copy_repo

Mu = Callable[..., Run]


@dataclass(frozen=True)
class Signed:
    """A policy repository with a trusted release key outside it."""

    root: Path
    key: Path
    pub: Path


@pytest.fixture
def signed(tmp_path: Path, mu: Mu) -> Signed:
    """A scratch repository with a release key (outside it) trusted in trust.json."""
    root = copy_repo(tmp_path / "repo")
    key = tmp_path / "keys" / "release.pem"
    key.parent.mkdir()
    assert mu("keygen", "--out", str(key), root=root).code == 0
    pub = Path(f"{key}.pub")
    assert mu("trust", "add", str(pub), "--role", "release", root=root).code == 0
    return Signed(root, key, pub)


def build(mu: Mu, s: Signed) -> Path:
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


def three_builds(mu: Mu, s: Signed) -> list[Path]:
    paths = [build(mu, s)]
    change_threshold(
        s.root,
        '"vendor payments over 1,000,000.00 USD need the CFO"',
        '"vendor payments over 1,000,000.00 USD need the chief financial officer"',
    )
    paths.append(build(mu, s))
    (s.root / "ontology" / "controls" / "extra.ttl").write_text(
        "@prefix ex: <https://acme.example/policy#> .\n@prefix mu: <urn:mu:v1#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        'ex:NotifyCfo a mu:NotificationRule ; mu:controlId "notify_cfo_on_review" ;\n'
        '  rdfs:label "tell the CFO about reviews" ; mu:owner "finance-leadership" ;\n'
        '  mu:appliesTo ex:WireTransfer ; mu:recipient "cfo@acme.example" ;\n'
        "  mu:onOutcome mu:Review .\n",
        encoding="utf-8",
    )
    paths.append(build(mu, s))
    return paths


STRICT = "if currency != c.currency or amount <= c.threshold:"
MUTANT = "if currency != c.currency or amount < c.threshold:"


@pytest.fixture
def mutant_generator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This generator, except that approval rules fire at exactly the threshold."""
    templates = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES_DIR, templates)
    runtime = templates / "runtime.py.j2"
    text = runtime.read_text(encoding="utf-8")
    assert STRICT in text
    runtime.write_text(text.replace(STRICT, MUTANT), encoding="utf-8")
    monkeypatch.setattr(render, "TEMPLATES_DIR", templates)
    render._environment.cache_clear()
    yield
    render._environment.cache_clear()


@pytest.fixture
def mutant_install(tmp_path: Path) -> dict[str, str]:
    """A real, defective mu on disk: a copy of the tool whose approval rules fire at
    exactly the threshold. Returns the environment that makes `python -m cli` use it
    (and every process it starts, such as the determinism gate's)."""
    install = tmp_path / "mutant-mu"
    shutil.copytree(
        REPO / "generator", install / "generator", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "cli.py", install / "cli.py")
    runtime = install / "generator" / "compile" / "templates" / "runtime.py.j2"
    text = runtime.read_text(encoding="utf-8")
    assert STRICT in text
    runtime.write_text(text.replace(STRICT, MUTANT), encoding="utf-8")
    return {"PYTHONPATH": str(install)}
