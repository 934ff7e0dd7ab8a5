"""Boundary cases generated from the ontology itself, for `mu upgrade-check` and the
reference gate of `mu build`.

Behaviour changes hide at edges, so for every control we probe them: each
approval threshold ± the smallest currency unit and exactly at it, with every
authority level; each condition's literals and their neighbours; every party
identity pattern of each segregation rule. Cases are a pure function of the
ontology: same ontology, same cases, same order.

The cases come from *sites*: a transaction type's authority levels, or one
control of that type. Listing the sites (`Boundaries.of`) parses nothing;
`Boundaries.cases` makes one site's cases on demand, so a caller that probes
a few sites of a 10,000-control ontology does not pay for all of them.
`boundary_cases` makes every one, in the order and with the ids it always had.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mu.generator.compile.conditions import parse_condition
from mu.generator.compile.conditions.ast import (
    And,
    BoolLit,
    Compare,
    DecimalLit,
    FieldRef,
    In,
    IntLit,
    Name,
    Not,
    Or,
    SetLit,
    StrLit,
)
from mu.generator.compile.model import PARTIES, Control, Ontology, TransactionType

# ISO 4217 minor units that differ from two; every other currency steps by 0.01.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3}
MAX_COMBINATIONS = 243  # per condition; 3 values for each of 5 fields
PLACEHOLDER = {"string": "XX", "integer": 0, "boolean": False, "decimal": "0.00"}
SEGREGATION_PATTERNS = ((0, 1, 2), (0, 0, 1), (0, 1, 0), (0, 1, 1), (0, 0, 0))


@dataclass(frozen=True)
class BoundaryCase:
    """One generated transaction and why it exists."""

    case_id: str
    description: str
    transaction: dict[str, Any]


@dataclass(frozen=True)
class Probe:
    """One case of a site, before numbering: `label` says what it probes."""

    label: str
    description: str
    transaction: dict[str, Any]


@dataclass(frozen=True)
class Site:
    """Where boundary cases come from: one transaction type's authority levels
    (`control` None), or one control of that type that has an edge to probe."""

    ttype: TransactionType
    control: Control | None


def unit(currency: str) -> Decimal:
    """The smallest unit of a currency (0.01 for most)."""
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency, 2))


def _set(tx: dict[str, Any], path: str, value: Any) -> None:
    node = tx
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def base_transaction(ontology: Ontology, ttype: TransactionType) -> dict[str, Any]:
    """A valid, unremarkable transaction of `ttype`: distinct parties, the top authority."""
    currencies = sorted(
        {
            c.currency
            for c in ontology.controls
            if c.kind == "approval" and c.currency and ttype.type_id in c.applies_to
        }
    )
    top = ontology.authority_levels[-1].code if ontology.authority_levels else "L1"
    tx: dict[str, Any] = {
        "id": f"boundary-{ttype.type_id}",
        "type": ttype.type_id,
        "amount": "0.00",
        "currency": currencies[0] if currencies else "USD",
        "initiator": {"id": "initiator-1"},
        "approver": {"id": "approver-1", "authority": top},
        "executor": {"id": "executor-1"},
    }
    for f in ttype.fields:
        value = top if f.datatype == "authority" else PLACEHOLDER[f.datatype]
        _set(tx, f.path, value)
    return tx


def _literals(node: object) -> Iterator[tuple[str, object]]:
    """(field path, literal) pairs a condition compares, with authority names as codes."""
    if isinstance(node, And | Or):
        for operand in node.operands:
            yield from _literals(operand)
    elif isinstance(node, Not):
        yield from _literals(node.operand)
    elif isinstance(node, Compare):
        for field, lit in ((node.left, node.right), (node.right, node.left)):
            if isinstance(field, FieldRef | Name):
                path = field.path if isinstance(field, FieldRef) else field.name
                yield from _literal_values(path, lit)
    elif isinstance(node, In) and isinstance(node.left, FieldRef | Name):
        path = node.left.path if isinstance(node.left, FieldRef) else node.left.name
        for item in node.right.items if isinstance(node.right, SetLit) else ():
            yield from _literal_values(path, item)
    elif isinstance(node, FieldRef):
        yield (node.path, True)


def _literal_values(path: str, lit: object) -> Iterator[tuple[str, object]]:
    if isinstance(lit, DecimalLit | IntLit | StrLit | BoolLit):
        yield (path, lit.value)
    elif isinstance(lit, Name):
        yield (path, lit.name)


def _neighbours(value: object, datatype: str, currency: str) -> list[object]:
    if datatype == "decimal" and isinstance(value, Decimal | int):
        step = unit(currency)
        return [
            f"{Decimal(value) + d:f}" for d in (-step, Decimal(0), step) if Decimal(value) + d >= 0
        ]
    if datatype == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return [value - 1, value, value + 1]
    if datatype == "boolean":
        return [True, False]
    if datatype == "string" and isinstance(value, str):
        return [value, value + "X", value.lower() if value.lower() != value else value.upper()]
    return [value]


def _has_edges(control: Control) -> bool:
    """Whether a control gives its sites any case (known without parsing its condition)."""
    approval = control.kind == "approval" and control.amount_threshold is not None
    return approval or control.kind == "segregation" or bool(control.when)


@dataclass(frozen=True)
class Boundaries:
    """The sites of an ontology's boundary cases, in order, and what every site shares."""

    ontology: Ontology
    sites: tuple[Site, ...]
    codes: tuple[str, ...]  # every authority code, by rank
    bases: Mapping[str, dict[str, Any]]  # type id → its base transaction (never mutated)

    @classmethod
    def of(cls, ontology: Ontology) -> Boundaries:
        """Every site: per type, its authority levels, then each control of it with edges."""
        sites: list[Site] = []
        for ttype in ontology.transaction_types:
            sites.append(Site(ttype, None))
            sites += [
                Site(ttype, c)
                for c in ontology.controls
                if ttype.type_id in c.applies_to and _has_edges(c)
            ]
        bases = {t.type_id: base_transaction(ontology, t) for t in ontology.transaction_types}
        codes = tuple(a.code for a in ontology.authority_levels)
        return cls(ontology, tuple(sites), codes, bases)

    def cases(self, site: Site) -> list[Probe]:
        """The cases of one site, in a fixed order (labels unique within the site)."""
        base = self.bases[site.ttype.type_id]
        if site.control is None:
            return [
                Probe(
                    f"{site.ttype.type_id}:authority:{code}",
                    f"approver authority {code}",
                    _with(base, {"approver.authority": code}),
                )
                for code in self.codes
            ]
        return self._control_cases(site.ttype, site.control, base)

    def _control_cases(
        self, ttype: TransactionType, control: Control, base: dict[str, Any]
    ) -> list[Probe]:
        cid = control.control_id
        out: list[Probe] = []
        if control.kind == "approval" and control.amount_threshold is not None:
            currency = control.currency or "USD"
            for amount in _neighbours(control.amount_threshold, "decimal", currency):
                for code in self.codes:
                    tx = _with(base, {"approver.authority": code})
                    tx.update(amount=amount, currency=currency)
                    label = f"{cid}:amount:{amount}:{code}"
                    out.append(Probe(label, f"{amount} {currency}, {code}", tx))
        if control.kind == "segregation":
            for pattern in SEGREGATION_PATTERNS:
                ids = {f"{p}.id": f"person-{who}" for p, who in zip(PARTIES, pattern, strict=True)}
                tx = _with(base, ids)
                out.append(Probe(f"{cid}:parties:{pattern}", f"party identities {pattern}", tx))
        if control.when:
            out += self._condition_cases(ttype, control, base)
        return out

    def _condition_cases(
        self, ttype: TransactionType, control: Control, base: dict[str, Any]
    ) -> list[Probe]:
        """Every combination of each field's literal neighbourhood, so that a
        conjunction's edge is reached with its other parts true."""
        assert control.when is not None
        datatypes = {f.path: f.datatype for f in ttype.fields}
        datatypes.update(amount="decimal", currency="string")
        datatypes["approver.authority"] = "authority"
        candidates: dict[str, list[object]] = {}
        for path, value in _literals(parse_condition(control.when)):
            datatype = datatypes.get(path, "string")
            values = (
                list(self.codes)
                if datatype == "authority"
                else _neighbours(value, datatype, str(base["currency"]))
            )
            known = candidates.setdefault(path, [])
            known += [v for v in values if v not in known]
        paths = sorted(candidates)
        out: list[Probe] = []
        for combo in itertools.islice(
            itertools.product(*(candidates[p] for p in paths)), MAX_COMBINATIONS
        ):
            label = ", ".join(f"{p}={v}" for p, v in zip(paths, combo, strict=True))
            tx = _with(base, dict(zip(paths, combo, strict=True)))
            out.append(Probe(f"{control.control_id}:when:{label}", label, tx))
        return out


def boundary_cases(ontology: Ontology) -> tuple[BoundaryCase, ...]:
    """Every boundary case of the ontology, deterministically ordered and named."""
    boundaries = Boundaries.of(ontology)
    cases: list[BoundaryCase] = []
    for site in boundaries.sites:
        for probe in boundaries.cases(site):
            case_id = f"{probe.label}#{len(cases):05d}"
            cases.append(BoundaryCase(case_id, probe.description, probe.transaction))
    return tuple(cases)


def _with(base: dict[str, Any], values: Mapping[str, object]) -> dict[str, Any]:
    """A copy of `base` (nested tables copied too) with `values` set at their paths."""
    tx = _copy(base)
    for path, value in values.items():
        _set(tx, path, value)
    return tx


def _copy(tx: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in tx.items()}
