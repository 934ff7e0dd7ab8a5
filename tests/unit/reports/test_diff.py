"""The `mu diff` markdown as a pull request comment: cut under a size limit at a line,
with a note linking to the full report (issue 13)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.errors import InputError
from mu.generator.reports.diff import GITHUB_COMMENT_LIMIT, diff_markdown, truncate_markdown
from mu.generator.review.diff import (
    ControlChange,
    DiffReport,
    ModuleChanges,
    PropertyChange,
    SchemaChanges,
    SideLabel,
)

URL = "https://github.com/acme/policy/actions/runs/42"


def big_report(controls: int = 314, identical: tuple[str, ...] = ()) -> DiffReport:
    """A change touching every control of a large policy, as in issue 13 (314 controls)."""
    changes = tuple(
        ControlChange(
            f"c{i:05d}",
            "changed",
            (
                PropertyChange("label", f"control {i}", f"control {i}, revised for 2027"),
                PropertyChange("owner", f"team-{i % 7}", f"risk-team-{i % 7}"),
                PropertyChange("amountThreshold", f"{1000 + i}.00", f"{2000 + i}.00"),
            ),
        )
        for i in range(controls)
    )
    modules = tuple(f"controls/c{i:05d}.py" for i in range(controls))
    return DiffReport(
        old=SideLabel("origin/main", "git"),
        new=SideLabel("HEAD", "git"),
        controls=changes,
        schema=SchemaChanges((), (), (), ()),
        modules=ModuleChanges(modules, (), (), identical),
        flips=(),
        cases_run=1,
        blast_modules=modules,
        blast_total=controls,
        max_blast_radius=None,
    )


def note_of(comment: str) -> str:
    return comment[comment.rindex("\n> ✂️ **Truncated:**") :]


def test_a_report_within_the_limit_is_unchanged() -> None:
    markdown = diff_markdown(big_report(3))
    assert truncate_markdown(markdown, len(markdown), URL) == markdown


def test_a_314_control_change_fits_a_github_comment_with_a_link_to_the_rest() -> None:
    markdown = diff_markdown(big_report(identical=("MANIFEST.json", "runtime.py")))
    assert len(markdown) > GITHUB_COMMENT_LIMIT  # the case the cut exists for
    comment = truncate_markdown(markdown, 60_000, URL)
    assert len(comment) <= 60_000
    note = note_of(comment)
    assert f"[the full report]({URL}) is in this run's artifacts" in note
    assert f"{len(markdown):,}-character report" in note
    kept = comment[: -len(note)]
    # Whole lines of the report, the summary first, every table row complete.
    assert markdown.startswith(kept) and kept.endswith("\n")
    assert "**314 controls changed, 0 added, 0 removed" in kept
    assert all(line.endswith("|") for line in kept.splitlines() if line.startswith("|"))
    # The blank line before the note ends the table: the note is not one of its rows.
    assert comment[-len(note) - 1 :].startswith("\n\n> ")


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(min_value=1000, max_value=80_000))
def test_never_above_the_limit_and_cut_at_a_line(limit: int) -> None:
    markdown = diff_markdown(big_report(120))  # no <details>: the cut is the only limit
    comment = truncate_markdown(markdown, limit, URL)
    assert len(comment) <= limit
    if len(markdown) <= limit:
        assert comment == markdown
    else:
        kept = comment[: -len(note_of(comment))]
        assert markdown.startswith(kept)
        assert kept == "" or kept.endswith("\n")
        # Nothing that fits was dropped: the next line of the report would not have fitted.
        rest = markdown[len(kept) :]
        next_line = rest[: rest.index("\n") + 1]
        assert len(comment) + len(next_line) > limit


def test_a_details_block_the_cut_opens_is_closed() -> None:
    files = "`x`, " * 2000
    markdown = f"## r\n\n<details><summary>3 files</summary>\n\n{files}\n\n</details>\n"
    comment = truncate_markdown(markdown, 1000)
    assert len(comment) <= 1000
    assert comment.count("<details>") == comment.count("</details>") == 1
    # Closed before the note, a blank line apart, so the note is not hidden in it.
    assert "</details>\n\n> ✂️ **Truncated:**" in comment
    assert "run `mu diff --format markdown` for the full report" in comment


def test_the_link_cannot_break_out_of_markdown() -> None:
    comment = truncate_markdown("x\n" * 2000, 1000, "https://e.example/a b)(<c>[d]`")
    assert "(https://e.example/a%20b%29%28%3Cc%3E%5Bd%5D%60)" in comment


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "runs/42"])
def test_a_link_that_is_not_http_is_refused_even_when_nothing_is_cut(url: str) -> None:
    with pytest.raises(InputError, match="not an http"):
        truncate_markdown("short\n", 60_000, url)


def test_a_limit_too_small_for_the_note_is_refused() -> None:
    with pytest.raises(InputError, match="leaves no room"):
        truncate_markdown("x\n" * 2000, 1000, "https://e.example/" + "a" * 1000)
