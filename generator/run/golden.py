"""Golden cases (SPEC §8): load `golden/*.toml`, run them against an enforcer
package, and measure per-control coverage.

A control is covered when the suite shows both sides of its rule: at least one
case in which it fires (rejects, asks for review, emits an action) and one in
which it applies to the transaction's type but does not fire.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mu.generator.compile.model import OUTCOMES
from mu.generator.errors import InputError, Location, Problem
from mu.generator.hashing import tree_digest
from mu.generator.layout import sorted_files
from mu.generator.progress import Progress, Step, silent

MAX_GOLDEN_BYTES = 16 * 1024 * 1024
# The bound of `mu decide` (generator/decide.py): a case's transaction is one too.
MAX_DEPTH = 64


@dataclass(frozen=True)
class GoldenCase:
    """One `[[case]]`: a transaction and what must come out of it.

    `expect_invalid` (an extension of SPEC §8, `expect.invalid = ["currency"]`)
    says the enforcer must refuse the transaction, naming those fields.
    """

    case_id: str
    description: str
    file: str
    transaction: Mapping[str, Any]
    expect_outcome: str | None
    expect_controls: tuple[str, ...]
    expect_actions: tuple[str, ...]
    expect_invalid: tuple[str, ...] | None


@dataclass(frozen=True)
class GoldenSuite:
    """Every case of the suite, sorted by file then position, and the suite digest."""

    cases: tuple[GoldenCase, ...]
    digest: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one case: what came out, and every mismatch with `expect`."""

    case_id: str
    file: str
    outcome: str  # APPROVE / REJECT / REVIEW, or INVALID / ERROR when refused
    reasons: tuple[str, ...]
    actions: tuple[str, ...]
    mismatches: tuple[str, ...]
    fired: tuple[str, ...]
    applied: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when the case met every expectation."""
        return not self.mismatches


@dataclass(frozen=True)
class ControlCoverage:
    """How many cases made a control fire, and how many saw it apply without firing."""

    control_id: str
    fired: int
    not_fired: int
    # An action control with no condition and no `onOutcome` fires on every
    # decision of its types: it has no other side to exercise.
    unconditional: bool = False

    @property
    def covered(self) -> bool:
        """Both sides of the rule are exercised (one side if it has only one)."""
        return self.fired > 0 and (self.not_fired > 0 or self.unconditional)


@dataclass(frozen=True)
class GoldenReport:
    """Results of a run, coverage per control (sorted by id), and the suite digest."""

    suite_digest: str
    results: tuple[CaseResult, ...]
    coverage: tuple[ControlCoverage, ...]

    @property
    def passed(self) -> int:
        """Number of passing cases."""
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        """Number of failing cases."""
        return len(self.results) - self.passed

    @property
    def total(self) -> int:
        """Number of cases run."""
        return len(self.results)

    @property
    def coverage_percent(self) -> float:
        """Share of controls whose both sides are exercised, in percent."""
        if not self.coverage:
            return 100.0
        return 100.0 * sum(1 for c in self.coverage if c.covered) / len(self.coverage)

    @property
    def ok(self) -> bool:
        """True when every case passed."""
        return self.failed == 0


def action_key(kind: str, control_id: str) -> str:
    """How golden files name an action: `notify:<control id>` or `ledger:<control id>`."""
    return f"{kind}:{control_id}"


def _strings(value: Any, where: str, name: str, problems: list[Problem]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(where, f"`{name}` must be a list of strings"))
        return ()
    return tuple(value)


def _case(raw: Any, file: str, index: int, problems: list[Problem]) -> GoldenCase | None:
    where = f"{file} case {index + 1}"
    if not isinstance(raw, dict):
        problems.append(Problem(where, "each `[[case]]` must be a table"))
        return None
    case_id = raw.get("id")
    if not isinstance(case_id, str) or not case_id:
        problems.append(Problem(where, "a case needs a string `id`"))
        return None
    where = f"{file} case `{case_id}`"
    tx, expect = raw.get("transaction"), raw.get("expect")
    if not isinstance(tx, dict):
        problems.append(Problem(where, "`transaction` must be a table"))
    elif _too_deep(tx, MAX_DEPTH):
        # So that no later walk over the transaction can hit the recursion limit.
        problems.append(Problem(where, f"`transaction` nests more than {MAX_DEPTH} levels"))
        tx = None
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.append(Problem(where, "`description` must be a string"))
    if not isinstance(expect, dict):
        problems.append(Problem(where, "`expect` must be a table"))
        return None
    outcome = expect.get("outcome")
    invalid = expect.get("invalid")
    if outcome is None and invalid is None:
        problems.append(Problem(where, "`expect` needs an `outcome` (or `invalid`)"))
    if outcome is not None and outcome not in OUTCOMES:
        problems.append(Problem(where, f"`expect.outcome` must be one of {', '.join(OUTCOMES)}"))
    unknown = sorted(set(expect) - {"outcome", "controls", "actions", "invalid"})
    if unknown:
        problems.append(Problem(where, f"unknown `expect` key(s): {', '.join(unknown)}"))
    return GoldenCase(
        case_id=case_id,
        description=description if isinstance(description, str) else "",
        file=file,
        transaction=tx if isinstance(tx, dict) else {},
        expect_outcome=outcome if isinstance(outcome, str) else None,
        expect_controls=_strings(expect.get("controls"), where, "expect.controls", problems),
        expect_actions=_strings(expect.get("actions"), where, "expect.actions", problems),
        expect_invalid=None
        if invalid is None
        else _strings(invalid, where, "expect.invalid", problems),
    )


def _read_toml(
    path: Path, where: str, problems: list[Problem]
) -> tuple[dict[str, Any] | None, bytes | None]:
    """The parsed document and the file's bytes; a problem (and None) when unreadable."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_GOLDEN_BYTES + 1)
    except OSError as exc:
        problems.append(Problem(where, f"cannot read: {(exc.strerror or str(exc)).lower()}"))
        return None, None
    if len(data) > MAX_GOLDEN_BYTES:
        problems.append(Problem(where, "larger than 16 MiB", "split it into several files"))
        return None, None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(where, f"not UTF-8 (byte {exc.start})", "save it as UTF-8"))
        return None, data
    try:
        return tomllib.loads(text), data
    except tomllib.TOMLDecodeError as exc:
        location = Location.of_parse_error(where, exc)
        problems.append(Problem(where, f"not valid TOML: {exc}", location=location))
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        problems.append(Problem(where, "not valid TOML: nested too deeply"))
    return None, data


def _too_deep(value: Any, limit: int) -> bool:
    """True when `value` nests tables or arrays more than `limit` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def load_suite(directory: Path) -> GoldenSuite:
    """Read every `*.toml` under `directory`; a bad file or case stops with all problems."""
    paths = sorted_files(directory, "*.toml")
    if not paths:
        raise InputError(f"no golden cases in `{directory}`", hint="add `golden/*.toml` files")
    problems: list[Problem] = []
    cases: list[GoldenCase] = []
    blobs: dict[str, bytes] = {}
    for path in paths:
        rel = path.relative_to(directory).as_posix()
        doc, data = _read_toml(path, f"golden/{rel}", problems)
        if data is not None:
            blobs[rel] = data
        if doc is None:
            continue
        raw_cases = doc.get("case", [])
        if not isinstance(raw_cases, list):
            problems.append(Problem(f"golden/{rel}", "`case` must be an array of tables"))
            continue
        for index, raw in enumerate(raw_cases):
            case = _case(raw, f"golden/{rel}", index, problems)
            if case is not None:
                cases.append(case)
    seen: dict[str, str] = {}
    for case in cases:
        if case.case_id in seen:
            problems.append(
                Problem(case.file, f"case id `{case.case_id}` is also used in {seen[case.case_id]}")
            )
        seen.setdefault(case.case_id, case.file)
    if problems:
        raise InputError(
            f"{len(problems)} problem(s) in the golden suite",
            hint="golden files are TOML lists of `[[case]]` tables (SPEC §8)",
            problems=problems,
        )
    return GoldenSuite(tuple(cases), tree_digest(blobs), tuple(sorted(blobs)))


def select(suite: GoldenSuite, scenario: str | None) -> tuple[GoldenCase, ...]:
    """The cases whose id matches `scenario` (exact or a shell pattern); all when None."""
    if scenario is None:
        return suite.cases
    chosen = tuple(c for c in suite.cases if fnmatch.fnmatchcase(c.case_id, scenario))
    if not chosen:
        raise InputError(
            f"no golden case matches `{scenario}`",
            hint="`mu test` with no `--scenario` lists every case id",
        )
    return chosen


def run_case(enforcers: ModuleType, case: GoldenCase) -> CaseResult:
    """Evaluate one case with the enforcer package and compare with its `expect`."""
    mismatches: list[str] = []
    try:
        decision = enforcers.evaluate(case.transaction)
    except enforcers.InvalidTransaction as exc:
        fields = tuple(sorted({p.field for p in exc.problems}))
        if case.expect_invalid is None:
            mismatches.append(f"expected {case.expect_outcome}, got an invalid transaction: {exc}")
        else:
            missing = [f for f in case.expect_invalid if f not in fields]
            if missing:
                mismatches.append(f"refused, but not for field(s) {', '.join(missing)}: {exc}")
        return CaseResult(case.case_id, case.file, "INVALID", fields, (), tuple(mismatches), (), ())
    except Exception as exc:  # a generated-code defect must be reported, not crash the run
        mismatches.append(f"enforcer error: {type(exc).__name__}: {exc}")
        return CaseResult(case.case_id, case.file, "ERROR", (), (), tuple(mismatches), (), ())
    reasons = tuple(r.control_id for r in decision.reasons)
    actions = tuple(action_key(a.kind, a.control_id) for a in decision.actions)
    if case.expect_invalid is not None:
        mismatches.append(f"expected the transaction to be refused, got {decision.outcome}")
    elif case.expect_outcome != decision.outcome:
        mismatches.append(f"expected outcome {case.expect_outcome}, got {decision.outcome}")
    for control in case.expect_controls:
        if control not in reasons:
            mismatches.append(f"expected control `{control}` among the reasons {list(reasons)}")
    for action in case.expect_actions:
        if action not in actions:
            mismatches.append(f"expected action `{action}` among {list(actions)}")
    fired = tuple(t.control_id for t in decision.trace if t.status == "fired")
    applied = tuple(t.control_id for t in decision.trace)
    return CaseResult(
        case.case_id,
        case.file,
        decision.outcome,
        reasons,
        actions,
        tuple(mismatches),
        fired,
        applied,
    )


def unconditional_controls(enforcers: ModuleType) -> frozenset[str]:
    """Action controls with neither a condition nor an `onOutcome` filter."""
    return frozenset(
        m.CONTROL_ID
        for m in enforcers.dispatch.CONTROLS
        if m.KIND in ("notification", "audit_log")
        and m.CONDITION_TEXT is None
        and not getattr(m, "ON_OUTCOME", ())
    )


def run_suite(
    enforcers: ModuleType,
    suite: GoldenSuite,
    cases: Sequence[GoldenCase],
    progress: Progress = silent,
) -> GoldenReport:
    """Run `cases` and compute coverage over every control of the package; `progress`
    hears `golden` with the count of cases run, before the first and after each."""
    control_ids = tuple(enforcers.CONTROL_IDS)
    one_sided = unconditional_controls(enforcers)
    progress(Step("golden", 0, len(cases)))
    ran: list[CaseResult] = []
    for case in cases:
        ran.append(run_case(enforcers, case))
        progress(Step("golden", len(ran), len(cases)))
    results = tuple(ran)
    fired = {c: 0 for c in control_ids}
    not_fired = {c: 0 for c in control_ids}
    for result in results:
        for control in result.applied:
            if control in fired:
                if control in result.fired:
                    fired[control] += 1
                else:
                    not_fired[control] += 1
    coverage = tuple(
        ControlCoverage(c, fired[c], not_fired[c], c in one_sided) for c in sorted(control_ids)
    )
    return GoldenReport(suite.digest, results, coverage)
