"""The repository's configuration, `mu.toml` (SPEC §7), read strictly.

The file sits at the repository's root and is reviewed like the policy: it
says what a build requires and where A runs.

    [build]
    min_coverage = 100     # percent of controls the golden suite must cover (default 100)

    [environments.test]
    target = "/srv/mu/test/enforcers"     # absolute, `~/…`, or relative to the root

The file is optional (no file: every default, no environments) and read
strictly: a TOML syntax error, an unknown key, a value of the wrong type or
out of range, a bad name or a missing target is refused (exit 2) with the
file and the key named, every problem at once, so a typo never deploys to the
wrong place nor silently lowers what a build requires. mu only reads this
file; it never writes it.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu.generator.errors import InputError, Location, Problem
from mu.generator.layout import Layout

# Every control fires and passes in some golden case (`ControlCoverage.covered`).
DEFAULT_MIN_COVERAGE = 100
# A name an operator types at 3 a.m.: lower case, never mistaken for a path.
NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}\Z")
TOP_LEVEL = ("build", "environments")
BUILD_KEYS = ("min_coverage",)
ENVIRONMENT_KEYS = ("target",)
HINT = (
    "`mu.toml` holds a `[build]` table with only `min_coverage` (a number from 0 to 100, "
    "the percent of controls the golden suite must cover; default 100), and "
    "`[environments.NAME]` tables (NAME: a lower-case letter, then up to 63 of "
    '`a-z 0-9 _ -`), each with only `target = "PATH"`'
)

Percent = int | float


@dataclass(frozen=True)
class Environment:
    """One declared environment: its name, the directory A runs from there, as written."""

    name: str
    target: Path  # absolute
    declared: str  # the `target` value as written in `mu.toml`


@dataclass(frozen=True)
class BuildSettings:
    """What `mu build` requires beyond its fixed gates."""

    # Percent of controls covered on both sides of their rule; an integral value is an int.
    min_coverage: Percent = DEFAULT_MIN_COVERAGE


@dataclass(frozen=True)
class RepositoryConfig:
    """`mu.toml` as read: its path, whether it exists, and every setting (defaults if not)."""

    source: Path
    exists: bool
    build: BuildSettings
    environments: tuple[Environment, ...]  # sorted by name


def _read(path: Path, shown: str) -> dict[str, Any] | None:
    """The parsed file, or None when it does not exist."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise InputError(
            f"`{shown}` is not UTF-8 text", hint=HINT, location=Location(shown)
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot read `{shown}`: {exc.strerror or exc}",
            hint="make the repository's configuration readable",
            location=Location(shown),
        ) from None
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise InputError(
            f"`{shown}` is not valid TOML: {exc}",
            hint="fix the syntax at the line named; " + HINT,
            location=Location.of_parse_error(shown, exc),
        ) from None


def _target(root: Path, declared: str) -> Path:
    """`declared` as an absolute path: `~` expanded, a relative one under the root."""
    path = Path(declared).expanduser()
    return Path(os.path.abspath(path if path.is_absolute() else root / path))


def _environment(
    root: Path, shown: str, name: str, table: object, problems: list[Problem]
) -> Environment | None:
    """One `[environments.NAME]` table checked; every problem appended to `problems`."""
    key = f"environments.{name}"
    ok = True
    if not NAME.match(name):
        problems.append(Problem(f"`{shown}`: `{key}`", f"`{name}` is not an environment name"))
        ok = False
    if not isinstance(table, dict):
        problems.append(Problem(f"`{shown}`: `{key}`", "must be a table with `target`"))
        return None
    for unknown in sorted(set(table) - set(ENVIRONMENT_KEYS)):
        problems.append(Problem(f"`{shown}`: `{key}.{unknown}`", "unknown key"))
        ok = False
    declared = table.get("target")
    if declared is None:
        problems.append(Problem(f"`{shown}`: `{key}`", "has no `target`"))
        return None
    if not isinstance(declared, str) or not declared.strip() or "\x00" in declared:
        problems.append(
            Problem(f"`{shown}`: `{key}.target`", "must be a non-empty path string")
        )
        return None
    try:
        target = _target(root, declared)
    except RuntimeError:  # `~` with no home directory to expand it to
        problems.append(Problem(f"`{shown}`: `{key}.target`", "`~` has no home directory here"))
        return None
    return Environment(name, target, declared) if ok else None


def _environments(
    root: Path, shown: str, tables: object, problems: list[Problem]
) -> tuple[Environment, ...]:
    """Every well-formed `[environments.NAME]`, sorted by name."""
    if not isinstance(tables, dict):
        problems.append(Problem(f"`{shown}`: `environments`", "must be a table of environments"))
        return ()
    found = (_environment(root, shown, name, tables[name], problems) for name in sorted(tables))
    return tuple(env for env in found if env is not None)


def _percent(value: object) -> Percent | None:
    """A TOML number from 0 to 100 (an integral one as an int); None for anything else."""
    # bool is an int to Python, never a number to a reader of `min_coverage = true`.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 <= value <= 100:
        return None
    return int(value) if value == int(value) else value


def _found(value: object) -> str:
    """What a wrong value is, as a message names it (never a long user string)."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"`{value}`"
    kinds = {str: "a string", dict: "a table", list: "an array"}
    return next((name for kind, name in kinds.items() if isinstance(value, kind)), "a date")


def _build(shown: str, table: object, problems: list[Problem]) -> BuildSettings:
    """The `[build]` table checked; every problem appended to `problems`."""
    if not isinstance(table, dict):
        problems.append(Problem(f"`{shown}`: `build`", "must be a table"))
        return BuildSettings()
    for unknown in sorted(set(table) - set(BUILD_KEYS)):
        problems.append(Problem(f"`{shown}`: `build.{unknown}`", "unknown key"))
    if "min_coverage" not in table:
        return BuildSettings()
    value = _percent(table["min_coverage"])
    if value is None:
        problems.append(
            Problem(
                f"`{shown}`: `build.min_coverage`",
                f"must be a number from 0 to 100, found {_found(table['min_coverage'])}",
            )
        )
        return BuildSettings()
    return BuildSettings(min_coverage=value)


def load_config(layout: Layout) -> RepositoryConfig:
    """`mu.toml` of `layout`'s repository; every default when there is none.

    Raises `InputError` (exit 2) naming the file and every bad key at once.
    """
    path = layout.config
    shown = layout.shown(path)
    data = _read(path, shown)
    if data is None:
        return RepositoryConfig(path, False, BuildSettings(), ())
    problems: list[Problem] = []
    for unknown in sorted(set(data) - set(TOP_LEVEL)):
        problems.append(Problem(f"`{shown}`: `{unknown}`", "unknown key"))
    build = _build(shown, data.get("build", {}), problems)
    environments = _environments(layout.root, shown, data.get("environments", {}), problems)
    if problems:
        listed = "; ".join(f"{p.where.split(': ', 1)[1]} {p.message}" for p in problems)
        raise InputError(
            f"`{shown}`: {listed}", hint=HINT, problems=problems, location=Location(shown)
        )
    return RepositoryConfig(path, True, build, environments)
