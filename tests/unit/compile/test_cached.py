"""The render stage with the build cache: byte-identical to rendering everything, only
the changed control rendered again, a broken entry ignored, and a planted but
authentic entry stopped by the determinism gate rather than trusted."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from mu.generator.build.gates import run_gates
from mu.generator.cache import CACHE_DIR, Cache
from mu.generator.cachedb import DATABASE
from mu.generator.compile.cached import RENDER_NAMESPACE, render_cached
from mu.generator.compile.pipeline import Compiled, compile_ontology
from mu.generator.compile.render import (
    RenderContext,
    render_control_key_material,
    render_package,
)
from mu.generator.hashing import sha256_hex
from mu.generator.layout import Layout
from tests.conftest import copy_repo

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
GENERATOR = "b" * 64


def checkout(root: Path) -> Path:
    """A directory with a `.git` directory: where a cache may live."""
    (root / ".git").mkdir(parents=True)
    return root


def open_cache(root: Path) -> Cache:
    return Cache.for_repository(root, generator=GENERATOR)


def synthetic(root: Path, controls: int) -> Path:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from synthetic import write_repository
    finally:
        sys.path.remove(str(BENCHMARKS))
    return Path(write_repository(root, controls))


def test_a_cold_and_a_warm_cache_render_what_render_package_renders(
    tmp_path: Path, example_compiled: Compiled
) -> None:
    expected = render_package(example_compiled.ir)
    with open_cache(checkout(tmp_path)) as cache:
        assert render_cached(example_compiled.ir, cache) == expected
        cold = cache.stats()
        assert (cold.hits, cold.written) == (0, len(example_compiled.ir.controls))
    with open_cache(tmp_path) as cache:
        assert render_cached(example_compiled.ir, cache) == expected
        assert cache.stats().hits == len(example_compiled.ir.controls)
        assert cache.stats().written == 0
    assert list(render_cached(example_compiled.ir, Cache.disabled())) == list(expected)


def test_after_one_edit_only_that_control_is_rendered_again(tmp_path: Path) -> None:
    root = checkout(synthetic(tmp_path / "repo", 300))
    with open_cache(root) as cache:
        render_cached(compile_ontology(root / "ontology").ir, cache)
    controls = root / "ontology" / "controls" / "controls.ttl"
    text = controls.read_text(encoding="utf-8")
    edited = text.replace("mu:amountThreshold \"", "mu:amountThreshold \"1", 1)
    assert edited != text
    controls.write_text(edited, encoding="utf-8")
    ir = compile_ontology(root / "ontology").ir
    with open_cache(root) as cache:
        assert render_cached(ir, cache) == render_package(ir)
        stats = cache.stats()
    assert (stats.misses, stats.written) == (1, 1)
    assert stats.hits == len(ir.controls) - 1


def test_a_corrupted_entry_is_ignored_and_rendered_again(
    tmp_path: Path, example_compiled: Compiled
) -> None:
    with open_cache(checkout(tmp_path)) as cache:
        render_cached(example_compiled.ir, cache)
    with sqlite3.connect(tmp_path / ".git" / CACHE_DIR / DATABASE) as db:
        db.execute("UPDATE entries SET value = CAST(X'00' || value AS BLOB)")
    with open_cache(tmp_path) as cache:
        assert render_cached(example_compiled.ir, cache) == render_package(example_compiled.ir)
        assert cache.stats().hits == 0
        assert cache.stats().dropped == len(example_compiled.ir.controls)


def _plant(cache: Cache, compiled: Compiled, control_id: str, module: bytes) -> None:
    """Store `module` as the rendering of `control_id`, authentically (with the secret)."""
    control = next(c for c in compiled.ir.controls if c.control_id == control_id)
    material = render_control_key_material(control, RenderContext.of(compiled.ir))
    cache.put(cache.stage_key(RENDER_NAMESPACE, sha256_hex(material)), module)


@pytest.mark.slow  # runs the gates: a second compile in a child process
def test_a_planted_authentic_entry_is_caught_by_the_determinism_gate(tmp_path: Path) -> None:
    root = checkout(copy_repo(tmp_path / "repo"))
    compiled = compile_ontology(root / "ontology")
    victim = sorted(c.control_id for c in compiled.ir.controls)[0]
    path = f"controls/{victim}.py"
    with open_cache(root) as cache:
        _plant(cache, compiled, victim, compiled.files[path] + b"\nAPPROVE = True\n")
    with open_cache(root) as cache:
        run = run_gates(Layout(root), cache=cache)
    gates = {g.name: g for g in run.gates}
    assert gates["determinism"].status == "FAIL"
    assert path in gates["determinism"].detail
    assert not run.ok
