"""Strict JSON reading (SPEC §3, §9): a repeated key is refused everywhere mu reads
JSON, never silently resolved to the last one.

The first half tests `generator.jsonread`; the second shows each reader that
uses it refusing a duplicate key with a clear error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mu.generator.errors import CheckFailed, ExitCode, InputError, Location
from mu.generator.jsonread import DuplicateKey, NonJsonConstant, loads_strict, read_json_object
from mu.generator.layout import Layout
from mu.generator.operate.healthcheck import _manifest_problems
from mu.generator.operate.releases import read_record, record_path
from mu.generator.operate.upgrade import _old_generator
from mu.generator.paths import deploy_target, is_generated, output_directory
from mu.generator.provenance.dsse import Envelope
from mu.generator.provenance.receipt import parse_statement
from mu.generator.provenance.snapshot import FORMAT, SnapshotRef, expected_path, read_snapshot

HINT = "fix the file"


def _read(data: bytes) -> InputError:
    with pytest.raises(InputError) as info:
        read_json_object(data, "manifest", "m.json", HINT)
    return info.value


# --- loads_strict ----------------------------------------------------------


def test_loads_strict_reads_plain_json() -> None:
    assert loads_strict(b'{"a": [1, {"b": null}], "c": "\\u00e9"}') == {
        "a": [1, {"b": None}],
        "c": "é",
    }
    assert loads_strict("[1.5, true]") == [1.5, True]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"a": 1, "a": 1}', "a"),
        ('{"a": 1, "b": 2, "a": 3}', "a"),
        ('{"outer": {"x": 1, "x": 2}}', "x"),
        ('[{"ok": 1}, {"k": 1, "k": 2}]', "k"),
        ('{"\\u0061": 1, "a": 2}', "a"),  # equal after unescaping
    ],
)
def test_loads_strict_refuses_a_repeated_key(text: str, key: str) -> None:
    with pytest.raises(DuplicateKey) as info:
        loads_strict(text)
    assert info.value.key == key
    assert str(info.value) == f"repeats the field `{key}`"
    assert isinstance(info.value, ValueError)


def test_equal_keys_in_different_objects_are_fine() -> None:
    assert loads_strict('{"a": {"a": 1}, "b": {"a": 2}}') == {"a": {"a": 1}, "b": {"a": 2}}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_loads_strict_refuses_non_json_constants(constant: str) -> None:
    with pytest.raises(NonJsonConstant) as info:
        loads_strict(f'{{"x": {constant}}}')
    assert isinstance(info.value, ValueError)
    assert f"`{constant}`" in str(info.value)


def test_loads_strict_lets_reading_errors_propagate() -> None:
    with pytest.raises(UnicodeDecodeError):
        loads_strict(b'{"a": "\xff"}')
    with pytest.raises(json.JSONDecodeError):
        loads_strict(b'{"a": ')
    with pytest.raises(RecursionError):
        loads_strict(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ValueError):
        loads_strict(b"1" + b"0" * 5000)


# --- read_json_object ------------------------------------------------------


def test_read_json_object_returns_the_object() -> None:
    assert read_json_object(b'{"a": 1}', "manifest", "m.json", HINT) == {"a": 1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"files": {}, "files": {}}', "manifest `m.json` repeats the field `files`"),
        (b'{"a": "\xff"}', "manifest `m.json` is not UTF-8 (byte 7)"),
        (b"[" * 100_000 + b"]" * 100_000, "manifest `m.json` is nested too deeply"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "manifest `m.json` holds a number too long to read"),
        (b'{"a": NaN}', "manifest `m.json` holds `NaN`, which is not JSON"),
        (b"[1, 2]", "manifest `m.json` is a list, not a JSON object"),
        (b'"text"', "manifest `m.json` is a string, not a JSON object"),
    ],
)
def test_read_json_object_names_what_is_wrong(data: bytes, message: str) -> None:
    error = _read(data)
    assert error.message == message
    assert error.hint == HINT
    assert error.code == ExitCode.USAGE
    assert error.__cause__ is None  # no parser traceback behind the message


def test_read_json_object_places_a_syntax_error() -> None:
    error = _read(b'{\n  "a": 1,\n  "b" 2\n}')
    assert error.message == (
        "manifest `m.json` is not valid JSON: expecting ':' delimiter at line 3 column 7"
    )
    assert error.location == Location("m.json", 3, 7)


def test_read_json_object_shows_a_hostile_key_safely() -> None:
    key = "`\n" + "k" * 200
    data = json.dumps({key: 1}).encode()[:-1] + b", " + json.dumps(key).encode() + b": 2}"
    message = _read(data).message
    assert "\n" not in message and "``" not in message
    assert message.startswith("manifest `m.json` repeats the field `\\u0060\\n")
    assert message.endswith("…`") and len(message) < 140


# --- every reader refuses a duplicate key ----------------------------------

GOOD_MANIFEST = b'{"generator": {"name": "mu", "version": "1"}, "files": {}}'
DUPLICATE_MANIFEST = (
    b'{"generator": {"name": "other"}, "generator": {"name": "mu", "version": "1"}, "files": {}}'
)


def _package(directory: Path, manifest: bytes) -> Path:
    directory.mkdir(parents=True)
    (directory / "MANIFEST.json").write_bytes(manifest)
    return directory


def test_output_directory_refuses_a_package_whose_manifest_repeats_a_key(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "repo")
    good = _package(tmp_path / "good", GOOD_MANIFEST)
    assert output_directory(layout, good) == good
    bad = _package(tmp_path / "bad", DUPLICATE_MANIFEST)
    assert not is_generated(bad)
    with pytest.raises(InputError, match="it is a directory that mu did not generate"):
        output_directory(layout, bad)
    with pytest.raises(InputError, match="it is a directory that mu did not generate"):
        deploy_target(layout, bad)


def test_upgrade_refuses_a_deployed_manifest_that_repeats_a_key(tmp_path: Path) -> None:
    deployed = _package(tmp_path / "deployed", DUPLICATE_MANIFEST)
    with pytest.raises(InputError) as info:
        _old_generator(Layout(tmp_path / "repo"), deployed)
    assert info.value.message == (
        f"`{deployed}` has no readable MANIFEST.json: it repeats the field `generator`"
    )
    assert info.value.code == ExitCode.USAGE


def test_healthcheck_reports_a_manifest_that_repeats_a_key(tmp_path: Path) -> None:
    release = _package(tmp_path / "release", b'{"files": {}, "files": {"x.py": "00"}}')
    assert _manifest_problems(release) == (["`MANIFEST.json` repeats the field `files`"], 0)


def test_a_deployment_record_that_repeats_a_key_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "enforcers"
    record_path(target).write_text(
        '{"format": "urn:mu:v1#Deployment", "current": null, "current": {"path": "/x"}}'
    )
    with pytest.raises(InputError) as info:
        read_record(target)
    assert info.value.message == (
        f"deployment record `{record_path(target)}` repeats the field `current`"
    )
    assert "mu deploy" in info.value.hint


def test_a_snapshot_that_repeats_a_key_is_not_a_mu_snapshot(tmp_path: Path) -> None:
    files = '{"ontology/a.ttl": "x"}'
    data = f'{{"format": "{FORMAT}", "files": {{}}, "files": {files}}}'.encode()
    sha256 = hashlib.sha256(data).hexdigest()
    ref = SnapshotRef(expected_path(sha256), sha256)
    (tmp_path / ref.path).parent.mkdir(parents=True)
    (tmp_path / ref.path).write_bytes(data)
    with pytest.raises(CheckFailed) as info:
        read_snapshot(tmp_path, ref)
    assert info.value.message == (
        f"snapshot `{ref.path}` is not a mu snapshot: it repeats the field `files`"
    )
    assert info.value.code == ExitCode.CHECK_FAILED


def test_an_envelope_that_repeats_a_key_is_refused() -> None:
    data = b'{"payloadType": "t", "payload": "", "payload": "aGk=", "signatures": []}'
    with pytest.raises(InputError) as info:
        Envelope.from_json(data, "r.json")
    assert info.value.message == "envelope `r.json` repeats the field `payload`"


def test_an_envelope_with_nan_is_refused() -> None:
    with pytest.raises(InputError) as info:
        Envelope.from_json(b'{"payloadType": NaN}', "r.json")
    assert info.value.message == "envelope `r.json` holds `NaN`, which is not JSON"


def test_a_statement_that_repeats_a_key_is_refused() -> None:
    with pytest.raises(InputError) as info:
        parse_statement(b'{"_type": "a", "_type": "b"}', "r.json")
    assert info.value.message == "the payload of `r.json` repeats the field `_type`"
