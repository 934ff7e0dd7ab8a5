"""Golden suite loading: every problem in a bad suite is named, with its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mu.generator.errors import InputError
from mu.generator.run.golden import load_suite, select

GOOD = """
[[case]]
id = "a"
transaction = { id = "t", type = "vendor_payment", amount = "1.00", currency = "USD" }
expect = { outcome = "APPROVE" }

[[case]]
id = "b"
transaction = { id = "t" }
expect = { invalid = ["currency"] }
"""


def suite_dir(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_loads_cases_in_file_order_with_a_digest(tmp_path: Path) -> None:
    suite = load_suite(
        suite_dir(tmp_path, z=GOOD.replace('"a"', '"z1"').replace('"b"', '"z2"'), a=GOOD)
    )
    assert [c.case_id for c in suite.cases] == ["a", "b", "z1", "z2"]
    assert suite.cases[1].expect_invalid == ("currency",)
    assert len(suite.digest) == 64


def test_digest_changes_with_any_byte(tmp_path: Path) -> None:
    first = load_suite(suite_dir(tmp_path, a=GOOD)).digest
    second = load_suite(suite_dir(tmp_path, a=GOOD + "\n")).digest
    assert first != second


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_suite(suite_dir(tmp_path, good=GOOD, broken="[[case]\nid = 1"))
    assert err.value.code == 2
    assert [p.where for p in err.value.problems] == ["golden/broken.toml"]
    assert "not valid TOML" in err.value.problems[0].message


def test_every_bad_case_is_reported(tmp_path: Path) -> None:
    bad = """
[[case]]
id = "x"
transaction = "not a table"
expect = { outcome = "MAYBE", colour = "red" }

[[case]]
description = "no id"

[[case]]
id = "a"
transaction = {}
expect = {}
"""
    with pytest.raises(InputError) as err:
        load_suite(suite_dir(tmp_path, a=GOOD, bad=bad))
    messages = [f"{p.where}: {p.message}" for p in err.value.problems]
    assert any("`transaction` must be a table" in m for m in messages)
    assert any("`expect.outcome` must be one of" in m for m in messages)
    assert any("unknown `expect` key(s): colour" in m for m in messages)
    assert any("needs a string `id`" in m for m in messages)
    assert any("needs an `outcome`" in m for m in messages)
    assert any("case id `a` is also used in golden/a.toml" in m for m in messages)


def test_empty_suite_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_suite(tmp_path)


def test_select_by_id_or_pattern(tmp_path: Path) -> None:
    suite = load_suite(suite_dir(tmp_path, a=GOOD))
    assert [c.case_id for c in select(suite, "b")] == ["b"]
    assert [c.case_id for c in select(suite, "*")] == ["a", "b"]
    with pytest.raises(InputError, match="no golden case matches `nope`"):
        select(suite, "nope")
