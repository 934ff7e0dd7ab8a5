"""`--no-cache` (issue 15): every command that compiles hands its core call a `Cache`, the
repository's own (in `.git/mu-cache/`) or, with the flag, a disabled one; the result is
the same either way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mu.cli as mucli
from mu.generator.cache import CACHE_DIR, Cache
from mu.generator.files import read_tree
from tests.conftest import Run

Mu = Callable[..., Run]


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Cache]:
    """Replace `mu.cli.<name>` by a wrapper that records the cache it is given."""
    real = getattr(mucli, name)
    seen: list[Cache] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["cache"])
        return real(*args, **kwargs)

    monkeypatch.setattr(mucli, name, wrapper)
    return seen


@pytest.fixture
def checkout(repo: Path) -> Path:
    """The shipped example with a git directory, where the cache lives."""
    (repo / ".git").mkdir()
    return repo


@pytest.mark.slow  # each compiles the shipped example twice (a build in a child too)
@pytest.mark.parametrize(
    ("command", "core"),
    [
        (("generate", "--check"), "generate"),
        (("validate",), "validate_directory"),
        (("build",), "build"),
    ],
)
def test_the_flag_hands_the_core_a_disabled_cache(
    checkout: Path, mu: Mu, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...], core: str
) -> None:
    seen = _spy(monkeypatch, core)
    with_cache = mu(*command, "--format", "json", root=checkout)
    without = mu(*command, "--no-cache", "--format", "json", root=checkout)
    assert [c.enabled for c in seen] == [True, False]
    assert seen[0].directory == checkout.resolve() / ".git" / CACHE_DIR
    assert "--no-cache" in seen[1].reason
    assert (with_cache.code, with_cache.out) == (without.code, without.out)


@pytest.mark.slow  # compiles the shipped example twice
def test_generate_writes_the_same_package_with_and_without_the_cache(
    checkout: Path, mu: Mu
) -> None:
    first = mu("generate", "--format", "json", root=checkout)
    assert first.code == 0, first.err
    files = read_tree(checkout / "enforcers")
    # `--check` exits 0 only when what it compiles is byte-identical to what is on disk.
    again = mu("generate", "--no-cache", "--check", "--format", "json", root=checkout)
    assert again.code == 0, again.out + again.err
    assert read_tree(checkout / "enforcers") == files


def test_without_a_git_directory_the_core_gets_a_disabled_cache(
    repo: Path, mu: Mu, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _spy(monkeypatch, "validate_directory")
    assert mu("validate", root=repo).code == 0
    assert not seen[0].enabled and "no usable git directory" in seen[0].reason
