"""Models and enforcer packages for the equivalence tests, built once per session.

`models(name)` gives (ontology, loaded package) for the shipped example or a
synthetic repository of N controls (benchmarks/synthetic.py), compiled by mu's
own pipeline into a temporary directory the first time a test asks for it.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings

from tests.conftest import REPO

if TYPE_CHECKING:
    from mu.generator.compile.model import Ontology
    from mu.generator.compile.pipeline import Compiled

Built = tuple["Ontology", ModuleType]


def runs(examples: int) -> settings:
    """Hypothesis settings for `examples` transactions, the same on every run.

    Derandomized and without an example database, so a failure reproduces on
    any machine; no deadline, since a decision over 5,000 controls is slow
    next to hypothesis's default.
    """
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def load_synthetic() -> ModuleType:
    """benchmarks/synthetic.py, which is a script folder, not a package."""
    spec = importlib.util.spec_from_file_location(
        "mu_bench_synthetic", REPO / "benchmarks" / "synthetic.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package(compiled: Compiled, directory: Path) -> ModuleType:
    from mu.generator.files import write_tree_atomic
    from mu.generator.run.enforcers import load_enforcers

    write_tree_atomic(directory, compiled.files)
    return load_enforcers(directory)


@pytest.fixture(scope="session")
def models(
    tmp_path_factory: pytest.TempPathFactory, example_compiled: Compiled
) -> Callable[[str], Built]:
    """models("example") or models("synthetic-1000"): the model and its enforcers."""
    from mu.generator.compile.pipeline import compile_ontology

    cache: dict[str, Built] = {}

    def build(name: str) -> Built:
        if name not in cache:
            if name == "example":
                compiled = example_compiled
            else:
                size = int(name.removeprefix("synthetic-"))
                root = load_synthetic().write_repository(tmp_path_factory.mktemp(name), size)
                compiled = compile_ontology(root / "ontology")
            directory = tmp_path_factory.mktemp(f"{name}-enforcers") / "enforcers"
            cache[name] = (compiled.ontology, _package(compiled, directory))
        return cache[name]

    return build


def _by_identity(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`function` of one argument, its answer kept per argument object.

    Keyed by identity, not by value: hashing a tuple of 5,000 frozen controls
    would cost more than it saves. The argument is kept alive with the answer,
    so an id is never reused for a different object while it is cached.
    """
    answers: dict[int, tuple[Any, Any]] = {}

    @functools.wraps(function)
    def call(arg: Any) -> Any:
        hit = answers.get(id(arg))
        if hit is None or hit[0] is not arg:
            hit = answers[id(arg)] = (arg, function(arg))
        return hit[1]

    return call


@pytest.fixture(scope="module")
def fast_reference() -> Iterator[None]:
    """Memoize the reference's dependsOn order while these tests run.

    The reference recomputes the order of all controls on every call, in
    quadratic time, on purpose: it is meant to be obviously right, not fast.
    At 5,000 controls that is seconds a decision. The answer depends on the
    ontology alone, so keeping it changes no decision. (Conditions are parsed
    once per text by the reference itself; older references did not, so the
    parser is memoized here too when the reference has no cache of its own.)
    """
    from mu.generator.run import reference

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reference, "action_order", _by_identity(reference.action_order))
        if not hasattr(reference, "_parsed"):
            parse = functools.lru_cache(maxsize=None)(reference.parse_condition)
            patch.setattr(reference, "parse_condition", parse)
        yield
