"""Synthetic policy repositories of any size, for the benchmarks.

The shape follows the shipped example: six authority levels, five transaction
types with declared fields, and controls of every class in a fixed rotation.
Output is a pure function of the size.
"""

from __future__ import annotations

from pathlib import Path

PREFIXES = """@prefix ex: <https://bench.example/policy#> .
@prefix mu: <urn:mu:v1#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
TYPES = ("vendor_payment", "wire_transfer", "expense_refund", "payroll_run", "fx_trade")
LEVELS = (("L1", 1), ("L2", 2), ("L3", 3), ("L4", 4), ("L5", 5), ("CFO", 6))


def schema_ttl() -> str:
    """Authority levels and transaction types with their fields."""
    out = [PREFIXES]
    for code, rank in LEVELS:
        out.append(
            f'ex:{code} a mu:AuthorityLevel ; mu:code "{code}" ; mu:rank {rank} ; '
            f'rdfs:label "level {code}" .\n'
        )
    for t in TYPES:
        out.append(
            f'ex:{t} a mu:TransactionType ; mu:typeId "{t}" ; rdfs:label "{t}" ;\n'
            '  mu:hasField [ a mu:Field ; mu:path "counterparty.country" ; '
            "mu:datatype xsd:string ; mu:required true ] ,\n"
            '    [ a mu:Field ; mu:path "counterparty.risk_score" ; mu:datatype xsd:integer ; '
            "mu:required true ] ,\n"
            '    [ a mu:Field ; mu:path "counterparty.is_new" ; mu:datatype xsd:boolean ; '
            "mu:required true ] .\n"
        )
    return "".join(out)


def control_ttl(i: int) -> str:
    """The i-th control; the kind rotates through all five classes."""
    t = TYPES[i % len(TYPES)]
    cid = f"c{i:05d}"
    head = (
        f'ex:{cid} mu:controlId "{cid}" ; rdfs:label "control {i}" ; '
        f'mu:owner "team-{i % 7}" ; mu:appliesTo ex:{t} ;\n'
    )
    kind = i % 5
    if kind == 0:
        level = LEVELS[1 + (i // 5) % 5][0]
        return (
            f"{head}  a mu:ApprovalRule ; mu:amountThreshold "
            f'"{1000 * (1 + i % 997)}.00"^^xsd:decimal ;'
            f' mu:currency "USD" ; mu:requiredAuthority ex:{level} .\n'
        )
    if kind == 1:
        return f"{head}  a mu:SegregationOfDutyRule ; mu:separates mu:Approver, mu:Executor .\n"
    if kind == 2:
        return (
            f"{head}  a mu:ConditionRule ; mu:effect mu:Review ; "
            f'mu:message "risk {i}" ;\n'
            f'  mu:when "counterparty.risk_score > {50 + i % 50} and amount > {i % 9000}" .\n'
        )
    if kind == 3:
        return (
            f'{head}  a mu:NotificationRule ; mu:recipient "ops{i % 11}@bench.example" ; '
            "mu:onOutcome mu:Reject .\n"
        )
    dep = f" ; mu:dependsOn ex:c{i - 1:05d}" if i >= 1 else ""
    return f'{head}  a mu:AuditLogRule ; mu:ledger "ledger-{i % 3}"{dep} .\n'


def write_repository(root: Path, controls: int) -> Path:
    """Write `ontology/` and a small `golden/` suite for `controls` controls under root."""
    (root / "ontology" / "controls").mkdir(parents=True, exist_ok=True)
    (root / "ontology" / "shapes").mkdir(parents=True, exist_ok=True)
    (root / "golden").mkdir(parents=True, exist_ok=True)
    (root / "ontology" / "controls" / "schema.ttl").write_text(schema_ttl(), encoding="utf-8")
    body = PREFIXES + "".join(control_ttl(i) for i in range(controls))
    (root / "ontology" / "controls" / "controls.ttl").write_text(body, encoding="utf-8")
    (root / "golden" / "smoke.toml").write_text(
        "[[case]]\n"
        'id = "smoke"\n'
        'transaction = { id = "t", type = "vendor_payment", amount = "10.00", currency = "USD", '
        'initiator = { id = "a" }, approver = { id = "b", authority = "CFO" }, '
        'executor = { id = "c" }, counterparty = { country = "DE", risk_score = 1, '
        "is_new = false } }\n"
        'expect = { outcome = "APPROVE" }\n',
        encoding="utf-8",
    )
    return root


def transaction(i: int) -> dict[str, object]:
    """A deterministic pseudo-random transaction (no `random`: a fixed LCG)."""
    x = (i * 2654435761) % 4294967296
    return {
        "id": f"tx-{i}",
        "type": TYPES[x % len(TYPES)],
        "amount": f"{x % 2_000_000}.{x % 100:02d}",
        "currency": "USD",
        "initiator": {"id": f"u{x % 13}"},
        "approver": {"id": f"u{x % 17}", "authority": LEVELS[x % len(LEVELS)][0]},
        "executor": {"id": f"u{x % 19}"},
        "counterparty": {
            "country": ("DE", "US", "IR")[x % 3],
            "risk_score": x % 100,
            "is_new": bool(x % 2),
        },
    }
