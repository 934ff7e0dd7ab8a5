"""Hostile trust-root files: whatever a committer writes into `receipts/trust/`, loading the
history ends in a verified history or a `MuError` naming the problem — never a traceback.

The versions are re-signed by the real root key after each mutation, so the fuzzing
reaches the typing and the semantic checks behind the signature, not only the
signature check in front of them.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mu.generator.errors import MuError
from mu.generator.hashing import canonical_json
from mu.generator.layout import Layout
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, sign
from mu.generator.provenance.trusthistory import load_history
from tests.unit.provenance.test_trustroot import metadata

ROOT = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
BASE = metadata({"root": [ROOT]}, others={"bot": ("release", [OTHER])})
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            out += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            out += _paths(inner, (*prefix, index))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy


def _write(root: Path, payload: bytes) -> None:
    envelope = Envelope(PAYLOAD_TYPE, payload, (sign(PAYLOAD_TYPE, payload, ROOT).signatures[0],))
    trust = root / "receipts" / "trust"
    trust.mkdir(parents=True, exist_ok=True)
    (trust / "1.json").write_bytes(envelope.to_json())
    (root / "receipts" / "trust.json").write_bytes(envelope.to_json())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_resigned_mutated_version_is_an_error_or_a_history(
    tmp_path: Path, data: st.DataObject
) -> None:
    statement = json.loads(BASE.statement())
    path = data.draw(st.sampled_from(_paths(statement)))
    mutated = _replace(statement, path, data.draw(JSON))
    payload = json.dumps(mutated).encode()
    if data.draw(st.booleans()):
        # Canonical, as mu signs — unless a value is outside what RFC 8785 can encode.
        with contextlib.suppress(ValueError):
            payload = canonical_json(mutated)
    _write(tmp_path, payload)
    try:
        load_history(Layout(tmp_path))
    except MuError as exc:
        assert exc.message and "Traceback" not in exc.message


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(max_size=300))
def test_arbitrary_bytes_as_a_version_file(tmp_path: Path, junk: bytes) -> None:
    trust = tmp_path / "receipts" / "trust"
    trust.mkdir(parents=True, exist_ok=True)
    (trust / "1.json").write_bytes(junk)
    with contextlib.suppress(MuError):  # any other exception fails the test
        load_history(Layout(tmp_path))
