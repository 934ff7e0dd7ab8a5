"""Synthetic policy repositories of any size, for the benchmarks and the equivalence tests.

The shape follows the shipped example: six authority levels, five transaction
types with declared fields (one of them optional), and controls of every class.
Control i has kind `i % 5` and type `TYPES[(i // 5) % 5]`, so every type gets
every kind of control and about a fifth of all controls; `k = i // 25` counts
the controls of one kind within one type and picks the variant:

- approval rules in USD and EUR (alternating), thresholds spread from 1,000 to
  ~1,000,000, required authority L2..CFO, some only for new counterparties;
- segregation rules over each pair of parties and over all three, some only
  above an amount;
- condition rules: sanctioned countries (`in {"IR", "KP"}`), risk scores,
  new counterparties, authority comparisons (`approver.authority >= L4`) and
  an optional field read only behind `and`, with effects Reject and Review;
- notifications and audit logs with and without `mu:onOutcome`, with
  `mu:dependsOn` chains within a type and across types, some applying to two
  types.

Output is a pure function of the size. `transaction(i)` is a pure function of i:
a mix of outcomes on the 1,000-control repository, always valid there (every
type has USD and EUR approval rules once there are 50 or more controls).
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
CURRENCIES = ("USD", "EUR")
PARTY_SETS = (
    ("Initiator", "Approver"),
    ("Approver", "Executor"),
    ("Initiator", "Executor"),
    ("Initiator", "Approver", "Executor"),
)
OUTCOME_SETS = ((), ("Reject",), ("Review",), ("Reject", "Review"), ("Approve",))
# 1 in 12 transactions comes from a sanctioned country.
COUNTRIES = ("DE", "US", "FR", "GB", "NL", "IR", "CH", "JP", "SG", "CA", "KP", "ES")
SEGMENTS = ("retail", "corporate", "public", "shell", "corporate", "retail", "bank")


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
            "mu:required true ] ,\n"
            # Optional: a condition that reads it when it is absent makes the
            # transaction invalid, the path the equivalence tests must reach.
            '    [ a mu:Field ; mu:path "counterparty.segment" ; mu:datatype xsd:string ; '
            "mu:required false ] .\n"
        )
    return "".join(out)


def _condition(k: int) -> tuple[str, str, str]:
    """The k-th condition rule of a type: (condition, effect, message)."""
    variant = k % 6
    if variant == 0:
        countries = ('"IR", "KP"', '"IR", "KP", "SY"', '"KP"')[k // 6 % 3]
        return f"counterparty.country in {{{countries}}}", "Reject", "sanctioned country"
    if variant == 1:
        return (
            f"counterparty.risk_score > {90 + k % 10} and amount > {1000 * (1 + k % 50)}.00",
            "Review",
            "high-risk counterparty",
        )
    if variant == 2:
        return (
            f"counterparty.is_new and amount > {5000 * (1 + k % 20)}.00",
            "Review",
            "large payment to a new counterparty",
        )
    if variant == 3:
        return (
            f"approver.authority >= L4 and counterparty.risk_score >= {95 + k % 5}",
            "Review",
            "senior approver on a risky counterparty",
        )
    if variant == 4:
        return (
            f"not (approver.authority >= L2) and amount > {2000 + 100 * k}",
            "Reject",
            "junior approver on a large amount",
        )
    return (
        'counterparty.is_new and counterparty.segment = "shell"',
        "Reject",
        "new shell company",
    )


def control_ttl(i: int) -> str:
    """The i-th control: kind `i % 5`, type `TYPES[(i // 5) % 5]`, variant `i // 25`."""
    kind, t, k = i % 5, TYPES[(i // 5) % len(TYPES)], i // 25
    cid = f"c{i:05d}"
    applies = f"ex:{t}"
    if kind == 4 and k % 4 == 0:  # some audit logs cover two types, as real ones do
        applies += f", ex:{TYPES[(i // 5 + 1) % len(TYPES)]}"
    head = (
        f'ex:{cid} mu:controlId "{cid}" ; rdfs:label "control {i}" ; '
        f'mu:owner "team-{i % 7}" ; mu:appliesTo {applies} ;\n'
    )
    if kind == 0:
        level = LEVELS[1 + k % 5][0]
        when = ' ; mu:when "counterparty.is_new"' if k % 7 == 3 else ""
        return (
            f"{head}  a mu:ApprovalRule ; mu:amountThreshold "
            f'"{1000 * (1 + (k * 37) % 997)}.00"^^xsd:decimal ;'
            f' mu:currency "{CURRENCIES[k % 2]}" ; mu:requiredAuthority ex:{level}{when} .\n'
        )
    if kind == 1:
        parties = ", ".join(f"mu:{p}" for p in PARTY_SETS[k % len(PARTY_SETS)])
        when = f' ; mu:when "amount > {500 * (1 + k % 4)}.00"' if k % 3 == 2 else ""
        return f"{head}  a mu:SegregationOfDutyRule ; mu:separates {parties}{when} .\n"
    if kind == 2:
        condition, effect, message = _condition(k)
        return (
            f"{head}  a mu:ConditionRule ; mu:effect mu:{effect} ; "
            f'mu:message "{message} ({cid})" ;\n'
            f'  mu:when "{condition.replace(chr(34), chr(92) + chr(34))}" .\n'
        )
    outcomes = OUTCOME_SETS[k % len(OUTCOME_SETS)]
    on = "".join(f" ; mu:onOutcome mu:{o}" for o in outcomes)
    if kind == 3:
        # Every third notification waits for the previous block's audit log of its type.
        dep = f" ; mu:dependsOn ex:c{i - 24:05d}" if k % 3 == 1 and i >= 24 else ""
        when = ' ; mu:when "counterparty.is_new"' if k % 5 == 4 else ""
        recipients = ", ".join(f'"ops{(i + j) % 11}@bench.example"' for j in range(1 + k % 2))
        return f"{head}  a mu:NotificationRule ; mu:recipient {recipients}{on}{dep}{when} .\n"
    # Audit logs chain on their own type's notification, or on another type's audit log.
    deps = [f"ex:c{i - 1:05d}"] if k % 2 == 0 else [f"ex:c{i - 5:05d}"] if i >= 5 else []
    dep = f" ; mu:dependsOn {', '.join(deps)}" if deps else ""
    return f'{head}  a mu:AuditLogRule ; mu:ledger "ledger-{i % 3}"{on}{dep} .\n'


# The repository's `mu.toml`, its reason written in it for whoever opens the benchmark's tree.
CONFIG = """# Benchmarks measure the build, not the golden suite: its one smoke case covers
# almost no control, so the coverage gate requires nothing here (the default is 100).
[build]
min_coverage = 0
"""


def write_repository(root: Path, controls: int) -> Path:
    """Write `ontology/`, a small `golden/` suite and `mu.toml` for `controls` controls."""
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
    (root / "mu.toml").write_text(CONFIG, encoding="utf-8")
    return root


def transaction(i: int) -> dict[str, object]:
    """A deterministic pseudo-random transaction (no `random`: a multiplicative hash of i).

    Amounts spread over six orders of magnitude and the approver's seniority
    grows with the amount (with some noise), so approval rules both pass and
    reject; party ids collide now and then, so segregation rules fire sometimes.
    """
    x = (i * 2654435761 + 12345) % 4294967296
    magnitude = (x >> 4) % 7  # 10**0 .. 10**6
    amount = (x >> 8) % (10**magnitude) if magnitude else 0
    level = max(0, min(len(LEVELS) - 1, magnitude - 4 + (x >> 20) % 4))
    return {
        "id": f"tx-{i}",
        "type": TYPES[x % len(TYPES)],
        "amount": f"{amount}.{(x >> 3) % 100:02d}",
        "currency": CURRENCIES[(x >> 11) % 3 // 2],  # two in three in USD
        "initiator": {"id": f"u{(x >> 5) % 41}"},
        "approver": {"id": f"u{(x >> 13) % 43}", "authority": LEVELS[level][0]},
        "executor": {"id": f"u{(x >> 17) % 47}"},
        "counterparty": {
            "country": COUNTRIES[(x >> 7) % len(COUNTRIES)],
            "risk_score": (x >> 9) % 100,
            "is_new": (x >> 14) % 4 == 0,
            "segment": SEGMENTS[(x >> 22) % len(SEGMENTS)],
        },
    }
