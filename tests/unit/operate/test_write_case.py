"""`mu diagnose --write-case`: the golden case is written by a TOML library, so the
file stays valid TOML for every string, keeps its cases, and is replaced atomically."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mu.generator.errors import InputError
from mu.generator.operate.diagnose import Diagnosis, write_case
from mu.generator.run.golden import load_suite
from mu.generator.run.reference import ReferenceDecision

TX = {
    "id": "tx-1",
    "type": "vendor_payment",
    "amount": "105000.00",
    "currency": "USD",
    "approver": {"id": "bob", "authority": "L2"},
}
EXISTING = """# hand-written notes survive
[[case]]
id = "kept_inline"
transaction = { id = "t", type = "vendor_payment", amount = "1.00", currency = "USD" }
expect = { outcome = "APPROVE" }

[[case]]
id = "kept_tables"
[case.transaction]
id = "u"
[case.expect]
invalid = ["currency"]"""  # no final newline


def _diagnosis(outcome: str = "REJECT") -> Diagnosis:
    reasons = (("approval_over_100k", "REJECT"),) if outcome == "REJECT" else ()
    reference = ReferenceDecision(outcome, reasons, (), ("amount",) if outcome == "INVALID" else ())
    return Diagnosis(
        cause="ontology",
        explanation="",
        escalate_to="",
        owners=(),
        observed="APPROVE",
        replayed=reference,
        deployed=reference,
        reference=reference,
        drifted_files=(),
        receipt="0001-abc.json",
    )


def _cases(path: Path) -> list[dict[str, Any]]:
    cases = tomllib.loads(path.read_text(encoding="utf-8"))["case"]
    assert isinstance(cases, list)
    return cases


def test_an_id_holding_del_gives_valid_toml(tmp_path: Path) -> None:
    path = write_case(tmp_path, "x\x7fy\x00\u2028", TX, _diagnosis())
    assert _cases(path)[-1]["id"] == "x\x7fy\x00\u2028"
    assert load_suite(tmp_path).cases[-1].case_id == "x\x7fy\x00\u2028"


@pytest.mark.parametrize(
    ("case_id", "tx", "field"),
    [
        ("a\ud800", TX, "`id`"),
        ("ok", {**TX, "approver": {"id": "\udfff"}}, "`transaction.approver.id`"),
        ("ok", {**TX, "memo": None}, "`transaction.memo` is null"),
        ("ok", {**TX, "n": 2**63}, "`transaction.n` is an integer outside TOML's 64-bit range"),
        ("ok", {**TX, "items": [1, float("nan")]}, "`transaction.items[1]` is not a finite"),
    ],
)
def test_values_toml_cannot_hold_are_refused_naming_the_field(
    tmp_path: Path, case_id: str, tx: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputError) as info:
        write_case(tmp_path, case_id, tx, _diagnosis())
    assert field in info.value.message
    assert not (tmp_path / "diagnosed.toml").exists()


def test_appending_keeps_existing_cases_and_refuses_their_ids(tmp_path: Path) -> None:
    path = tmp_path / "diagnosed.toml"
    path.write_text(EXISTING, encoding="utf-8")
    write_case(tmp_path, "new_one", TX, _diagnosis("INVALID"))
    text = path.read_text(encoding="utf-8")
    assert text.startswith(EXISTING)
    assert [c["id"] for c in _cases(path)] == ["kept_inline", "kept_tables", "new_one"]
    assert _cases(path)[-1]["expect"] == {"invalid": ["amount"]}
    assert [c.case_id for c in load_suite(tmp_path).cases] == [
        "kept_inline",
        "kept_tables",
        "new_one",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diagnosed.toml"]  # no temp left
    with pytest.raises(InputError, match="id `new_one` is already used"):
        write_case(tmp_path, "new_one", TX, _diagnosis())


@pytest.mark.parametrize("where", ["diagnosed.toml", "other.toml"])
def test_an_existing_case_id_is_refused(tmp_path: Path, where: str) -> None:
    (tmp_path / where).write_text(EXISTING + "\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(InputError, match=rf"id `kept_tables` is already used in `.*{where}`"):
        write_case(tmp_path, "kept_tables", TX, _diagnosis())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_an_invalid_existing_file_is_not_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "diagnosed.toml"
    path.write_text("[[case]\nid = ", encoding="utf-8")
    with pytest.raises(InputError, match="is not valid TOML"):
        write_case(tmp_path, "new_one", TX, _diagnosis())
    assert path.read_text(encoding="utf-8") == "[[case]\nid = "


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "diagnosed.toml"
    path.write_text(EXISTING, encoding="utf-8")

    def refuse(src: Any, dst: Any) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(
        InputError, match=r"(?i)cannot write `.*diagnosed\.toml`: read-only file system"
    ):
        write_case(tmp_path, "new_one", TX, _diagnosis())
    assert path.read_text(encoding="utf-8") == EXISTING
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diagnosed.toml"]


def test_an_unwritable_golden_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="cannot write"):
        write_case(blocker / "golden", "new_one", TX, _diagnosis())


def test_a_symlinked_diagnosed_file_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.toml"
    outside.write_text("", encoding="utf-8")
    golden = tmp_path / "golden"
    golden.mkdir()
    (golden / "diagnosed.toml").symlink_to(outside)
    with pytest.raises(InputError, match="is a symbolic link"):
        write_case(golden, "new_one", TX, _diagnosis())
    assert outside.read_text(encoding="utf-8") == ""


# Any text TOML can hold (no lone surrogates: those are refused above).
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_VALUES = st.recursive(
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXT, children, max_size=3),
    max_leaves=10,
)


@pytest.mark.slow
@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    ids=st.lists(_TEXT.filter(bool), min_size=1, max_size=3, unique=True),
    extra=st.dictionaries(_TEXT, _VALUES, max_size=4),
)
def test_any_text_round_trips(ids: list[str], extra: dict[str, Any]) -> None:
    transaction = {**extra, **TX}
    with tempfile.TemporaryDirectory() as scratch:
        golden = Path(scratch)
        for case_id in ids:
            write_case(golden, case_id, transaction, _diagnosis())
        cases = _cases(golden / "diagnosed.toml")
        assert [c["id"] for c in cases] == ids
        assert all(c["transaction"] == transaction for c in cases)
        assert [c.case_id for c in load_suite(golden).cases] == ids
