"""Fixtures shared by the tests of the reference evaluator."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mu.generator.compile.lower import compile_conditions, lower
from mu.generator.compile.model import Ontology
from mu.generator.compile.render import render_package
from mu.generator.run.reference import (
    ReferenceDecision,
    reference_decide,
    summarize_enforcer_decision,
)
from tests.unit.run.test_reference import write_package


@pytest.fixture
def decide(tmp_path: Path) -> Any:
    """decide(ontology, tx): the reference decision, checked against fresh enforcers."""
    packages: dict[Ontology, ModuleType] = {}

    def run(ontology: Ontology, transaction: dict[str, object]) -> ReferenceDecision:
        if ontology not in packages:
            conditions = compile_conditions(ontology)
            assert not conditions.failures
            files = render_package(lower(ontology, conditions.compiled))
            packages[ontology] = write_package(files, tmp_path / f"pkg{len(packages)}")
        expected = reference_decide(ontology, transaction)
        assert summarize_enforcer_decision(packages[ontology], transaction) == expected
        return expected

    return run
