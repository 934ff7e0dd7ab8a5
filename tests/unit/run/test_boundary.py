"""Boundary cases by site: listing the sites parses nothing, each site's cases are made
on demand, and all of them together are exactly `boundary_cases`, in its order."""

from __future__ import annotations

import json
import pickle

import pytest

from mu.generator.compile.pipeline import Compiled
from mu.generator.run import boundary
from mu.generator.run.boundary import Boundaries, boundary_cases


def test_the_sites_make_every_boundary_case_in_order(example_compiled: Compiled) -> None:
    ontology = example_compiled.ontology
    b = Boundaries.of(ontology)
    made = [p for site in b.sites for p in b.cases(site)]
    cases = boundary_cases(ontology)
    assert [c.case_id for c in cases] == [f"{p.label}#{i:05d}" for i, p in enumerate(made)]
    assert [c.transaction for c in cases] == [p.transaction for p in made]
    assert [c.description for c in cases] == [p.description for p in made]
    # Per type: its authority levels first, then each of its controls with an edge.
    types = [t.type_id for t in ontology.transaction_types]
    assert [s.ttype.type_id for s in b.sites if s.control is None] == types
    assert all(b.cases(s) for s in b.sites)


def test_a_site_is_made_alone_and_the_same_every_time(example_compiled: Compiled) -> None:
    b = Boundaries.of(example_compiled.ontology)
    bases = pickle.dumps(dict(b.bases))
    last = b.sites[-1]
    first = json.dumps([p.transaction for p in b.cases(last)])
    for site in b.sites:
        b.cases(site)
    assert json.dumps([p.transaction for p in b.cases(last)]) == first
    assert pickle.dumps(dict(b.bases)) == bases  # no case shares a table with a base


def test_listing_the_sites_parses_no_condition(
    example_compiled: Compiled, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(text: str) -> None:
        raise AssertionError(f"parsed `{text}`")

    monkeypatch.setattr(boundary, "parse_condition", refuse)
    b = Boundaries.of(example_compiled.ontology)
    conditional = [s for s in b.sites if s.control is not None and s.control.when]
    assert conditional
    with pytest.raises(AssertionError, match="parsed"):
        b.cases(conditional[0])
