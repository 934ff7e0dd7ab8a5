"""Hostile golden files: clear errors naming the file and the case, never a traceback."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.run.golden import load_suite
from tests.conftest import REPO, Run

Mu = Callable[..., Run]

GOOD = """
[[case]]
id = "a"
transaction = { id = "t", type = "vendor_payment", amount = "1.00", currency = "USD" }
expect = { outcome = "APPROVE" }
"""


def _problems(directory: Path) -> dict[str, list[str]]:
    with pytest.raises(InputError) as info:
        load_suite(directory)
    found: dict[str, list[str]] = {}
    for problem in info.value.problems:
        found.setdefault(problem.where, []).append(problem.message)
    return found


def _suite(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / "good.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / name).write_bytes(data)
    return tmp_path


def test_deeply_nested_toml_is_a_problem_of_its_file(tmp_path: Path) -> None:
    deep = b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    found = _problems(_suite(tmp_path, "deep.toml", deep))
    assert found == {"golden/deep.toml": ["not valid TOML: nested too deeply"]}


def test_a_non_utf8_golden_file_names_the_byte(tmp_path: Path) -> None:
    found = _problems(_suite(tmp_path, "latin1.toml", b'[[case]]\nid = "caf\xe9"\n'))
    assert found == {"golden/latin1.toml": ["not UTF-8 (byte 18)"]}


def test_a_transaction_nested_by_dotted_keys_is_refused(tmp_path: Path) -> None:
    # Dotted keys nest without recursion in the parser: the depth is checked after.
    key = ".".join(["a"] * 5000)
    text = f'[[case]]\nid = "deep"\ntransaction.{key} = 1\nexpect.outcome = "APPROVE"\n'
    found = _problems(_suite(tmp_path, "dotted.toml", text.encode()))
    assert found == {"golden/dotted.toml case `deep`": ["`transaction` nests more than 64 levels"]}


@pytest.mark.parametrize("value", ["7", '["x"]', "{ a = 1 }", "1979-05-27", "true"])
def test_a_description_that_is_not_a_string_names_file_and_case(tmp_path: Path, value: str) -> None:
    text = f'[[case]]\nid = "typed"\ndescription = {value}\ntransaction = {{}}\n'
    text += 'expect = { outcome = "REJECT" }\n'
    found = _problems(_suite(tmp_path, "typed.toml", text.encode()))
    assert found == {"golden/typed.toml case `typed`": ["`description` must be a string"]}


def test_mu_test_reports_a_hostile_golden_file_with_exit_2(mu: Mu, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "enforcers", root / "enforcers")
    golden = root / "golden"
    golden.mkdir()
    (golden / "deep.toml").write_bytes(b"x = " + b"{a=" * 50_000 + b"1" + b"}" * 50_000)
    (golden / "typed.toml").write_text('[[case]]\nid = "t"\ndescription = 1\n', encoding="utf-8")
    run = mu("test", root=root)
    assert run.code == 2, run.out + run.err
    assert "golden/deep.toml: not valid TOML: nested too deeply" in run.err
    assert "golden/typed.toml case `t`: `description` must be a string" in run.err
