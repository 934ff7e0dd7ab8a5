"""The health check of a staged release, run in a fresh Python process.

`mu deploy` stages a release beside the running one and, before switching,
asks a new interpreter to import it by path under a unique package name, to
check the digests of `MANIFEST.json`, and to run the receipt's golden suite
against it. A fresh process sees the release exactly as a service restarted
on it would: no module cached by the deploying process can mask a defect.

`python -m mu.generator.operate.healthcheck RELEASE_DIR GOLDEN_DIR` is the child; it
prints one JSON object on stdout and exits 0 (healthy), 1 (unhealthy) or 2
(bad usage). `check_release` is the parent side.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from mu.generator.child import CHILD_CWD, child_env, module_command
from mu.generator.errors import CheckFailed, MuError, Problem
from mu.generator.jsonread import DuplicateKey, loads_strict
from mu.generator.outbox import RecordingSink, Sink, exercise
from mu.generator.run.enforcers import release_actions
from mu.generator.run.golden import load_suite, run_suite

# The golden suite runs in well under a second; a child that takes this long hangs.
TIMEOUT_SECONDS = 300
MANIFEST = "MANIFEST.json"


@dataclass(frozen=True)
class CaseFailure:
    """One golden case the release got wrong, and how."""

    case_id: str
    file: str
    mismatches: tuple[str, ...]


@dataclass(frozen=True)
class HealthReport:
    """What the child found: import, manifest and golden verdicts."""

    ok: bool
    package: str
    import_error: str | None
    manifest_problems: tuple[str, ...]
    manifest_files: int
    suite_digest: str | None
    passed: int
    total: int
    failures: tuple[CaseFailure, ...]
    # Every action the release can emit, delivered once to test sinks (SPEC §10's
    # channels: mail and webhook for notify, the ledger file format for ledger).
    actions_exercised: int = 0
    action_problems: tuple[str, ...] = ()

    def problems(self, suite_digest: str | None) -> list[Problem]:
        """Every reason the release is unhealthy; `suite_digest` is the suite it must run."""
        out = [Problem("import", self.import_error)] if self.import_error else []
        out += [Problem("MANIFEST.json", m) for m in self.manifest_problems]
        out += [Problem(f.case_id, "; ".join(f.mismatches)) for f in self.failures]
        out += [Problem("actions", m) for m in self.action_problems]
        if self.import_error is None and self.suite_digest != suite_digest:
            out.append(Problem("golden", "the suite run is not the one the receipt records"))
        return out

    def headline(self, problems: int) -> str:
        """One line for an error message: the failing golden cases, else the count."""
        failing = [f.case_id for f in self.failures]
        if not failing:
            return f"{problems} problem(s)"
        more = "…" if len(failing) > 5 else ""
        return f"{len(failing)} of {self.total} golden case(s) fail: {', '.join(failing[:5])}{more}"


def _manifest_problems(release: Path) -> tuple[list[str], int]:
    """Every file of the release against `MANIFEST.json`: digests, missing and extra files."""
    try:
        listed = loads_strict((release / MANIFEST).read_bytes())["files"]
        if not isinstance(listed, dict):
            raise TypeError("files is not an object")
    except DuplicateKey as exc:  # json.loads would keep the last `files` silently
        return [f"`{MANIFEST}` {exc}"], 0
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        return [f"`{MANIFEST}` is unreadable: {exc}"], 0
    problems = []
    for rel, digest in sorted(listed.items()):
        try:
            actual = hashlib.sha256((release / rel).read_bytes()).hexdigest()
        except OSError:
            problems.append(f"`{rel}` is listed in `{MANIFEST}` but missing")
            continue
        if actual != digest:
            problems.append(f"`{rel}` has sha256 {actual[:12]}…, `{MANIFEST}` says {digest[:12]}…")
    on_disk = {
        p.relative_to(release).as_posix()
        for p in release.rglob("*")
        if p.is_file() and "__pycache__" not in p.relative_to(release).parts
    }
    extra = sorted(on_disk - {MANIFEST} - set(listed))
    problems += [f"`{rel}` is not listed in `{MANIFEST}`" for rel in extra]
    return problems, len(listed)


def _import(release: Path, name: str) -> ModuleType:
    """Import the package in `release` as `name`, never by a name it could share."""
    spec = importlib.util.spec_from_file_location(
        name, release / "__init__.py", submodule_search_locations=[str(release)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"no package in {release}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _examine(release: Path, golden_dir: Path) -> dict[str, Any]:
    """The child's whole check, as the JSON-ready dict it prints."""
    name = f"_mu_health_{uuid.uuid4().hex}"
    problems, listed = _manifest_problems(release)
    result: dict[str, Any] = {
        "package": name,
        "import_error": None,
        "manifest": {"problems": problems, "files": listed},
        "golden": {"suite_digest": None, "passed": 0, "total": 0, "failures": []},
        "actions": {"exercised": 0, "problems": []},
    }
    try:
        package = _import(release, name)
    except Exception as exc:  # any defect of the release is a verdict, not a crash
        result["import_error"] = f"{type(exc).__name__}: {exc}"
        return result
    try:
        suite = load_suite(golden_dir)
    except MuError as exc:
        result["import_error"] = f"the golden suite does not load: {exc.message}"
        return result
    try:
        report = run_suite(package, suite, suite.cases)
    except Exception as exc:  # a package without the public API cannot be run at all
        result["import_error"] = f"the golden suite cannot run: {type(exc).__name__}: {exc}"
        return result
    result["golden"] = {
        "suite_digest": report.suite_digest,
        "passed": report.passed,
        "total": report.total,
        "failures": [
            {"case": r.case_id, "file": r.file, "mismatches": list(r.mismatches)}
            for r in report.results
            if not r.passed
        ],
    }
    result["actions"] = _exercise_actions(package)
    return result


def _exercise_actions(package: ModuleType) -> dict[str, Any]:
    """Deliver every action kind the release emits to test sinks (nothing leaves the machine):
    the code that renders mails, webhook bodies and ledger lines runs before promotion."""
    try:
        actions = release_actions(package)
    except Exception as exc:  # a control module without its constants
        return {"exercised": 0, "problems": [f"the release's actions cannot be read: {exc}"]}
    sinks: dict[str, Sink] = {name: RecordingSink() for name in ("smtp", "webhook", "ledger")}
    problems = exercise(actions, sinks)
    return {
        "exercised": len(actions),
        "problems": [f"{p.where}: {p.message}" for p in problems],
    }


def main(argv: list[str]) -> int:
    """Child entry: check `argv[0]` against the golden suite in `argv[1]`; print JSON."""
    # Bytecode caches would add files to an immutable release directory.
    sys.dont_write_bytecode = True
    if len(argv) != 2 or not Path(argv[0]).is_dir() or not Path(argv[1]).is_dir():
        sys.stdout.write(json.dumps({"usage": "healthcheck RELEASE_DIR GOLDEN_DIR"}) + "\n")
        return 2
    result = _examine(Path(argv[0]).resolve(), Path(argv[1]).resolve())
    healthy = (
        result["import_error"] is None
        and not result["actions"]["problems"]
        and not result["manifest"]["problems"]
        and result["golden"]["total"] > 0
        and not result["golden"]["failures"]
    )
    result["ok"] = healthy
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0 if healthy else 1


def _report(data: dict[str, Any]) -> HealthReport:
    golden, manifest = data["golden"], data["manifest"]
    return HealthReport(
        ok=bool(data["ok"]),
        package=str(data["package"]),
        import_error=data["import_error"],
        manifest_problems=tuple(manifest["problems"]),
        manifest_files=int(manifest["files"]),
        suite_digest=golden["suite_digest"],
        passed=int(golden["passed"]),
        total=int(golden["total"]),
        failures=tuple(
            CaseFailure(f["case"], f["file"], tuple(f["mismatches"])) for f in golden["failures"]
        ),
        actions_exercised=int(data["actions"]["exercised"]),
        action_problems=tuple(str(p) for p in data["actions"]["problems"]),
    )


def check_release(release: Path, golden_dir: Path) -> HealthReport:
    """Run the child on `release` and read its verdict; a child that breaks is a failure."""
    try:
        proc = subprocess.run(
            module_command("mu.generator.operate.healthcheck", release, golden_dir),
            cwd=CHILD_CWD,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(
            f"the health check of `{release}` did not finish in {TIMEOUT_SECONDS}s",
            hint="the running release is untouched; look for an enforcer that loops",
        ) from exc
    try:
        return _report(json.loads(proc.stdout.splitlines()[-1]))
    except (IndexError, ValueError, KeyError, TypeError) as exc:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise CheckFailed(
            f"the health check of `{release}` broke (exit {proc.returncode}): {tail[0]}",
            hint="the running release is untouched",
        ) from exc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
