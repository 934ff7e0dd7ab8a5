"""`mu decide` on hostile transaction files: clear errors naming the file, never a
traceback, never APPROVE for an invalid transaction (SPEC §3, §7)."""

from __future__ import annotations

import io
import json
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mu.generator.errors import InputError
from tests.conftest import REPO, Run

Mu = Callable[..., Run]
MIB_16 = 16 * 1024 * 1024


def _approved_transaction() -> dict[str, Any]:
    """A transaction of the shipped golden suite that the shipped enforcers approve."""
    for path in sorted((REPO / "golden").glob("*.toml")):
        for case in tomllib.loads(path.read_text(encoding="utf-8")).get("case", []):
            if case.get("expect", {}).get("outcome") == "APPROVE":
                return dict(case["transaction"])
    raise AssertionError("the shipped golden suite has no APPROVE case")


BASE = _approved_transaction()


@pytest.fixture(scope="module")
def pkg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding only a private copy of the shipped enforcers."""
    root = tmp_path_factory.mktemp("decide")
    shutil.copytree(
        REPO / "enforcers", root / "enforcers", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


def _decide(mu: Mu, root: Path, data: bytes, *extra: str) -> Run:
    path = root / "tx.json"
    path.write_bytes(data)
    return mu("decide", str(path), *extra, root=root)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"amount": ' + b"1" * 5000 + b"}", "holds an integer of 5000 digits"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", "nested more than 64 levels deep"),
        (b'{"amount": NaN}', "uses `NaN`, which is not JSON"),
        (b'{"amount": -Infinity}', "uses `-Infinity`, which is not JSON"),
        (b'{"amount": 1e400}', "holds the number `1e400`, too large to represent"),
        (b"[1, 2]", "holds a list, not a JSON object"),
        (b'"tx"', "holds a string, not a JSON object"),
        (b"null", "holds null, not a JSON object"),
        (b'{"id": "\xff"}', "is not valid UTF-8 (byte 8)"),
        (b'{"id": "\\ud800"}', "$.id: holds a lone surrogate"),
        (b'{"\\udc00": 1}', "the key holds a lone surrogate"),
    ],
)
def test_hostile_json_is_a_clear_error_naming_the_file(
    mu: Mu, pkg_root: Path, data: bytes, expected: str
) -> None:
    run = _decide(mu, pkg_root, data)
    assert run.code == 2, run.out + run.err
    assert "tx.json" in run.err
    assert expected in run.err
    assert "Traceback" not in run.err


def test_duplicate_keys_are_named_with_their_json_path(mu: Mu, pkg_root: Path) -> None:
    tx = json.dumps(BASE)[1:-1]
    data = ('{"amount": "1.00", ' + tx + ', "approver": {"id": "a", "id": "b"}}').encode()
    run = _decide(mu, pkg_root, data, "--format", "json")
    assert run.code == 2
    assert "APPROVE" not in run.out
    wheres = {p["where"]: p["message"] for p in json.loads(run.out)["problems"]}
    assert wheres == {
        "$.amount": "the key `amount` appears twice",
        "$.approver": "the key `approver` appears twice",
        "$.approver.id": "the key `id` appears twice",
    }


def test_a_file_over_16_mib_is_refused(mu: Mu, pkg_root: Path) -> None:
    data = json.dumps(BASE).encode() + b" " * MIB_16
    run = _decide(mu, pkg_root, data)
    assert run.code == 2
    assert "is larger than 16 MiB" in run.err


def test_an_unreadable_transaction_names_the_file(mu: Mu, pkg_root: Path) -> None:
    run = mu("decide", str(pkg_root / "missing.json"), root=pkg_root)
    assert run.code == 2
    assert "cannot read `" in run.err and "missing.json`: no such file or directory" in run.err
    run = mu("decide", str(pkg_root), root=pkg_root)  # a directory
    assert run.code == 2 and "cannot read" in run.err


def test_decide_dash_reads_standard_input(pkg_root: Path) -> None:
    from mu.cli import cli

    runner = CliRunner()
    argv = ["--root", str(pkg_root), "decide", "-", "--format", "json"]
    result = runner.invoke(cli, argv, input=json.dumps(BASE), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outcome"] == "APPROVE"
    bad = runner.invoke(cli, argv[:-2], input=b'{"a": 1, "a": 2}', catch_exceptions=False)
    assert bad.exit_code == 2
    assert "<stdin> is not a valid transaction" in bad.stderr


def test_read_transaction_stream_and_path() -> None:
    from mu.generator.run.decide import read_transaction, read_transaction_stream

    assert read_transaction_stream(io.BytesIO(b'{"a": [1, 2.5, "x"]}')) == {"a": [1, 2.5, "x"]}
    assert read_transaction(Path("-"), io.BytesIO(b"{}")) == {}
    with pytest.raises(InputError, match="<stdin> is not valid JSON"):
        read_transaction(Path("-"), io.BytesIO(b"{x}"))
    oversized = io.BytesIO(b" " * (MIB_16 + 1))
    with pytest.raises(InputError, match="larger than 16 MiB"):
        read_transaction_stream(oversized, "the pipe")


# -- the fuzz test -------------------------------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def _leaf_paths(value: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for key, item in value.items():
        paths.append((*prefix, key))
        if isinstance(item, dict):
            paths.extend(_leaf_paths(item, (*prefix, key)))
    return paths


FIELDS = _leaf_paths(BASE)


def _get(tx: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        tx = tx[key]
    return tx


def _set(tx: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(tx))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def _wrong_type(original: Any) -> st.SearchStrategy[Any]:
    """Values of a JSON type the field's schema type never accepts."""
    containers = st.lists(JSON_VALUES, max_size=2) | st.dictionaries(
        st.text(max_size=4), JSON_VALUES, max_size=2
    )
    floats = st.floats()
    if isinstance(original, bool):
        return st.text(max_size=6) | st.integers() | floats | containers
    if isinstance(original, str):  # strings, decimal strings, authority codes
        return st.booleans() | floats | containers
    if isinstance(original, dict):
        return st.booleans() | st.integers() | floats | st.text(max_size=6) | st.lists(_SCALARS)
    return st.text(max_size=6) | st.booleans() | floats | containers


@st.composite
def _wrong_field(draw: st.DrawFn) -> tuple[bytes, bool]:
    path = draw(st.sampled_from(FIELDS))
    value = draw(_wrong_type(_get(BASE, path)))
    return json.dumps(_set(BASE, path, value)).encode(), True


@st.composite
def _missing_field(draw: st.DrawFn) -> tuple[bytes, bool]:
    path = draw(st.sampled_from(FIELDS))
    tx = json.loads(json.dumps(BASE))
    target = tx
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return json.dumps(tx).encode(), True


@st.composite
def _random_json(draw: st.DrawFn) -> tuple[bytes, bool]:
    value = draw(JSON_VALUES)
    return json.dumps(value).encode(), True  # no random value is a complete transaction


@st.composite
def _extra_fields(draw: st.DrawFn) -> tuple[bytes, bool]:
    extra = draw(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3))
    return json.dumps({**extra, **BASE}).encode(), False  # unknown fields may be ignored


@st.composite
def _deep(draw: st.DrawFn) -> tuple[bytes, bool]:
    depth = draw(st.sampled_from([63, 64, 65, 900, 1000, 5000, 100_000]))
    inner = draw(st.sampled_from(["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth]))
    field = draw(st.sampled_from(FIELDS))
    body = json.dumps(_set(BASE, field, "__X__")).replace('"__X__"', inner)
    return body.encode(), True  # a list or an object where the schema wants a scalar


@st.composite
def _huge_number(draw: st.DrawFn) -> tuple[bytes, bool]:
    digits = draw(st.sampled_from([4299, 4300, 4301, 5000, 100_000]))
    number = draw(st.sampled_from(["1" * digits, "-" + "1" * digits, "1e" + "9" * digits]))
    field = draw(st.sampled_from(FIELDS))
    body = json.dumps(_set(BASE, field, "__X__")).replace('"__X__"', number)
    # `amount` accepts an integer, so a huge one within the limit may decide.
    return body.encode(), field != ("amount",)


@st.composite
def _duplicate_key(draw: st.DrawFn) -> tuple[bytes, bool]:
    path = draw(st.sampled_from(FIELDS))
    text = json.dumps(_set(BASE, path, "__X__"))
    original = json.dumps(_get(BASE, path))
    twice = f"{original}, {json.dumps(path[-1])}: {original}"
    return text.replace('"__X__"', twice).encode(), True


@st.composite
def _invalid_utf8(draw: st.DrawFn) -> tuple[bytes, bool]:
    text = json.dumps(BASE).encode()
    at = draw(st.integers(0, len(text)))
    junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]))
    return text[:at] + junk + text[at:], True


@st.composite
def _lone_surrogate(draw: st.DrawFn) -> tuple[bytes, bool]:
    path = draw(st.sampled_from(FIELDS))
    surrogate = draw(st.sampled_from(["\\ud800", "\\udfff", "x\\udc00y"]))
    body = json.dumps(_set(BASE, path, "__X__")).replace("__X__", surrogate)
    return body.encode(), True


@st.composite
def _random_bytes(draw: st.DrawFn) -> tuple[bytes, bool]:
    return draw(st.binary(max_size=64)), True


HOSTILE = st.one_of(
    _wrong_field(),
    _missing_field(),
    _random_json(),
    _extra_fields(),
    _deep(),
    _huge_number(),
    _duplicate_key(),
    _invalid_utf8(),
    _lone_surrogate(),
    _random_bytes(),
)


@pytest.mark.slow
@settings(
    derandomize=True,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=HOSTILE)
def test_fuzz_decide_never_crashes_and_never_approves_invalid(
    mu: Mu, pkg_root: Path, case: tuple[bytes, bool]
) -> None:
    data, invalid = case
    run = _decide(mu, pkg_root, data, "--format", "json")  # any exception fails the test
    assert run.code in (0, 1, 2), run
    assert "internal error" not in run.out  # the runtime crashed on a value
    if invalid:
        assert run.code != 0, data[:200]
        assert '"outcome": "APPROVE"' not in run.out
