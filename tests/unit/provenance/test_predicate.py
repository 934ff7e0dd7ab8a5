"""The structural check of statements (generator/provenance/statement.py) and the strict
readers around it (receipt.py, dsse.py): every field any consumer reads is
typed and bounded, every problem is named by its dotted path, and nothing a
file can hold raises anything but a `MuError`."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.errors import CheckFailed, InputError
from mu.generator.hashing import canonical_json, sha256_hex
from mu.generator.jsonshape import MAX_PROBLEMS
from mu.generator.provenance import dsse
from mu.generator.provenance.dsse import PAYLOAD_TYPE, Envelope, read_envelope_file, sign
from mu.generator.provenance.predicates import ReceiptPredicate, RejectionPredicate
from mu.generator.provenance.receipt import (
    load_chain,
    load_receipt,
    parse_statement,
    read_chain,
    read_receipt,
    receipt_name,
)
from mu.generator.provenance.statement import (
    RECEIPT_TYPE,
    REJECTION_TYPE,
    STATEMENT_TYPE,
    describe,
    statement_problems,
)
from tests.chain import Built, change_threshold
from tests.conftest import Run

Mu = Callable[..., Run]
H = "ab" * 32
H2 = "cd" * 32


def receipt_statement() -> dict[str, Any]:
    """A well-formed receipt statement, as `attest.receipt_statement` writes one."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": "enforcers/MANIFEST.json", "digest": {"sha256": H}},
            {"name": "enforcers/controls/a.py", "digest": {"sha256": H2}},
        ],
        "predicateType": RECEIPT_TYPE,
        "predicate": {
            "sequence": 2,
            "generator": {"name": "mu", "version": "0.1.0", "source_sha256": H},
            "ontology": {
                "digest": H,
                "canonicalization": "RDFC-1.0",
                "files": {"controls/a.ttl": H, "shapes/b.ttl": H2},
                "snapshot": {"path": f"receipts/snapshots/{H2}.json", "sha256": H2},
            },
            "golden": {"sha256": H, "passed": 150, "failed": 0, "total": 150},
            "gates": {"ontology": "PASS", "golden": "PASS", "determinism": "PASS"},
            "controls": {"a": {"digest": H, "module": "enforcers/controls/a.py"}},
            "enforcers": {"sha256": H},
            "parent": H2,
            "change": {"added": ["a"], "removed": [], "changed": []},
            "approvals": {"required": 1, "by": [{"keyid": H, "statement": H2}]},
        },
    }


def rejection_statement() -> dict[str, Any]:
    """A well-formed rejection statement, as `attest.rejection_payload` writes one."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "ontology/controls/a.ttl", "digest": {"sha256": H}}],
        "predicateType": REJECTION_TYPE,
        "predicate": {
            "generator": {"name": "mu", "version": "0.1.0", "source_sha256": H},
            "ontology": {"digest": None, "files": {"controls/a.ttl": H}},
            "gates": {"ontology": "FAIL"},
            "failed_gates": ["ontology"],
            "context": None,
            "violations": [
                {
                    "focus": "https://acme.example/policy#X",
                    "path": None,
                    "shape": "urn:mu:v1#ControlShape",
                    "message": "Less than 1 values on\nmu:controlId",
                    "file": "controls/a.ttl",
                }
            ],
        },
    }


def paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path into `value` (object keys and list indexes), parents first."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def at(value: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def replaced(statement: dict[str, Any], path: tuple[str | int, ...], new: Any) -> dict[str, Any]:
    out = copy.deepcopy(statement)
    at(out, path[:-1])[path[-1]] = new
    return out


def removed(statement: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    out = copy.deepcopy(statement)
    del at(out, path[:-1])[path[-1]]
    return out


# Keys of these objects are data (control ids, file names), not fields.
MAPS = {("predicate", "controls"), ("predicate", "ontology", "files")}
OPTIONAL = {("predicate", "approvals")}
NULLABLE = {"parent", "context", "digest", "path", "file"}  # where null is a value


def other_type(value: Any) -> list[Any]:
    """Values of every other JSON type (and, for an integer, a boolean and a fraction)."""
    candidates: list[Any] = [None, True, 7, 1.5, "x", [], {}]
    if isinstance(value, bool):
        return [c for c in candidates if not isinstance(c, bool)]
    if isinstance(value, int):
        return [c for c in candidates if not isinstance(c, int) or isinstance(c, bool)]
    return [c for c in candidates if type(c) is not type(value)]


def test_well_formed_statements_have_no_problems() -> None:
    assert statement_problems(receipt_statement()) == ()
    assert statement_problems(receipt_statement(), RECEIPT_TYPE) == ()
    assert statement_problems(rejection_statement()) == ()
    first = replaced(receipt_statement(), ("predicate", "parent"), None)
    assert statement_problems(removed(first, ("predicate", "approvals"))) == ()
    # Fields no consumer reads may be added by a later mu.
    extra = replaced(receipt_statement(), ("predicate", "signedAt"), "2024-01-01T00:00:00Z")
    assert statement_problems(extra) == ()
    # Every kind mu signs has a shape: an empty approval is not one of mu's.
    approval = {**receipt_statement(), "predicateType": "urn:mu:v1#Approval", "predicate": {}}
    assert [p.where for p in statement_problems(approval)] == ["predicate field `ontology`"]
    assert statement_problems(approval, RECEIPT_TYPE) != ()
    # A kind mu does not sign is checked as a statement only.
    other = {**receipt_statement(), "predicateType": "https://example.com/Other", "predicate": {}}
    assert statement_problems(other) == ()


def label(path: tuple[str | int, ...]) -> str:
    """How a problem names the field at `path`, written out independently."""
    in_predicate = path[0] == "predicate" and len(path) > 1
    text = ""
    for part in path[1:] if in_predicate else path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return f"{'predicate' if in_predicate else 'statement'} field `{text}`"


@pytest.mark.parametrize("make", [receipt_statement, rejection_statement])
def test_every_field_of_another_type_is_named(make: Any) -> None:
    statement = make()
    for path in paths(statement):
        original = at(statement, path)
        for value in other_type(original):
            if (original is None and isinstance(value, str)) or (
                value is None and path[-1] in NULLABLE
            ):
                continue  # `parent` may be null or a digest, a violation's `path` a string
            problems = statement_problems(replaced(statement, path, value))
            assert problems, f"{path} = {value!r} passed"
            assert problems[0].where == label(path), (path, problems)


def test_every_missing_field_is_named() -> None:
    statement = receipt_statement()
    for path in paths(statement):
        if isinstance(path[-1], int) or path[:-1] in MAPS or path in OPTIONAL:
            continue  # list items and map entries are data, not fields
        problems = statement_problems(removed(statement, path))
        assert describe(problems) == f"{label(path)} is missing"


def test_the_message_names_the_field_and_what_was_expected() -> None:
    bad = replaced(receipt_statement(), ("predicate", "ontology", "snapshot", "path"), 5)
    [problem] = statement_problems(bad)
    assert f"{problem.where} {problem.message}" == (
        "predicate field `ontology.snapshot.path` must be a string, found a number"
    )
    cases = {
        ("predicate", "sequence"): (True, "must be an integer, found a boolean"),
        ("predicate", "golden", "total"): (2.0, "found a number with a fraction or exponent"),
        ("predicate", "controls"): (5, "`controls` must be an object, found a number"),
        ("predicate", "change", "added"): ("a", "`change.added` must be a list, found a string"),
        ("predicate", "parent"): ("x", "must be null or a sha256 digest"),
        ("predicate", "gates", "golden"): ("pass", "must be `PASS` or `FAIL`, found `pass`"),
        ("subject",): ([], "statement field `subject` must not be an empty list"),
        ("predicateType",): ("urn:x", "must be `urn:mu:v1#Receipt`, found `urn:x`"),
    }
    for path, (value, expected) in cases.items():
        problems = statement_problems(replaced(receipt_statement(), path, value), RECEIPT_TYPE)
        assert expected in describe(problems), (path, describe(problems))
    subject = removed(receipt_statement(), ("subject", 0, "digest"))
    assert describe(statement_problems(subject)) == "statement field `subject[0].digest` is missing"


def test_sequence_must_be_positive_and_bounded() -> None:
    for value, shown in ((0, "`0`"), (-1, "`-1`"), (2**53, "`9007199254740992`")):
        problems = statement_problems(
            replaced(receipt_statement(), ("predicate", "sequence"), value)
        )
        assert describe(problems) == (
            f"predicate field `sequence` must be an integer from 1 to 9007199254740991, "
            f"found {shown}"
        )
    huge = statement_problems(replaced(receipt_statement(), ("predicate", "sequence"), 10**400))
    assert "a number of about 401 digits" in describe(huge)


def test_huge_and_unprintable_strings_are_refused_briefly() -> None:
    huge = replaced(receipt_statement(), ("predicate", "generator", "version"), "9" * 10**6)
    message = describe(statement_problems(huge))
    assert message == (
        "predicate field `generator.version` must be at most 256 characters, found 1000000"
    )
    for text in ("1.0\n", "1.0\x1b[31m", "\ud800", "\x00", ""):
        bad = replaced(receipt_statement(), ("predicate", "generator", "version"), text)
        assert statement_problems(bad), repr(text)
    digest = replaced(receipt_statement(), ("predicate", "enforcers", "sha256"), "`x`" * 10**5)
    message = describe(statement_problems(digest))
    assert len(message) < 200 and "\\u0060x\\u0060" in message


def test_odd_keys_are_named_without_flooding_the_message() -> None:
    bad = replaced(receipt_statement(), ("predicate", "controls", "k" * 10**5), {})
    assert describe(statement_problems(bad)) == (
        "predicate field `controls` has a key that must be at most 256 characters, found 100000"
    )
    spaced = replaced(receipt_statement(), ("predicate", "controls", "a b`"), {"digest": H})
    assert describe(statement_problems(spaced)) == (
        'predicate field `controls["a b\\u0060"].module` is missing'
    )
    bad_file = replaced(receipt_statement(), ("predicate", "ontology", "files", "../x.ttl"), H)
    assert "has a key that must be a relative path" in describe(statement_problems(bad_file))


@pytest.mark.parametrize(
    "path",
    ["/dev/zero", "receipts/snapshots/../../../etc/passwd", "receipts//snapshots/x.json", 7],
)
def test_the_snapshot_must_be_named_by_its_content(path: object) -> None:
    bad = replaced(receipt_statement(), ("predicate", "ontology", "snapshot", "path"), path)
    assert describe(statement_problems(bad)).startswith(
        "predicate field `ontology.snapshot.path` must "
    )
    other = replaced(
        receipt_statement(),
        ("predicate", "ontology", "snapshot", "path"),
        f"receipts/snapshots/{H}.json",
    )
    assert "must be `receipts/snapshots/<its sha256>.json`" in describe(statement_problems(other))


def test_duplicate_subject_names_are_refused() -> None:
    statement = receipt_statement()
    statement["subject"].append(copy.deepcopy(statement["subject"][0]))
    assert describe(statement_problems(statement)) == (
        "statement field `subject[2].name` repeats `enforcers/MANIFEST.json`"
    )


def test_problems_are_collected_and_capped() -> None:
    statement = receipt_statement()
    statement["predicate"]["sequence"] = "1"
    statement["predicate"]["parent"] = 1
    assert len(statement_problems(statement)) == 2
    statement["subject"] = [{"name": 1}] * 10**4
    problems = statement_problems(statement)
    assert len(problems) == MAX_PROBLEMS + 1 and problems[-1].where == "…"
    assert f"(and at least {MAX_PROBLEMS} more)" in describe(problems)


def test_non_objects_are_refused() -> None:
    values: tuple[object, ...] = (None, [], "s", 1)
    for value in values:
        assert describe(statement_problems(value)).startswith("the statement must be a JSON object")
    assert describe(statement_problems({})).startswith("statement field `_type` is missing")


# --- the typed values -------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "kind"),
    [(receipt_statement, ReceiptPredicate), (rejection_statement, RejectionPredicate)],
)
def test_typed_predicates_give_back_exactly_what_was_signed(make: Any, kind: Any) -> None:
    predicate = make()["predicate"]
    typed = kind.from_dict(copy.deepcopy(predicate))
    assert typed.to_dict() == predicate
    assert canonical_json(typed.to_dict()) == canonical_json(predicate)
    # Optional parts stay absent when they were.
    first = removed(receipt_statement(), ("predicate", "approvals"))["predicate"]
    assert "approvals" not in ReceiptPredicate.from_dict(first).to_dict()
    bare = {k: v for k, v in rejection_statement()["predicate"].items() if k != "violations"}
    assert RejectionPredicate.from_dict(bare).to_dict() == bare


def test_typed_predicates_read_as_fields() -> None:
    typed = ReceiptPredicate.from_dict(receipt_statement()["predicate"])
    assert typed.sequence == 2 and typed.parent == H2
    assert typed.ontology.snapshot.path == f"receipts/snapshots/{H2}.json"
    assert typed.gates == {"ontology": "PASS", "golden": "PASS", "determinism": "PASS"}
    assert typed.controls["a"].module == "enforcers/controls/a.py"
    assert typed.change.added == ("a",) and typed.golden.total == 150
    assert typed.approvals is not None and typed.approvals.by[0].keyid == H
    rejection = RejectionPredicate.from_dict(rejection_statement()["predicate"])
    assert rejection.ontology.digest is None and rejection.failed_gates == ("ontology",)
    assert rejection.violations is not None and rejection.violations[0].file == "controls/a.ttl"
    assert rejection.golden is None and rejection.failed_cases is None


def test_from_dict_refuses_with_the_structural_check_s_words() -> None:
    bad = replaced(receipt_statement(), ("predicate", "ontology", "snapshot", "path"), 5)
    with pytest.raises(CheckFailed) as raised:
        ReceiptPredicate.from_dict(bad["predicate"])
    assert raised.value.code == 1
    assert raised.value.message == (
        "predicate field `ontology.snapshot.path` must be a string, found a number"
    )
    assert raised.value.problems == statement_problems(bad)
    other = replaced(
        receipt_statement(), ("predicate", "ontology", "snapshot", "path"), "receipts/snapshots/x"
    )
    with pytest.raises(
        CheckFailed, match=re.escape("must be `receipts/snapshots/<its sha256>.json`")
    ):
        ReceiptPredicate.from_dict(other["predicate"])
    with pytest.raises(CheckFailed, match="field `predicate` must be an object, found a list"):
        RejectionPredicate.from_dict([])
    with pytest.raises(CheckFailed, match="`failed_gates` is missing"):
        RejectionPredicate.from_dict(
            removed(rejection_statement(), ("predicate", "failed_gates"))["predicate"]
        )


# --- the readers ------------------------------------------------------------

KEY = Ed25519PrivateKey.generate()


def write_receipt(directory: Path, payload: bytes, sequence: int = 1) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / receipt_name(sequence, sha256_hex(payload))
    path.write_bytes(sign(PAYLOAD_TYPE, payload, KEY).to_json())
    return path


def test_read_receipt_names_the_file_and_every_field(tmp_path: Path) -> None:
    statement = receipt_statement()
    statement["predicate"]["ontology"]["snapshot"]["path"] = 3
    statement["predicate"]["golden"] = []
    path = write_receipt(tmp_path, canonical_json(statement))
    with pytest.raises(CheckFailed) as raised:
        read_receipt(path)
    assert raised.value.code == 1
    assert raised.value.message == (
        f"receipt `{path.name}`: predicate field `ontology.snapshot.path` must be a string, "
        "found a number (and 1 more)"
    )
    assert [p.where for p in raised.value.problems] == [
        "predicate field `ontology.snapshot.path`",
        "predicate field `golden`",
    ]
    assert "restore it from its original copy" in raised.value.hint
    loaded = load_receipt(path)
    assert not loaded.well_formed and len(loaded.problems) == 2
    with pytest.raises(CheckFailed):
        read_chain(tmp_path)
    assert [r.well_formed for r in load_chain(tmp_path)] == [False]


def test_read_receipt_requires_the_receipt_type(tmp_path: Path) -> None:
    path = write_receipt(tmp_path, canonical_json(rejection_statement()))
    assert load_receipt(path, REJECTION_TYPE).well_formed
    with pytest.raises(CheckFailed, match="must be `urn:mu:v1#Receipt`"):
        read_receipt(path)


def test_accessors_of_a_malformed_receipt_do_not_raise(tmp_path: Path) -> None:
    statement = receipt_statement()
    statement["subject"] = [{"name": ["x"]}, 5, {"name": "a", "digest": []}]
    statement["predicate"] = {"sequence": True}
    receipt = load_receipt(write_receipt(tmp_path, canonical_json(statement)))
    assert receipt.subjects == {} and receipt.sequence == 0 and not receipt.well_formed


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff", "the payload is not UTF-8 (byte 0)"),
        (b"[]", "the payload is a list, not a JSON object"),
        (b"not json", "the payload is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "the payload is nested too deeply"),
        (b'{"n": 1' + b"0" * 5000 + b"}", "the payload is not JSON"),
        (b'{"_type": 1, "_type": 2}', "the payload repeats the field `_type`"),
    ],
)
def test_a_signed_payload_that_is_not_a_statement_is_a_problem(
    tmp_path: Path, payload: bytes, message: str
) -> None:
    receipt = load_receipt(write_receipt(tmp_path, payload))
    assert describe(receipt.problems).startswith(message)
    with pytest.raises(InputError, match="payload of"):
        parse_statement(payload, "x.json")


def _envelope(**fields: Any) -> bytes:
    document = {"payloadType": PAYLOAD_TYPE, "payload": "", "signatures": []}
    document |= fields
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "is nested too deeply"),
        (b'{"payload": 1' + b"0" * 5000 + b"}", "holds a number too long to read"),
        (
            _envelope(signatures=[{"keyid": "a\x1b[2J", "sig": "AA=="}]),
            "`keyid` is not up to 256 printable characters",
        ),
        (
            _envelope(signatures=[{"keyid": "k" * 257, "sig": "AA=="}]),
            "`keyid` is not up to 256 printable characters",
        ),
        (_envelope(payloadType=""), "`payloadType` that is not 1 to 256 printable characters"),
        (_envelope(**{"x" * 10**5: 1}), "has unexpected field `xxxx"),
        (
            _envelope(signatures=[{"keyid": "k", "sig": "AA=="}] * 65),
            "has 65 signatures, more than the 64 mu reads",
        ),
    ],
)
def test_envelope_oddities_are_input_errors(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as raised:
        Envelope.from_json(data, "e.json")
    assert message in raised.value.message and len(raised.value.message) < 300


def test_only_a_bounded_regular_file_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="is not a regular file"):
        read_envelope_file(fifo, "receipt")  # would block forever if opened for a read
    with pytest.raises(InputError, match="is not a regular file"):
        read_envelope_file(tmp_path, "receipt")
    if Path("/dev/zero").exists():
        with pytest.raises(InputError, match="is not a regular file"):
            read_envelope_file(Path("/dev/zero"), "receipt")
    with pytest.raises(InputError, match=r"cannot read receipt .*no such file"):
        read_envelope_file(tmp_path / "missing.json", "receipt")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    monkeypatch.setattr(dsse, "MAX_ENVELOPE_BYTES", 1024)
    with pytest.raises(InputError, match="is larger than"):
        read_envelope_file(big, "receipt")


@pytest.mark.slow
def test_what_mu_writes_is_well_formed(mu: Mu, built: Built) -> None:
    """mu reads back every statement it writes: a receipt and both kinds of rejection."""
    receipt = load_receipt(built.receipt)
    assert receipt.problems == ()
    assert receipt.predicate.to_dict() == receipt.statement["predicate"]
    golden = built.root / "golden" / "approvals_vendor.toml"
    text = golden.read_text(encoding="utf-8")
    golden.write_text(text.replace('outcome = "REJECT"', 'outcome = "APPROVE"', 1), "utf-8")
    failed_case = mu("build", "--sign-key", str(built.key), "--format", "json", root=built.root)
    golden.write_text(text, encoding="utf-8")
    change_threshold(built.root, '"approval_over_10k"', '"Bad-Id"')
    violation = mu("build", "--sign-key", str(built.key), "--format", "json", root=built.root)
    for run, field in ((failed_case, "failed_cases"), (violation, "violations")):
        assert run.code == 1, run.out + run.err
        rejection = load_receipt(Path(json.loads(run.out)["rejection"]), REJECTION_TYPE)
        assert rejection.problems == (), rejection.problems
        # Typed, and typed losslessly: `to_dict` gives back exactly what was signed.
        assert getattr(rejection.rejection, field) is not None
        assert rejection.rejection.to_dict() == rejection.statement["predicate"]
