"""The runtime package assembled into the one module `runtime.py` (`assembled_runtime`).

The runtime is not a template: its source is the real, type-checked package
`generator.compile.runtime`, read here as text (never imported, so the
generator does not depend on what it emits) and joined into one module, which
`render.runtime_source` fills in and `render.render_package` renders by
prepending the header. The rules the parts must keep (a docstring, imports
only at the top and only from the standard library or earlier parts) are
checked here, so a bad edit to the runtime fails the build.
"""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Callable
from pathlib import Path

RUNTIME_PACKAGE = "mu.generator.compile.runtime"
# The runtime's parts in the order they are emitted. A part may import names
# only from the parts before it, because in the one generated module those
# names must already be defined when its body runs.
RUNTIME_PARTS = (
    "values.py",
    "decision.py",
    "specs.py",
    "parse.py",
    "fields.py",
    "plan.py",
    "engine.py",
    "actions.py",
)
# Ruff's line length for the generator's source: a merged import line longer
# than this would need wrapping, which the assembler does not do.
_IMPORT_LINE_LIMIT = 100


@functools.lru_cache(maxsize=4)
def assembled_runtime(directory: Path) -> str:
    """The runtime source in `directory` as one module, constants not yet filled.

    Keyed by directory, so a test that points `RUNTIME_DIR` at a patched copy
    gets its own entry.
    """
    doc = _package_docstring(directory / "__init__.py")
    plain: set[str] = set()
    members: dict[str, set[str]] = {}
    bodies: list[str] = []
    for index, name in enumerate(RUNTIME_PARTS):
        text = (directory / name).read_text(encoding="utf-8")
        body = _split_part(name, text, RUNTIME_PARTS[:index], plain, members)
        # Blank lines between parts are the assembler's, not the parts': after
        # an import block ruff wants one blank line, between top-level code two.
        bodies.append(body.lstrip("\n"))
    lines = ["from __future__ import annotations", ""]
    lines += [f"import {module}" for module in sorted(plain, key=_module_key)]
    for module in sorted(members, key=_module_key):
        names = ", ".join(sorted(members[module], key=_member_key))
        lines.append(f"from {module} import {names}")
    for line in lines:
        if len(line) > _IMPORT_LINE_LIMIT:
            raise ValueError(f"runtime import line is too long to emit unwrapped: {line}")
    # Each body ends with a newline, so "\n\n" leaves two blank lines between parts.
    return doc + "\n" + "\n".join(lines) + "\n\n" + "\n\n".join(bodies)


def _package_docstring(path: Path) -> str:
    """The exact source lines of the runtime package's docstring, its only statement."""
    text = path.read_text(encoding="utf-8")
    statements = ast.parse(text, filename=str(path)).body
    if len(statements) != 1 or not _is_docstring(statements[0]):
        raise ValueError(f"`{path.name}` of the runtime must hold only the module docstring")
    node = statements[0]
    assert node.end_lineno is not None  # always set by ast.parse
    return "".join(text.splitlines(keepends=True)[node.lineno - 1 : node.end_lineno])


def _split_part(
    name: str,
    text: str,
    earlier: tuple[str, ...],
    plain: set[str],
    members: dict[str, set[str]],
) -> str:
    """Add a part's imports to `plain`/`members`; return the text after them."""

    def refuse(why: str) -> ValueError:
        return ValueError(f"runtime part `{name}`: {why}")

    statements = ast.parse(text, filename=name).body
    if not statements or not _is_docstring(statements[0]):
        raise refuse("it must start with a docstring")
    imports: list[ast.Import | ast.ImportFrom] = []
    for statement in statements[1:]:
        if not isinstance(statement, (ast.Import, ast.ImportFrom)):
            break
        imports.append(statement)
    rest = statements[1 + len(imports) :]
    # Imports are merged from the top of each part only: one elsewhere would
    # be emitted where it stands, outside the checked import block.
    for statement in rest:
        for node in ast.walk(statement):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                raise refuse(f"line {node.lineno}: imports belong at the top of the part")
    future = False
    for node in imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                _check_runtime_import(refuse, alias.name, alias.asname)
                plain.add(alias.name)
            continue
        module = node.module or ""
        if node.level or module.startswith(RUNTIME_PACKAGE + "."):
            # A name of an earlier part: the same module once assembled.
            source = module if node.level else module.removeprefix(RUNTIME_PACKAGE + ".")
            if node.level > 1 or f"{source}.py" not in earlier:
                raise refuse(f"it may import only from the parts before it, not `{module}`")
            continue
        if module == "__future__":
            if [alias.name for alias in node.names] != ["annotations"]:
                raise refuse("the only __future__ import is `annotations`")
            future = True
            continue
        for alias in node.names:
            _check_runtime_import(refuse, module, alias.asname, alias.name)
            members.setdefault(module, set()).add(alias.name)
    if not future:
        # Every part is checked with postponed annotations, so the module must be too.
        raise refuse("it must import `annotations` from __future__")
    end = imports[-1].end_lineno
    assert end is not None  # always set by ast.parse
    return "".join(text.splitlines(keepends=True)[end:])


def _check_runtime_import(
    refuse: Callable[[str], ValueError], module: str, asname: str | None, member: str = ""
) -> None:
    # The generated package must deploy with Python alone (SPEC §5).
    if module.partition(".")[0] not in sys.stdlib_module_names:
        raise refuse(f"`{module}` is not in the standard library")
    # Aliases and star imports could not be merged into one import block safely.
    if asname is not None or member == "*":
        raise refuse(f"`{module}` must be imported plainly, without `as` or `*`")


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _module_key(module: str) -> tuple[str, str]:
    """Ruff's isort order of module names: case-insensitive first."""
    return module.lower(), module


def _member_key(member: str) -> tuple[int, str, str]:
    """Ruff's isort order of imported names (`order-by-type`): CONSTANTS, Classes, others."""
    if len(member) > 1 and member.isupper():
        kind = 0
    elif member[:1].isupper():
        kind = 1
    else:
        kind = 2
    return kind, member.lower(), member
