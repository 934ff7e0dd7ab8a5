"""A hand-built `PackageIR` (no RDF) and a loader for rendered enforcer packages.

`sample_package_ir()` covers two transaction types, authorities L1-L5 and CFO,
and one control of each kind plus a second condition rule:

- approval_over_100k (approval, both types): over 100000.00 USD needs L3+;
- board_review (condition, wire_transfer only): REVIEW when the approver is
  L4+ and the amount is over 1000000.00;
- notify_compliance (notification, both): on REJECT or REVIEW; depends on
  record_ledger, so its action comes after the ledger's;
- record_ledger (audit_log, both): any outcome;
- sanctioned_country (condition, both): REJECT when counterparty.country is
  IR or KP;
- sod_three_way (segregation, both): initiator, approver, executor.

`counterparty.country` is optional for vendor_payment and required for
wire_transfer; wire_transfer also has optional `urgent` (boolean), `fee`
(decimal), `batch_size` (integer) and `reviewer.authority` (authority).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import itertools
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mu.generator.compile.ir import (
    AuthorityIR,
    ConditionIR,
    ControlIR,
    FieldIR,
    PackageIR,
    SchemaIR,
    TypeIR,
)
from mu.generator.compile.model import CORE_FIELDS

GENERATOR_NAME = "mu"
GENERATOR_VERSION = "0.1.0"


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


def control_ir(**fields: Any) -> ControlIR:
    """A ControlIR with defaults for the fields a kind does not use; digest computed."""
    values: dict[str, Any] = {
        "applies_to": ("vendor_payment", "wire_transfer"),
        "depends_on": (),
        "when": None,
        "amount_threshold": None,
        "currency": None,
        "required_authority": None,
        "separates": (),
        "effect": None,
        "message": None,
        "recipients": (),
        "on_outcome": (),
        "ledger": None,
        "owner": "compliance@acme.example",
    }
    values.update(fields)
    values.setdefault("label", values["control_id"].replace("_", " "))
    values.pop("digest", None)
    when = values["when"]
    plain = {**values, "when": None if when is None else dataclasses.asdict(when)}
    return ControlIR(**values, digest=_digest(plain))


def with_control(ir: PackageIR, control: ControlIR) -> PackageIR:
    """`ir` with `control` added, or replacing the control of the same id."""
    others = [c for c in ir.controls if c.control_id != control.control_id]
    controls = tuple(sorted([*others, control], key=lambda c: c.control_id))
    return dataclasses.replace(
        ir, controls=controls, dispatch_digest=_digest([c.control_id for c in controls])
    )


def with_controls(ir: PackageIR, controls: list[ControlIR]) -> PackageIR:
    """`ir` with exactly these controls."""
    ordered = tuple(sorted(controls, key=lambda c: c.control_id))
    return dataclasses.replace(
        ir, controls=ordered, dispatch_digest=_digest([c.control_id for c in ordered])
    )


def sample_schema() -> SchemaIR:
    """Two transaction types and authorities L1-L5 plus CFO."""
    core = tuple(FieldIR(f.path, f.datatype, f.required) for f in CORE_FIELDS)
    types = (
        TypeIR(
            "vendor_payment",
            "Vendor payment",
            (*core, FieldIR("counterparty.country", "string", False)),
        ),
        TypeIR(
            "wire_transfer",
            "Wire transfer",
            (
                *core,
                FieldIR("batch_size", "integer", False),
                FieldIR("counterparty.country", "string", True),
                FieldIR("fee", "decimal", False),
                FieldIR("reviewer.authority", "authority", False),
                FieldIR("urgent", "boolean", False),
            ),
        ),
    )
    authorities = (
        *(AuthorityIR(f"L{n}", n, f"Level {n}") for n in range(1, 6)),
        AuthorityIR("CFO", 10, "Chief Financial Officer"),
    )
    plain = {
        "types": [dataclasses.asdict(t) for t in types],
        "authorities": [dataclasses.asdict(a) for a in authorities],
    }
    return SchemaIR(types=types, authorities=authorities, digest=_digest(plain))


def sample_controls() -> list[ControlIR]:
    """One control of each kind, plus a second condition rule."""
    return [
        control_ir(
            control_id="approval_over_100k",
            kind="approval",
            label="Payments over 100k need L3+",
            amount_threshold="100000.00",
            currency="USD",
            required_authority="L3",
        ),
        control_ir(
            control_id="board_review",
            kind="condition",
            applies_to=("wire_transfer",),
            when=ConditionIR(
                text="approver.authority >= L4 and amount > 1000000.00",
                source=(
                    "((tx.rank(tx['approver.authority']) >= tx.rank('L4'))"
                    " and (tx['amount'] > Decimal('1000000.00')))"
                ),
                fields=("amount", "approver.authority"),
                guard=("range", "approver.authority", ">=", "L4"),
                rest_source="(tx['amount'] > Decimal('1000000.00'))",
            ),
            effect="REVIEW",
            message="Wires over 1M approved at L4+ go to the board",
        ),
        control_ir(
            control_id="notify_compliance",
            kind="notification",
            depends_on=("record_ledger",),
            recipients=("compliance@acme.example", "risk@acme.example"),
            on_outcome=("REJECT", "REVIEW"),
        ),
        control_ir(
            control_id="record_ledger",
            kind="audit_log",
            ledger="payments-ledger",
        ),
        control_ir(
            control_id="sanctioned_country",
            kind="condition",
            owner="fraud@acme.example",
            when=ConditionIR(
                text='counterparty.country in {"IR", "KP"}',
                source="(tx['counterparty.country'] in ('IR', 'KP'))",
                fields=("counterparty.country",),
                guard=("member", "counterparty.country", ("IR", "KP")),
                guard_is_condition=True,
            ),
            effect="REJECT",
            message="Counterparty is in a sanctioned country",
        ),
        control_ir(
            control_id="sod_three_way",
            kind="segregation",
            separates=("initiator", "approver", "executor"),
        ),
    ]


def sample_package_ir() -> PackageIR:
    """The sample ontology as IR, ready for `render_package`."""
    base = PackageIR(
        generator_name=GENERATOR_NAME,
        generator_version=GENERATOR_VERSION,
        schema=sample_schema(),
        controls=(),
        dispatch_digest=_digest([]),
    )
    return with_controls(base, sample_controls())


def sample_transaction(**overrides: Any) -> dict[str, Any]:
    """A valid vendor_payment under every threshold, by three different people."""
    tx: dict[str, Any] = {
        "id": "tx-1",
        "type": "vendor_payment",
        "amount": "5000.00",
        "currency": "USD",
        "initiator": {"id": "alice"},
        "approver": {"id": "bob", "authority": "L2"},
        "executor": {"id": "carol"},
        "counterparty": {"country": "FR"},
    }
    tx.update(overrides)
    return tx


_counter = itertools.count()


def load_package(files: dict[str, bytes], tmp_path: Path) -> ModuleType:
    """Write a rendered package under `tmp_path` and import it under a unique name.

    The package is imported from its directory only (no `sys.path` change), so
    this also proves that the generated code uses relative imports throughout.
    """
    name = f"mu_enforcer_{next(_counter)}_{abs(hash(str(tmp_path))) % 10**8}"
    root = tmp_path / name
    for rel, data in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    spec = importlib.util.spec_from_file_location(
        name, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
        raise
    return module
