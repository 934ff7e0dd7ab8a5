"""Child processes that run mu's own code, and nothing else.

The determinism gate and the deploy health check run a module of this very
installation in a fresh interpreter. A plain `python -m mu.generator.x` would put
the current directory first on `sys.path`, so a policy checkout holding its own
`generator/` (or a `PYTHONPATH`, or a `sitecustomize` there) would run its
author's code on the auditor's machine. Instead the child:

- runs with `-P -s` (no current directory and no user site on `sys.path`) and
  an environment without any `PYTHON*` variable but the ones mu sets;
- imports `mu` from the directory this process imported it from, put first
  on `sys.path` explicitly (an installed mu, or a copy laid out as `HOME/mu/`);
  an editable install's `mu` is mapped onto the checkout by its import finder,
  which the child finds in site-packages as this process did;
- starts in a fixed working directory, so relative paths are never resolved
  against wherever mu happened to be run.

`-I` would do the first point too, but it also ignores `PYTHONHASHSEED`, which
the determinism gate needs to set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import mu.generator

# The directory that holds the `mu` package this process runs, when it is laid out as one;
# "" for an editable install, whose checkout is not a directory named `mu`.
_PACKAGE = Path(mu.generator.__file__).resolve().parent.parent
GENERATOR_HOME = str(_PACKAGE.parent) if _PACKAGE.name == "mu" else ""
# Where children start: a fixed directory of mu's own, never wherever mu was run from.
CHILD_CWD = str(_PACKAGE)

# Runs in the child: put mu's home first, then run the module as `__main__`.
_BOOTSTRAP = (
    "import runpy, sys; "
    "home, module = sys.argv[1], sys.argv[2]; "
    "sys.argv = [module, *sys.argv[3:]]; "
    "home and sys.path.insert(0, home); "
    "runpy.run_module(module, run_name='__main__', alter_sys=True)"
)


def module_command(module: str, *args: str | Path) -> list[str]:
    """The argv that runs `module` of this installation of mu; paths made absolute."""
    absolute = [os.path.abspath(a) if isinstance(a, Path) else a for a in args]
    return [sys.executable, "-P", "-s", "-c", _BOOTSTRAP, GENERATOR_HOME, module, *absolute]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without `PYTHON*` variables (`PYTHONPATH`, `PYTHONSTARTUP`, …)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env
