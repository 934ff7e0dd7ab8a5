"""Named deploy environments: the repository's configuration, `mu.toml` (SPEC §7).

The runbooks deploy to an environment by name (`mu deploy --target=production`);
which directory that is lives in the repository, reviewed like the policy:

    [environments.test]
    target = "/srv/mu/test/enforcers"     # absolute, `~/…`, or relative to the root
    [environments.production]
    target = "/srv/mu/production/enforcers"

The file is optional (no file: no environments) and read strictly by
`generator.config` (the whole file: its `[build]` table too): a TOML syntax
error, an unknown key, a bad name or a missing target is refused (exit 2) with
the file and the key named, every problem at once, so a typo never deploys to
the wrong place. mu only reads this file; it never writes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mu.generator.config import NAME, Environment, load_config
from mu.generator.errors import InputError
from mu.generator.layout import Layout


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


def load_environments(layout: Layout) -> Environments:
    """`mu.toml`'s environments; `InputError` naming the file and every bad key of it."""
    config = load_config(layout)
    return Environments(config.source, config.environments)


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
