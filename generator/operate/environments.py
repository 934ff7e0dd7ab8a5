"""Named deploy environments: the repository's configuration, `mu.toml` (SPEC §7).

The runbooks deploy to an environment by name (`mu deploy --target=production`);
which directory that is lives in the repository, reviewed like the policy:

    [environments.test]
    target = "/srv/mu/test/enforcers"     # absolute, `~/…`, or relative to the root
    [environments.production]
    target = "/srv/mu/production/enforcers"

The file is optional (no file: no environments) and read strictly: a TOML syntax
error, an unknown key, a bad name or a missing target is refused (exit 2) with the
file and the key named, every problem at once, so a typo never deploys to the
wrong place. mu only reads this file; it never writes it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mu.generator.errors import InputError, Location, Problem
from mu.generator.layout import Layout

# A name an operator types at 3 a.m.: lower case, never mistaken for a path.
NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}\Z")
TOP_LEVEL = ("environments",)
ENVIRONMENT_KEYS = ("target",)
_HINT = (
    "`mu.toml` declares `[environments.NAME]` tables (NAME: a lower-case letter, then up "
    'to 63 of `a-z 0-9 _ -`), each with only `target = "PATH"`'
)


@dataclass(frozen=True)
class Environment:
    """One declared environment: its name, the directory A runs from there, as written."""

    name: str
    target: Path  # absolute
    declared: str  # the `target` value as written in `mu.toml`


@dataclass(frozen=True)
class Environments:
    """Every environment of `mu.toml` (none when the file does not exist), by name."""

    source: Path
    declared: tuple[Environment, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The declared names, sorted."""
        return tuple(e.name for e in self.declared)

    def get(self, name: str) -> Environment | None:
        """The environment called `name`, if declared."""
        return next((e for e in self.declared if e.name == name), None)


@dataclass(frozen=True)
class Target:
    """Where a command acts: a declared environment's directory, or a directory as given."""

    path: Path
    environment: Environment | None  # None when the value named a directory


def _read(path: Path, shown: str) -> dict[str, Any] | None:
    """The parsed file, or None when it does not exist."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise InputError(
            f"`{shown}` is not UTF-8 text", hint=_HINT, location=Location(shown)
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
            hint="fix the syntax at the line named; " + _HINT,
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


def load_environments(layout: Layout) -> Environments:
    """`mu.toml`'s environments; `InputError` naming the file and every bad key."""
    path = layout.config
    shown = layout.shown(path)
    data = _read(path, shown)
    if data is None:
        return Environments(path, ())
    problems: list[Problem] = []
    for unknown in sorted(set(data) - set(TOP_LEVEL)):
        problems.append(Problem(f"`{shown}`: `{unknown}`", "unknown key"))
    tables = data.get("environments", {})
    found: list[Environment] = []
    if not isinstance(tables, dict):
        problems.append(Problem(f"`{shown}`: `environments`", "must be a table of environments"))
        tables = {}
    for name in sorted(tables):
        env = _environment(layout.root, shown, name, tables[name], problems)
        if env is not None:
            found.append(env)
    if problems:
        listed = "; ".join(f"{p.where.split(': ', 1)[1]} {p.message}" for p in problems)
        raise InputError(
            f"`{shown}`: {listed}", hint=_HINT, problems=problems, location=Location(shown)
        )
    return Environments(path, tuple(found))


def resolve_target(layout: Layout, raw: str) -> Target:
    """`--target`'s value: a declared environment's directory, else the directory as given.

    `mu.toml` is read only when the value could be a name, so a deploy to an explicit
    path never depends on it; a declared name wins over a directory of the same name.
    When the repository declares environments, a name-like value that is neither
    declared nor an existing path is a typo (`--target prodution`), refused (exit 2)
    naming the declared ones, never a new directory made where the command ran.
    """
    if not NAME.match(raw):
        return Target(Path(raw), None)
    declared = load_environments(layout)
    env = declared.get(raw)
    if env is not None:
        return Target(env.target, env)
    if declared.source.is_file() and not os.path.lexists(raw):
        names = ", ".join(f"`{n}`" for n in declared.names) or "none"
        raise InputError(
            f"`{raw}` is not an environment of `{layout.shown(declared.source)}` "
            f"(declared: {names})",
            hint=f'declare it as `[environments.{raw}]` with `target = "PATH"`, '
            "or pass a directory",
        )
    return Target(Path(raw), None)
