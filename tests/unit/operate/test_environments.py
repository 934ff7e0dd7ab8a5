"""`mu.toml`'s named deploy environments (SPEC §7): read strictly, every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from mu.generator.errors import ExitCode, InputError
from mu.generator.layout import Layout
from mu.generator.operate.environments import load_environments, resolve_target
from tests.conftest import REPO


def _layout(tmp_path: Path, text: str | None) -> Layout:
    root = tmp_path / "repo"
    root.mkdir(parents=True)
    if text is not None:
        (root / "mu.toml").write_text(text, encoding="utf-8")
    return Layout(root)


def _refused(layout: Layout) -> InputError:
    with pytest.raises(InputError) as caught:
        load_environments(layout)
    assert caught.value.code == ExitCode.USAGE
    return caught.value


def test_no_file_declares_no_environment(tmp_path: Path) -> None:
    layout = _layout(tmp_path, None)
    assert load_environments(layout).declared == ()
    # Without `mu.toml` a name-like value is a directory, as before environments.
    found = resolve_target(layout, "staging")
    assert found.environment is None and found.path == Path("staging")


def test_targets_absolute_home_and_relative_to_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    layout = _layout(
        tmp_path,
        '[environments.production]\ntarget = "/srv/mu/production/enforcers"\n'
        '[environments.test]\ntarget = "../deploy/test"\n'
        '[environments.dev-1]\ntarget = "~/mu/dev"\n',
    )
    envs = load_environments(layout)
    assert envs.names == ("dev-1", "production", "test")
    targets = {e.name: e.target for e in envs.declared}
    assert targets == {
        "production": Path("/srv/mu/production/enforcers"),
        "test": tmp_path / "deploy" / "test",
        "dev-1": tmp_path / "home" / "mu" / "dev",
    }
    assert [e.declared for e in envs.declared if e.name == "test"] == ["../deploy/test"]
    assert envs.get("staging") is None


def test_every_problem_is_named_with_file_and_key(tmp_path: Path) -> None:
    layout = _layout(
        tmp_path,
        'deploy = "x"\n'
        '[environments.test]\ntargte = "/srv/test"\n'
        '[environments.Prod]\ntarget = "/srv/prod"\n'
        '[environments.qa]\ntarget = 3\n'
        '[environments.ok]\ntarget = "/srv/ok"\nowner = "ops"\n',
    )
    exc = _refused(layout)
    where = [p.where for p in exc.problems]
    assert where == [
        "`mu.toml`: `deploy`",
        "`mu.toml`: `environments.Prod`",
        "`mu.toml`: `environments.ok.owner`",
        "`mu.toml`: `environments.qa.target`",
        "`mu.toml`: `environments.test.targte`",
        "`mu.toml`: `environments.test`",
    ]
    assert exc.message.startswith("`mu.toml`: `deploy` unknown key;")
    assert "`environments.test.targte` unknown key" in exc.message
    assert "[environments.NAME]" in exc.hint
    assert exc.location is not None and exc.location.file == "mu.toml"


def test_environments_must_be_tables(tmp_path: Path) -> None:
    exc = _refused(_layout(tmp_path, 'environments = "test"\n'))
    assert [p.where for p in exc.problems] == ["`mu.toml`: `environments`"]
    exc = _refused(_layout(tmp_path / "b", 'environments.test = "/srv/test"\n'))
    assert "must be a table" in exc.message


def test_a_name_longer_than_64_characters_is_refused(tmp_path: Path) -> None:
    name = "a" * 65
    exc = _refused(_layout(tmp_path, f'[environments.{name}]\ntarget = "/x"\n'))
    assert f"`{name}` is not an environment name" in exc.message


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    exc = _refused(_layout(tmp_path, '[environments.test]\ntarget = "/srv/test"\ntarget = "/x"\n'))
    assert "`mu.toml` is not valid TOML" in exc.message
    assert exc.location is not None and (exc.location.file, exc.location.line) == ("mu.toml", 3)


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "mu.toml").write_bytes(b'[environments.test]\ntarget = "\xff"\n')
    assert "not UTF-8" in _refused(Layout(root)).message


def test_resolve_target_by_name_or_directory(tmp_path: Path) -> None:
    layout = _layout(tmp_path, '[environments.test]\ntarget = "/srv/mu/test"\n')
    found = resolve_target(layout, "test")
    assert found.path == Path("/srv/mu/test") and found.environment is not None
    assert found.environment.name == "test"
    # A path is never looked up (and a broken `mu.toml` cannot stop it).
    (layout.root / "mu.toml").write_text("not toml [", encoding="utf-8")
    assert resolve_target(layout, "/srv/other").path == Path("/srv/other")
    assert resolve_target(layout, "./test").environment is None
    with pytest.raises(InputError, match="not valid TOML"):
        resolve_target(layout, "test")


def test_an_undeclared_name_is_a_typo_unless_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = _layout(
        tmp_path,
        '[environments.test]\ntarget = "/srv/t"\n[environments.production]\ntarget = "/srv/p"\n',
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as caught:
        resolve_target(layout, "prodution")
    assert "`prodution` is not an environment of `mu.toml`" in caught.value.message
    assert "(declared: `production`, `test`)" in caught.value.message
    (tmp_path / "prodution").mkdir()  # an existing directory is still a directory
    assert resolve_target(layout, "prodution").path == Path("prodution")


def test_the_documented_example_loads(tmp_path: Path) -> None:
    example = (REPO / "docs" / "mu.example.toml").read_text(encoding="utf-8")
    envs = load_environments(_layout(tmp_path, example))
    assert {e.name: e.target for e in envs.declared} == {
        "production": Path("/srv/mu/production/enforcers"),
        "test": Path("/srv/mu/test/enforcers"),
    }


def test_a_home_target_without_a_home_is_refused(tmp_path: Path) -> None:
    layout = _layout(tmp_path, '[environments.test]\ntarget = "~nobody-here-at-all/mu"\n')
    exc = _refused(layout)
    assert [p.where for p in exc.problems] == ["`mu.toml`: `environments.test.target`"]
