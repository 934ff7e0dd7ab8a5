"""Validly signed statements of the wrong shape never reach a traceback (issue 8).

One real receipt is built and signed by the trusted release key; from it a
second link of the chain is made (sequence 2, parent the first), which
verifies. Then one field of that statement — the whole statement, `_type`,
`subject`, `predicateType`, or any field of the predicate, nested ones
included — is replaced by a value of another JSON type, removed, or made huge
(a 10**6-character string, a 401- or 5,001-digit integer, a list nested
100,000 deep); the result is signed with the release key and stored as the
newest receipt, under its proper name. Every command that reads receipts must
refuse it with exit 1 or 2 and a message. `mu` runs in-process with
`catch_exceptions=False`, so any exception fails the test.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mu.generator.provenance.dsse import PAYLOAD_TYPE, sign
from mu.generator.provenance.keys import load_private_key
from mu.generator.provenance.receipt import receipt_name
from tests.chain import Built, Signed
from tests.conftest import Run

Mu = Callable[..., Run]
FieldPath = tuple[str | int, ...]

pytestmark = pytest.mark.slow

SENTINEL = "@@mu-fuzz-sentinel@@"
MISSING = "<missing>"
# Huge values, as JSON text (json.dumps cannot nest 100,000 deep).
HUGE_STRING = json.dumps("a" * 10**6)
HUGE_INTEGERS = ("1" + "0" * 400, "1" + "0" * 5000, "-1", str(2**53))
DEEP_LISTS = ("[" * 100_000 + "]" * 100_000, "[" * 500 + "]" * 500)
HUGE_OBJECT = json.dumps({"k" * 10**5: [[["x"]]]})
# Keys of these objects are data (control ids, file names), not fields: an
# entry may be absent, so removing one is not a malformation.
MAPS = {("predicate", "controls"), ("predicate", "ontology", "files")}
NULLABLE = {("predicate", "parent")}
# Fields a statement made before trust roots lacks: without them a statement is well
# formed, and refused for what it then is (`test_removed_claims_are_refused_by_the_root`).
OPTIONAL = {
    ("predicate", name) for name in ("repository", "trust_root", "signedAt", "approvals")
} | {("predicate", "gates", "approvals")}
OPTIONAL |= {("predicate", "approvals", "by", index, "identity") for index in (0, 1)}
SNAPSHOT_PATH = ("predicate", "ontology", "snapshot", "path")


def _paths(value: Any, prefix: FieldPath = ()) -> Iterator[FieldPath]:
    """Every path into `value`, the first two entries of each list or map only."""
    yield prefix
    if isinstance(value, dict):
        for key in list(value)[: 2 if prefix in MAPS else None]:
            yield from _paths(value[key], (*prefix, key))
    elif isinstance(value, list):
        for index in range(min(2, len(value))):
            yield from _paths(value[index], (*prefix, index))


def _at(value: Any, path: FieldPath) -> Any:
    for part in path:
        value = value[part]
    return value


def _removable(path: FieldPath) -> bool:
    """A field of a fixed shape (not a list item, not a map entry, not the root)."""
    return (
        bool(path) and isinstance(path[-1], str) and path[:-1] not in MAPS and path not in OPTIONAL
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "fraction"
    return type(value).__name__


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _huge(original: Any) -> st.SearchStrategy[str]:
    """Same-type values that no bound admits."""
    if isinstance(original, str):
        return st.just(HUGE_STRING)
    if isinstance(original, int) and not isinstance(original, bool):
        return st.sampled_from(HUGE_INTEGERS)
    if isinstance(original, list):
        return st.sampled_from(DEEP_LISTS)
    return st.just(HUGE_OBJECT)


def mutations(original: Any, path: FieldPath) -> st.SearchStrategy[str]:
    """JSON text to put at `path` (or MISSING): another type, or the same type but huge."""
    other = JSON_VALUES.filter(
        lambda v: _json_kind(v) != _json_kind(original) and not (v is None and path in NULLABLE)
    ).map(lambda v: json.dumps(v))
    # No string is drawn in place of a string (it could be valid) but the huge one.
    choices = [other, _huge(original), st.sampled_from(DEEP_LISTS), st.just(HUGE_STRING)]
    if _removable(path):
        choices.append(st.just(MISSING))
    return st.one_of(*choices)


def payload_with(statement: dict[str, Any], path: FieldPath, text: str) -> bytes:
    """The statement with `text` (JSON) at `path`, or without that field."""
    if not path:
        return text.encode("utf-8")
    changed = copy.deepcopy(statement)
    parent = _at(changed, path[:-1])
    if text == MISSING:
        del parent[path[-1]]
        return json.dumps(changed, sort_keys=True, separators=(",", ":")).encode()
    parent[path[-1]] = SENTINEL
    dumped = json.dumps(changed, sort_keys=True, separators=(",", ":"))
    return dumped.replace(json.dumps(SENTINEL), text, 1).encode("utf-8")


@dataclass(frozen=True)
class Chain:
    """A signed repository whose newest receipt the test replaces at will."""

    signed: Signed
    first: Path
    statement: dict[str, Any]  # a valid second link, to be broken

    def store(self, payload: bytes) -> Path:
        """Sign `payload` with the release key and make it receipt 2 of the chain."""
        for old in (self.signed.root / "receipts").glob("0002-*.json"):
            old.unlink()
        envelope = sign(PAYLOAD_TYPE, payload, load_private_key(self.signed.key))
        path = self.signed.root / "receipts" / receipt_name(2, hashlib.sha256(payload).hexdigest())
        path.write_bytes(envelope.to_json())
        return path


def make_chain(built: Built) -> Chain:
    first = built.receipt
    payload = base64.b64decode(json.loads(first.read_bytes())["payload"])
    statement = json.loads(payload)
    predicate = statement["predicate"]
    predicate["sequence"] = 2
    predicate["parent"] = hashlib.sha256(payload).hexdigest()
    predicate["change"] = {"added": [], "removed": [], "changed": []}
    return Chain(built, first, statement)


def commands(chain: Chain, receipt: Path, scratch: Path) -> dict[str, list[str]]:
    """Every command that reads a receipt, pointed at `receipt`."""
    transaction = scratch / "tx.json"
    transaction.write_text('{"id": "tx-1", "type": "vendor_payment"}', encoding="utf-8")
    root = chain.signed.root
    return {
        "verify-receipt": ["verify-receipt", str(receipt)],
        "replay": ["replay", "--receipt", str(receipt)],
        "log": ["log"],
        "verify": ["verify"],
        "rollback": ["rollback", "--receipt", str(receipt), "--output", str(scratch / "out")],
        "diff": ["diff", str(receipt), str(root / "ontology")],
        "deploy": ["deploy", "--receipt", str(receipt), "--target", str(scratch / "target")],
        "diagnose": [
            "diagnose",
            "--receipt",
            str(receipt),
            "--transaction",
            str(transaction),
            "--observed",
            "APPROVE",
        ],
        "upgrade-check": ["upgrade-check", "--sign-key", str(chain.signed.key)],
    }


def assert_refused(name: str, run: Run, what: str) -> None:
    output = run.out + run.err
    assert run.code in (1, 2), f"`mu {name}` exited {run.code} on {what}:\n{output[-2000:]}"
    assert re.search(r"error|FAIL", output), f"`mu {name}` said nothing on {what}"
    assert "Traceback" not in output


def test_a_malformed_link_is_named_and_reported_as_a_failed_link(mu: Mu, built: Built) -> None:
    chain = make_chain(built)
    # The harness itself: the unbroken second link, signed and stored, verifies.
    receipt = chain.store(json.dumps(chain.statement, sort_keys=True).encode())
    assert mu("verify-receipt", str(receipt), root=built.root).code == 0
    assert mu("log", root=built.root).code == 0

    receipt = chain.store(payload_with(chain.statement, SNAPSHOT_PATH, "7"))
    sentence = "predicate field `ontology.snapshot.path` must be a string, found a number"
    diff = mu("diff", str(receipt), str(built.root / "ontology"), root=built.root)
    assert diff.code == 1
    assert diff.err.startswith(f"error: receipt `{receipt}` does not verify (statement failed)")
    assert f"- statement: {sentence}\n" in diff.err
    verdict = mu("verify-receipt", str(receipt), root=built.root)
    assert verdict.code == 1 and f"statement  FAIL  {sentence}" in verdict.out
    log = mu("log", "--format", "json", root=built.root)
    assert log.code == 1
    first, second = json.loads(log.out)["chain"]
    assert first["verified"] and not second["verified"]
    assert second["sequence"] == 2 and f"statement: {sentence}" in second["problems"]
    verify = mu("verify", "--format", "json", root=built.root)
    assert verify.code == 1
    assert {"area": "chain", "where": receipt.name, "cause": "statement", "detail": sentence} in [
        {k: d[k] for k in ("area", "where", "cause", "detail")}
        for d in json.loads(verify.out)["drifts"]
    ]


def test_removed_claims_are_refused_by_the_root(mu: Mu, built: Built) -> None:
    """Without `repository` and `trust_root` a statement claims to predate trust roots, which
    only an adopted one may; without approvals a receipt fails their re-check; `signedAt`
    is a claim a statement may leave out."""
    chain = make_chain(built)
    cases = {
        ("repository", "trust_root"): ("repository", "not adopted by `mu trust migrate`"),
        ("approvals",): ("approvals", "the receipt records no approvals"),
        (): ("approvals", "records no passing approvals gate"),  # the gate, not the record
    }
    for names, (check, detail) in cases.items():
        statement = copy.deepcopy(chain.statement)
        for name in names:
            del statement["predicate"][name]
        if not names:
            del statement["predicate"]["gates"]["approvals"]
        receipt = chain.store(json.dumps(statement, sort_keys=True).encode())
        run = mu("verify-receipt", str(receipt), root=built.root)
        assert run.code == 1 and f"{check:<10} FAIL" in run.out and detail in run.out
        assert mu("log", root=built.root).code == 1
        scratch = built.root.parent / f"scratch-{len(names)}"
        scratch.mkdir()
        for name, args in commands(chain, receipt, scratch).items():
            if name != "upgrade-check":  # it checks the generator, not the chain
                assert_refused(name, mu(*args, root=built.root), f"without {names}")
    statement = copy.deepcopy(chain.statement)
    del statement["predicate"]["signedAt"]
    receipt = chain.store(json.dumps(statement, sort_keys=True).encode())
    assert mu("verify-receipt", str(receipt), root=built.root).code == 0


def test_every_field_is_checked_when_read(mu: Mu, built: Built) -> None:
    """Each field in turn, removed or of another type: refused, and named."""
    chain = make_chain(built)
    other = {str: "7", int: '"7"', list: "{}", dict: "[]", type(None): "7"}
    checked = 0
    for path in _paths(chain.statement):
        if not path:
            continue
        original = _at(chain.statement, path)
        texts = [other[type(original)], *([MISSING] if _removable(path) else [])]
        for text in texts:
            receipt = chain.store(payload_with(chain.statement, path, text))
            run = mu("verify-receipt", str(receipt), root=built.root)
            what = f"{'.'.join(map(str, path))} = {text}"
            assert_refused("verify-receipt", run, what)
            assert run.code == 1 and "statement  FAIL" in run.out, what
            field = str(path[-1])
            assert field in run.out, f"{what}: the field is not named\n{run.out}"
            checked += 1
    assert checked > 80
    # A malformed head of the chain is never extended, replayed or compared.
    run = mu("build", "--sign-key", str(built.key), root=built.root)
    assert run.code == 1 and "receipt `0002-" in run.err, run.out + run.err
    assert len(list((built.root / "receipts").glob("0003-*.json"))) == 0


def test_malformed_signed_statements_never_raise(mu: Mu, built: Built, tmp_path: Path) -> None:
    chain = make_chain(built)
    paths = list(_paths(chain.statement))

    @settings(
        derandomize=True,
        deadline=None,
        max_examples=40,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(paths), label="path")
        text = data.draw(mutations(_at(chain.statement, path), path), label="value")
        receipt = chain.store(payload_with(chain.statement, path, text))
        scratch = Path(tempfile.mkdtemp(dir=tmp_path))
        what = f"{'.'.join(map(str, path)) or 'the statement'} = {text[:80]}"
        for name, args in commands(chain, receipt, scratch).items():
            assert_refused(name, mu(*args, root=built.root), what)

    run()
