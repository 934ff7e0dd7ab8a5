"""Installed, the tool is `mu.generator` and `mu.cli` (pyproject's package-dir maps the
checkout onto `mu`): a bare `generator` or `cli` import would load a second copy of every
module, and of every error class, beside the first. Nothing in the checkout uses them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

BARE = ("generator", "cli")


def _sources() -> list[Path]:
    roots = [REPO / "generator", REPO / "tests", REPO / "benchmarks"]
    return [REPO / "cli.py", *(p for root in roots for p in sorted(root.rglob("*.py")))]


def _bare_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [f"{path.relative_to(REPO)}:{node.lineno} `{n}`" for n in names
                  if n.split(".")[0] in BARE]
    return found


@pytest.mark.slow
def test_nothing_imports_the_checkouts_bare_names() -> None:
    found = [hit for path in _sources() for hit in _bare_imports(path)]
    assert not found, "import `mu.generator…` / `mu.cli` instead:\n" + "\n".join(found)


def test_the_package_list_names_every_package_of_the_checkout() -> None:
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ])
    on_disk = {"mu"} | {
        "mu." + ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "generator").rglob("__init__.py")
    }
    assert listed == on_disk
