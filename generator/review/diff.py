"""`mu diff OLD NEW`: what a change to the ontology does, before it ships (SPEC §7).

Both sides are compiled in memory. The report compares them four ways: the
typed model (controls, transaction types, authority levels, roles, and the
organisation's shapes), the generated files, the golden decisions (every case
of either suite run against both enforcer packages), and the blast radius —
the share of control modules a change touches.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mu.generator.compile.load import SourceFile
from mu.generator.compile.model import Ontology
from mu.generator.errors import InputError
from mu.generator.files import compare_trees
from mu.generator.layout import Layout
from mu.generator.review.canonical import shape_lines
from mu.generator.review.packages import imported
from mu.generator.review.sides import CompiledSide, Side, SideKind, compile_side, resolve_side
from mu.generator.run.golden import CaseResult, GoldenCase, run_case

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# A property value as reported: plain, JSON-able, comparable.
Value = str | int | bool | None | tuple[str, ...]
Model = dict[str, dict[str, Value]]
Status = Literal["added", "removed", "changed"]  # what happened to an item going OLD → NEW


@dataclass(frozen=True)
class PropertyChange:
    """One property of one item, old → new (None on the side where it is absent)."""

    property: str
    old: Value
    new: Value


@dataclass(frozen=True)
class ControlChange:
    """A control added, removed or changed, with every property that differs."""

    control_id: str
    status: Status
    properties: tuple[PropertyChange, ...]


@dataclass(frozen=True)
class SchemaChange:
    """A transaction type, authority level, role or shape added, removed or changed."""

    key: str
    status: Status
    properties: tuple[PropertyChange, ...]


@dataclass(frozen=True)
class SchemaChanges:
    """Changes outside the controls, each sorted by key."""

    transaction_types: tuple[SchemaChange, ...]
    authority_levels: tuple[SchemaChange, ...]
    roles: tuple[SchemaChange, ...]
    shapes: tuple[SchemaChange, ...]

    @property
    def empty(self) -> bool:
        """True when nothing outside the controls changed."""
        return not (self.transaction_types or self.authority_levels or self.roles or self.shapes)


@dataclass(frozen=True)
class ModuleChanges:
    """Generated files (paths relative to the package) by what happened to them."""

    changed: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    identical: tuple[str, ...]


@dataclass(frozen=True)
class OutcomeSummary:
    """What one package decided for one case; INVALID carries the problem fields."""

    outcome: str
    reasons: tuple[str, ...]
    actions: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Flip:
    """A golden case whose outcome, reasons or actions differ between the sides."""

    case_id: str
    file: str
    description: str
    old: OutcomeSummary
    new: OutcomeSummary


@dataclass(frozen=True)
class SideLabel:
    """A side as the user named it (never the materialised path, so output is stable)."""

    spec: str
    kind: SideKind


@dataclass(frozen=True)
class DiffReport:
    """Everything `mu diff` found; `ok` is False when the blast radius exceeds the limit."""

    old: SideLabel
    new: SideLabel
    controls: tuple[ControlChange, ...]
    schema: SchemaChanges
    modules: ModuleChanges
    flips: tuple[Flip, ...]
    cases_run: int
    blast_modules: tuple[str, ...]  # control modules changed, added or removed
    blast_total: int  # control modules on either side
    max_blast_radius: float | None

    @property
    def blast_count(self) -> int:
        """How many control modules the change touches (the k of k/N)."""
        return len(self.blast_modules)

    @property
    def blast_radius(self) -> float:
        """Changed + added + removed control modules over all control modules."""
        return len(self.blast_modules) / self.blast_total if self.blast_total else 0.0

    @property
    def ok(self) -> bool:
        """False when a limit was given and the blast radius exceeds it."""
        return self.max_blast_radius is None or self.blast_radius <= self.max_blast_radius


def _plain(value: object) -> Value:
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, Decimal):
        return str(value)  # keeps the written scale: 100000.00, not 1E+5
    if isinstance(value, tuple | list):
        return tuple(str(_plain(v)) for v in value)
    return str(value)


def _fields(record: DataclassInstance, key: str) -> dict[str, Value]:
    # Declaration order of the model: a reviewer reads `kind` and `label` before the rest.
    # The model's records are flat, so reading the fields needs no `asdict` deep copy
    # (a third of the comparison's time at 1,000 controls).
    return {
        f.name: _plain(getattr(record, f.name))
        for f in dataclasses.fields(record)
        if f.name != key
    }


def _controls(o: Ontology) -> Model:
    return {c.control_id: _fields(c, "control_id") for c in o.controls}


def _types(o: Ontology) -> Model:
    out: Model = {}
    for t in o.transaction_types:
        props: dict[str, Value] = {"iri": t.iri, "label": t.label}
        for f in t.fields:
            # A field is one property, so adding, dropping or retyping it is one line.
            props[f"field {f.path}"] = f"{f.datatype}, {'required' if f.required else 'optional'}"
        out[t.type_id] = props
    return out


def _authority(o: Ontology) -> Model:
    return {a.code: _fields(a, "code") for a in o.authority_levels}


def _roles(o: Ontology) -> Model:
    return {r.iri: _fields(r, "iri") for r in o.roles}


def _shapes(sources: tuple[SourceFile, ...]) -> Model:
    """Each IRI subject of Σ → its triples (with its blank nodes), canonical N3 lines."""
    return {subject: {"triples": lines} for subject, lines in shape_lines(sources).items()}


def _set_only(props: Mapping[str, Value]) -> dict[str, Value]:
    return {k: v for k, v in props.items() if v not in (None, ())}


def _same(a: Value, b: Value) -> bool:
    # By type as well as value, so `1` → `True` (equal in Python) is still a change.
    return type(a) is type(b) and a == b


def _touched(old: Model, new: Model) -> dict[str, set[str]]:
    """Keys added or removed (no properties), and changed keys → the properties that differ."""
    touched: dict[str, set[str]] = {}
    for key in old.keys() ^ new.keys():
        touched[key] = set()
    for key in old.keys() & new.keys():
        a, b = old[key], new[key]
        props = set(a.keys() ^ b.keys())
        props.update(p for p in a.keys() & b.keys() if not _same(a[p], b[p]))
        if props:
            touched[key] = props
    return touched


def _keyed(old: Model, new: Model) -> list[tuple[str, Status, tuple[PropertyChange, ...]]]:
    """Items added, removed and changed (with the properties that differ, in model order)."""
    touched = _touched(old, new)
    out: list[tuple[str, Status, tuple[PropertyChange, ...]]] = []
    for key in sorted(touched):
        if key not in old:
            props = _set_only(new[key])
            out.append((key, "added", tuple(PropertyChange(p, None, props[p]) for p in props)))
        elif key not in new:
            props = _set_only(old[key])
            out.append((key, "removed", tuple(PropertyChange(p, props[p], None) for p in props)))
        else:
            order = [*old[key], *(p for p in new[key] if p not in old[key])]
            changed = (
                PropertyChange(p, old[key].get(p), new[key].get(p))
                for p in order
                if p in touched[key]
            )
            out.append((key, "changed", tuple(changed)))
    return out


def _lines(value: Value) -> set[str]:
    return set(value) if isinstance(value, tuple) else set()


def _shape_changes(old: Model, new: Model) -> tuple[SchemaChange, ...]:
    out = []
    for key, status, props in _keyed(old, new):
        if status == "changed":
            # Only the triples that differ: lines only in OLD → lines only in NEW.
            before, after = _lines(old[key]["triples"]), _lines(new[key]["triples"])
            removed, added = tuple(sorted(before - after)), tuple(sorted(after - before))
            props = (PropertyChange("triples", removed, added),)
        out.append(SchemaChange(key, status, props))
    return tuple(out)


def _schema(old: CompiledSide, new: CompiledSide) -> SchemaChanges:
    o, n = old.compiled.ontology, new.compiled.ontology

    def changes(pick: Model, other: Model) -> tuple[SchemaChange, ...]:
        return tuple(SchemaChange(*change) for change in _keyed(pick, other))

    return SchemaChanges(
        transaction_types=changes(_types(o), _types(n)),
        authority_levels=changes(_authority(o), _authority(n)),
        roles=changes(_roles(o), _roles(n)),
        shapes=_shape_changes(
            _shapes(old.compiled.checked.loaded.shape_files),
            _shapes(new.compiled.checked.loaded.shape_files),
        ),
    )


def _modules(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> ModuleChanges:
    tree = compare_trees(old, new)
    same = tuple(sorted(p for p in set(old) & set(new) if old[p] == new[p]))
    return ModuleChanges(tree.changed, tree.added, tree.removed, same)


def _is_control_module(path: str) -> bool:
    """`controls/<id>.py`: the unit of the blast radius (not the package's `__init__`)."""
    top, _, name = path.partition("/")
    return top == "controls" and "/" not in name and name.endswith(".py") and name != "__init__.py"


def _summary(result: CaseResult) -> OutcomeSummary:
    if result.outcome == "INVALID":
        # run_case reports the refused fields as the reasons of an invalid transaction.
        return OutcomeSummary("INVALID", (), (), result.reasons)
    return OutcomeSummary(result.outcome, result.reasons, result.actions, ())


def _union(old: Iterable[GoldenCase], new: Iterable[GoldenCase]) -> list[GoldenCase]:
    by_id = {c.case_id: c for c in old}
    by_id.update({c.case_id: c for c in new})  # NEW's version of a case wins
    return [by_id[k] for k in sorted(by_id)]


def _flips(old: CompiledSide, new: CompiledSide, cases: list[GoldenCase]) -> tuple[Flip, ...]:
    if not cases:
        return ()
    # Imported from memory: writing two packages to disk to import them cost more
    # than everything else the comparison does (see `review.packages`).
    with imported((old.compiled.files, new.compiled.files)) as (before, after):
        flips = []
        for case in cases:
            a, b = _summary(run_case(before, case)), _summary(run_case(after, case))
            if a != b:
                flips.append(Flip(case.case_id, case.file, case.description, a, b))
    return tuple(flips)


def check_limit(limit: float | None) -> None:
    """Refuse a `--max-blast-radius` outside 0..1 (bad usage, exit 2)."""
    if limit is not None and not 0.0 <= limit <= 1.0:
        raise InputError(
            f"`{limit}` is not a blast radius",
            hint="give a fraction between 0 and 1, e.g. `--max-blast-radius 0.1`",
        )


def compare(
    old: CompiledSide, new: CompiledSide, *, max_blast_radius: float | None = None
) -> DiffReport:
    """The diff of two compiled sides (lets a caller compile a side once, diff it often)."""
    check_limit(max_blast_radius)
    modules = _modules(old.compiled.files, new.compiled.files)
    touched = (*modules.changed, *modules.added, *modules.removed)
    blast = tuple(sorted(p for p in touched if _is_control_module(p)))
    total = len({p for p in (*old.compiled.files, *new.compiled.files) if _is_control_module(p)})
    cases = _union(old.cases, new.cases)
    return DiffReport(
        old=SideLabel(old.side.spec, old.side.kind),
        new=SideLabel(new.side.spec, new.side.kind),
        controls=tuple(
            ControlChange(*change)
            for change in _keyed(_controls(old.compiled.ontology), _controls(new.compiled.ontology))
        ),
        schema=_schema(old, new),
        modules=modules,
        flips=_flips(old, new, cases),
        cases_run=len(cases),
        blast_modules=blast,
        blast_total=total,
        max_blast_radius=max_blast_radius,
    )


def diff(old: Side, new: Side, *, max_blast_radius: float | None = None) -> DiffReport:
    """Compile both sides in memory and compare them (SPEC §7, `mu diff`)."""
    check_limit(max_blast_radius)  # before compiling anything: a bad limit is a usage error
    return compare(compile_side(old), compile_side(new), max_blast_radius=max_blast_radius)


def diff_specs(
    old: str, new: str, repo: Layout, *, max_blast_radius: float | None = None
) -> DiffReport:
    """`mu diff OLD NEW` in one call: resolve both specs in a scratch directory, then diff."""
    check_limit(max_blast_radius)
    with tempfile.TemporaryDirectory(prefix="mu-diff-sides-") as work:
        sides = (resolve_side(old, repo, Path(work)), resolve_side(new, repo, Path(work)))
        return diff(*sides, max_blast_radius=max_blast_radius)
