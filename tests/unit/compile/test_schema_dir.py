"""`load_ontology(directory, shapes)`: Σ named apart from O (`mu validate --schema`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mu.generator.compile.load import load_ontology
from mu.generator.errors import InputError
from tests.conftest import REPO


def test_a_schema_directory_replaces_the_ontologys_shapes(tmp_path: Path) -> None:
    sigma = tmp_path / "sigma"
    shutil.copytree(REPO / "ontology" / "shapes", sigma / "nested")
    own = load_ontology(REPO / "ontology")
    named = load_ontology(REPO / "ontology", sigma)
    assert [s.sha256 for s in named.shape_files] == [s.sha256 for s in own.shape_files]
    # Paths stay relative to the ontology directory, so `directory / path` opens the file.
    for source in named.shape_files:
        assert (REPO / "ontology" / source.path).read_bytes() == source.data
    assert len(named.org_shapes) == len(own.org_shapes)
    (tmp_path / "empty").mkdir()
    assert load_ontology(REPO / "ontology", tmp_path / "empty").shape_files == ()


def test_a_missing_schema_directory_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"shapes directory .* does not exist"):
        load_ontology(REPO / "ontology", tmp_path / "nope")
