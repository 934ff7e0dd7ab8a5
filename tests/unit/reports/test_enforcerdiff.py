"""Renderers of `mu diff` of two enforcer directories."""

from __future__ import annotations

import json

from mu.generator.reports.enforcerdiff import ENFORCER_DIFF, EnforcerDiffView
from mu.generator.review.diff import Flip, ModuleChanges, OutcomeSummary
from mu.generator.review.enforcerdiff import EnforcerDiff, EnforcerSide

REPORT = EnforcerDiff(
    old=EnforcerSide("A_old", 3, ()),
    new=EnforcerSide("A_new", 3, ("controls/b.py",)),
    modules=ModuleChanges(("controls/b.py",), (), (), ("controls/a.py", "runtime.py")),
    flips=(
        Flip(
            "case|1",
            "golden/x.toml",
            "a | pipe",
            OutcomeSummary("APPROVE", (), (), ()),
            OutcomeSummary("REJECT", ("b",), (), ()),
        ),
    ),
    cases_run=4,
    golden="golden",
    blast_total=2,
)


def test_text_lists_identical_modules_only_when_verbose() -> None:
    quiet = ENFORCER_DIFF["text"](EnforcerDiffView(REPORT))
    loud = ENFORCER_DIFF["text"](EnforcerDiffView(REPORT, verbose=True))
    for out in (quiet, loud):
        assert "1 changed, 0 added, 0 removed, 2 identical" in out
        assert "  changed controls/b.py" in out and "old: APPROVE" in out
        assert "warning: new `A_new`: 1 file differ" in out
        assert "blast radius: 1/2 control modules (50.0%)" in out
    assert "identical controls/a.py" not in quiet
    assert "  identical controls/a.py" in loud


def test_markdown_escapes_cells_and_json_is_data() -> None:
    markdown = ENFORCER_DIFF["markdown"](EnforcerDiffView(REPORT))
    assert "| `controls/b.py` | changed |" in markdown and "a \\| pipe" in markdown
    data = json.loads(ENFORCER_DIFF["json"](EnforcerDiffView(REPORT)))
    assert data["modules"]["identical"] == ["controls/a.py", "runtime.py"]
    assert data["new"]["not_as_manifest"] == ["controls/b.py"]
    assert data["flips"][0]["new"]["reasons"] == ["b"]
