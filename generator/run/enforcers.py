"""Import a generated enforcer package from any directory.

The generated code uses relative imports only, so one process can hold several
packages at once (the one on disk, a fresh build, both sides of a diff) under
distinct, content-derived names.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from mu.generator.errors import InputError
from mu.generator.files import read_tree
from mu.generator.hashing import tree_digest


def load_enforcers(directory: Path) -> ModuleType:
    """Import the enforcer package in `directory` and return its top module.

    The module name is derived from the tree's digest, so loading the same
    bytes twice reuses one module and different bytes never collide.
    """
    init = directory / "__init__.py"
    if not init.is_file():
        raise InputError(
            f"`{directory}` is not an enforcer package (no `__init__.py`)",
            hint="run `mu generate` first, or pass `--enforcers DIR`",
        )
    name = "_mu_enforcers_" + tree_digest(read_tree(directory))[:16]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(directory)]
    )
    if spec is None or spec.loader is None:
        raise InputError(
            f"cannot import the enforcer package in `{directory}`",
            hint="regenerate it with `mu generate`, or pass `--enforcers DIR` of a package "
            "mu generated",
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise InputError(
            f"the enforcer package in `{directory}` does not import: {exc}",
            hint="regenerate it with `mu generate`; generated files must not be edited",
        ) from exc
    return module


def release_actions(package: ModuleType) -> list[dict[str, Any]]:
    """One action per notification and audit-log control of `package`, as it would emit
    it (`{"kind", "control_id", "targets"}`): what a deploy exercises and the service
    must be configured to deliver."""
    actions: list[dict[str, Any]] = []
    for module in package.dispatch.CONTROLS:
        if module.KIND == "notification":
            targets = list(module.RECIPIENTS)
            actions.append({"kind": "notify", "control_id": module.CONTROL_ID, "targets": targets})
        elif module.KIND == "audit_log":
            actions.append(
                {"kind": "ledger", "control_id": module.CONTROL_ID, "targets": [module.LEDGER]}
            )
    return actions
