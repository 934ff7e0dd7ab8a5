"""`mu.toml` (SPEC §7): `[build] min_coverage` and the environments, read strictly,
every problem named with the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mu.generator.config import DEFAULT_MIN_COVERAGE, load_config
from mu.generator.errors import ExitCode, InputError
from mu.generator.layout import Layout
from tests.conftest import REPO


def _layout(tmp_path: Path, text: str | None) -> Layout:
    root = tmp_path / "repo"
    root.mkdir(parents=True)
    if text is not None:
        (root / "mu.toml").write_text(text, encoding="utf-8")
    return Layout(root)


def _refused(text: str, tmp_path: Path) -> InputError:
    with pytest.raises(InputError) as caught:
        load_config(_layout(tmp_path, text))
    assert caught.value.code == ExitCode.USAGE
    return caught.value


def test_no_file_is_every_default(tmp_path: Path) -> None:
    config = load_config(_layout(tmp_path, None))
    assert not config.exists and config.environments == ()
    assert config.build.min_coverage == DEFAULT_MIN_COVERAGE == 100


@pytest.mark.parametrize(
    ("written", "read"),
    [("0", 0), ("100", 100), ("90", 90), ("97.5", 97.5), ("90.0", 90), ("0.0", 0)],
)
def test_min_coverage_is_a_percent(tmp_path: Path, written: str, read: float) -> None:
    config = load_config(_layout(tmp_path, f"[build]\nmin_coverage = {written}\n"))
    assert config.exists and config.build.min_coverage == read
    # An integral value is an int, so a receipt records `90`, never `90.0`.
    assert type(config.build.min_coverage) is type(read)


def test_an_empty_build_table_keeps_the_default(tmp_path: Path) -> None:
    layout = _layout(tmp_path, '[build]\n[environments.test]\ntarget = "/srv/t"\n')
    config = load_config(layout)
    assert config.build.min_coverage == 100
    assert [e.name for e in config.environments] == ["test"]


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("101", "found `101`"),
        ("-1", "found `-1`"),
        ("100.5", "found `100.5`"),
        ("nan", "found `nan`"),
        ("inf", "found `inf`"),
        ("true", "found `true`"),
        ('"90"', "found a string"),
        ("[90]", "found an array"),
        ("{ percent = 90 }", "found a table"),
        ("1979-05-27", "found a date"),
    ],
)
def test_a_min_coverage_that_is_no_percent_is_refused(
    tmp_path: Path, value: str, found: str
) -> None:
    exc = _refused(f"[build]\nmin_coverage = {value}\n", tmp_path)
    assert [p.where for p in exc.problems] == ["`mu.toml`: `build.min_coverage`"]
    assert exc.message == (
        f"`mu.toml`: `build.min_coverage` must be a number from 0 to 100, {found}"
    )
    assert "min_coverage" in exc.hint and "default 100" in exc.hint
    assert exc.location is not None and exc.location.file == "mu.toml"


def test_build_must_be_a_table(tmp_path: Path) -> None:
    exc = _refused("build = 90\n", tmp_path)
    assert [(p.where, p.message) for p in exc.problems] == [
        ("`mu.toml`: `build`", "must be a table")
    ]


def test_every_problem_of_the_file_is_named_at_once(tmp_path: Path) -> None:
    exc = _refused(
        "coverage = 90\n"
        "[build]\nmin_coverage = 150\nmin_covrage = 90\n"
        '[environments.Prod]\ntarget = "/srv/p"\n',
        tmp_path,
    )
    assert [p.where for p in exc.problems] == [
        "`mu.toml`: `coverage`",
        "`mu.toml`: `build.min_covrage`",
        "`mu.toml`: `build.min_coverage`",
        "`mu.toml`: `environments.Prod`",
    ]
    assert exc.message.startswith("`mu.toml`: `coverage` unknown key; `build.min_covrage`")


def test_a_syntax_error_names_the_line(tmp_path: Path) -> None:
    exc = _refused("[build]\nmin_coverage = 90\nmin_coverage = 80\n", tmp_path)
    assert "`mu.toml` is not valid TOML" in exc.message
    assert exc.location is not None and (exc.location.file, exc.location.line) == ("mu.toml", 3)


def test_the_documented_example_loads(tmp_path: Path) -> None:
    example = (REPO / "docs" / "mu.example.toml").read_text(encoding="utf-8")
    config = load_config(_layout(tmp_path, example))
    assert config.build.min_coverage == 100
    assert [e.name for e in config.environments] == ["production", "test"]
