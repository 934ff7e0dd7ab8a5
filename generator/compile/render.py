"""Render a `PackageIR` into the files of the enforcer package A.

The renderer is the last step before user text becomes code, so it is strict:

- user text (labels, owners, messages, ids, ...) reaches the output only through
  the `py` filter, which writes a Python literal for a small set of exact types
  and refuses everything else;
- the one piece of raw code, a compiled condition (`ConditionIR.source`), is
  checked again here against a whitelist of expression nodes before it is
  inserted, and every rendered module is parsed back with `ast` — defence in
  depth, so a bug upstream fails the build instead of shipping code;
- output is a pure function of the IR: sorted inputs, no clock, no paths,
  LF line endings, UTF-8, exactly one trailing newline.

The runtime is not a template: its source is the real, type-checked package
`generator.compile.runtime`, which `runtime_source` assembles into one module
and `render_package` renders by prepending the header.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import re
import sys
import tokenize
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from mu.generator.compile.conditions.hoist import hoist_decimals
from mu.generator.compile.conditions.safety import verify_source
from mu.generator.compile.ir import ControlIR, PackageIR
from mu.generator.compile.model import CONTROL_KINDS, EFFECTS, OUTCOMES, PARTIES
from mu.generator.compile.schema_context import schema_context
from mu.generator.hashing import sha256_hex

__all__ = ["constant_digest", "py_literal", "render_package", "runtime_source"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# The source of `runtime.py`: a package of real modules, read as text here and
# never imported, so the generator does not depend on what it emits.
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
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

# Identifiers become file names and module names, so they are held to the
# contract's pattern (SPEC §3) even though validation upstream checks it too.
_CONTROL_ID_RE = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
# Name and version are written into header comments, where `py` cannot help.
_HEADER_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", re.ASCII)
_HEX_DIGEST_RE = re.compile(r"[0-9a-f]{64}", re.ASCII)
# The same plain decimal notation the runtime accepts for amounts.
_DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
# A runtime constant the renderer fills in, e.g.
# `GENERATOR_NAME: Final[str] = "unrendered"  # rendered: generator_name`.
# The whole line is replaced, so the placeholder and its marker never ship.
_RENDERED_MARK = "  # rendered: "
_RENDERED_CONSTANT_RE = re.compile(
    r'(?P<name>[A-Z][A-Z0-9_]*): Final\[str\] = "[^"\\]*"  # rendered: (?P<key>[a-z_]+)',
    re.ASCII,
)
# Ruff's line length for the generator's source: a merged import line longer
# than this would need wrapping, which the assembler does not do.
_IMPORT_LINE_LIMIT = 100


def py_literal(value: object) -> str:
    """Write an IR value as a Python literal: the `py` template filter.

    Accepts exactly `str`, `bool`, `int`, `None` and tuples of those (nested);
    subclasses are refused too, because a subclass could override `__repr__`.
    Any other type raises `TypeError`, so nothing reaches generated code
    without being escaped.
    """
    kind = type(value)
    if value is None or kind is bool:
        return repr(value)
    if kind is str:
        # str.__repr__ escapes quotes, backslashes, newlines and every
        # non-printable character, so the result is always one safe token.
        return str.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    if kind is tuple:
        items = [py_literal(item) for item in value]  # type: ignore[attr-defined]
        if len(items) == 1:
            return f"({items[0]},)"
        return "(" + ", ".join(items) + ")"
    raise TypeError(f"cannot write a value of type {kind.__name__} as a Python literal")


def constant_digest(generator_version: str) -> str:
    """The source digest of the ontology-independent files: sha256 of the version."""
    return hashlib.sha256(generator_version.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["py"] = py_literal
    return env


def render_package(ir: PackageIR) -> dict[str, bytes]:
    """Render the enforcer package for `ir`: relative posix path → file bytes.

    The result holds `__init__.py`, `runtime.py`, `schema.py`, `dispatch.py`,
    `controls/__init__.py`, one `controls/<control_id>.py` per control and
    `MANIFEST.json`, with keys in sorted order. Raises `ValueError` if the IR
    holds something that cannot be rendered safely (a malformed id, digest or
    compiled condition) and `TypeError` if a value of an unexpected type would
    reach generated code.
    """
    _check_header_word("generator name", ir.generator_name)
    _check_header_word("generator version", ir.generator_version)
    controls = sorted(ir.controls, key=lambda c: c.control_id)
    _check_controls(controls)

    base: dict[str, Any] = {
        "generator_name": ir.generator_name,
        "generator_version": ir.generator_version,
    }
    static_digest = constant_digest(ir.generator_version)
    runtime = _render("_header.j2", base, static_digest) + runtime_source(
        ir.generator_name, ir.generator_version
    )
    files: dict[str, str] = {
        "__init__.py": _render("init.py.j2", base, static_digest),
        "runtime.py": _normalise(runtime),
        "controls/__init__.py": _render("controls_init.py.j2", base, static_digest),
        "schema.py": _render(
            "schema.py.j2", {**base, **schema_context(ir.schema)}, _hex(ir.schema.digest)
        ),
        "dispatch.py": _render(
            "dispatch.py.j2",
            {**base, "control_ids": [c.control_id for c in controls]},
            _hex(ir.dispatch_digest),
        ),
    }
    for control in controls:
        files[control.module_path] = _render(
            "control.py.j2", {**base, **_control_context(control)}, _hex(control.digest)
        )

    for path, text in files.items():
        _check_python(path, text)

    out = {path: files[path].encode("utf-8") for path in sorted(files)}
    out["MANIFEST.json"] = _manifest(ir, controls, out)
    return dict(sorted(out.items()))


def _render(template: str, context: Mapping[str, Any], source_digest: str) -> str:
    text = _environment().get_template(template).render(**context, source_digest=source_digest)
    return _normalise(text)


def _normalise(text: str) -> str:
    # Sources are LF files, but normalise anyway so a checkout with CRLF
    # conversion cannot make the output machine-dependent.
    text = text.replace("\r\n", "\n")
    return text.rstrip("\n") + "\n"


# --------------------------------------------------------------------------
# The runtime: real modules assembled into one
# --------------------------------------------------------------------------


def runtime_source(generator_name: str, generator_version: str) -> str:
    """The text of the generated `runtime.py` below its header.

    It is the package `generator.compile.runtime` (`RUNTIME_DIR`) as one module:
    the package docstring, one blank line, `from __future__ import
    annotations`, the merged standard-library imports of `RUNTIME_PARTS`
    sorted as ruff's isort sorts them, then the body of each part (what follows
    its imports) in order, one blank line after the imports and two between
    parts. The `# rendered:` constant lines are replaced with literals of the
    generator's name and version. Raises `ValueError` if the source breaks
    these rules, so a bad edit to the runtime fails the build.
    """
    _check_header_word("generator name", generator_name)
    _check_header_word("generator version", generator_version)
    values = {"generator_name": generator_name, "generator_version": generator_version}
    return _fill_constants(_assembled_runtime(RUNTIME_DIR), values)


@functools.lru_cache(maxsize=4)
def _assembled_runtime(directory: Path) -> str:
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


def _fill_constants(text: str, values: Mapping[str, str]) -> str:
    """Replace each `# rendered: <key>` constant line with a literal of `values[key]`.

    The value is written only through `py_literal`, so it is always one string
    literal, whatever it holds.
    """
    lines = text.split("\n")
    filled: set[str] = set()
    for index, line in enumerate(lines):
        if _RENDERED_MARK not in line:
            continue
        match = _RENDERED_CONSTANT_RE.fullmatch(line)
        if match is None or match["key"] not in values or match["key"] in filled:
            raise ValueError(f"runtime line {line!r} is not a known constant to fill in once")
        lines[index] = f"{match['name']}: Final[str] = {py_literal(values[match['key']])}"
        filled.add(match["key"])
    missing = sorted(set(values) - filled)
    if missing:
        raise ValueError(f"the runtime source has no `# rendered:` line for {', '.join(missing)}")
    return "\n".join(lines)


def _manifest(ir: PackageIR, controls: Iterable[ControlIR], files: Mapping[str, bytes]) -> bytes:
    manifest = {
        "generator": {"name": ir.generator_name, "version": ir.generator_version},
        "files": {path: sha256_hex(data) for path, data in sorted(files.items())},
        "controls": {
            c.control_id: {"module": c.module_path, "digest": c.digest, "kind": c.kind}
            for c in controls
        },
        "schema_digest": ir.schema.digest,
        "dispatch_digest": ir.dispatch_digest,
    }
    return (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode("utf-8")


def _control_context(control: ControlIR) -> dict[str, Any]:
    source = None if control.when is None else control.when.source
    names = _check_condition(control.control_id, source) if source is not None else set()
    rest = None if control.when is None else control.when.rest_source
    if rest is not None:
        names |= _check_condition(control.control_id, rest)
    decimals: tuple[str, ...] = ()
    if source is not None:
        try:
            hoisted = hoist_decimals(source)
            # The rest is part of the condition: it reuses the condition's names.
            rested = None if rest is None else hoist_decimals(rest, hoisted.decimals)
            decimals = hoisted.decimals if rested is None else rested.decimals
            constants = frozenset(f"_D{index}" for index in range(len(decimals)))
            verify_source(hoisted.source, constants=constants)
            if rested is not None:
                verify_source(rested.source, constants=constants)
        except RuntimeError as exc:
            why = f"compiled condition of control `{control.control_id}`: {exc}"
            raise ValueError(why) from None
        source = hoisted.source
        rest = None if rested is None else rested.source
    return {
        "c": control,
        "when_source": source,
        "rest_source": rest,
        # (name, canonical decimal text) of each hoisted literal, for the template.
        "decimals": [(f"_D{index}", text) for index, text in enumerate(decimals)],
        "condition_text": None if control.when is None else control.when.text,
        "guard": None if control.when is None else _checked_guard(control),
        "guard_is_condition": control.when is not None and control.when.guard_is_condition,
        # Import Decimal only where it is used, so the module stays lint-clean.
        "needs_decimal": control.kind == "approval" or "Decimal" in names,
    }


def _checked_guard(control: ControlIR) -> tuple[object, ...] | None:
    """The condition's guard, if it has the shape the runtime indexes (else ValueError)."""
    assert control.when is not None
    guard = control.when.guard
    if guard is None:
        return None
    shape_ok = type(guard) is tuple and (
        (len(guard) == 4 and guard[0] == "range" and guard[2] in ("<", "<=", ">", ">="))
        or (len(guard) == 3 and guard[0] == "member" and type(guard[2]) is tuple and guard[2])
    )
    if not shape_ok or type(guard[1]) is not str or guard[1] not in control.when.fields:
        raise ValueError(f"control `{control.control_id}` has a malformed guard {guard!r}")
    if control.when.rest_source is not None and control.when.guard_is_condition:
        raise ValueError(f"control `{control.control_id}` has a rest beside a whole guard")
    if control.when.guard_is_condition and control.when.fields != (guard[1],):
        # A condition that is one test reads exactly the field it tests.
        raise ValueError(f"control `{control.control_id}` has a malformed guard {guard!r}")
    return guard


def _check_controls(controls: list[ControlIR]) -> None:
    seen: set[str] = set()
    for c in controls:
        cid = c.control_id
        if type(cid) is not str or not _CONTROL_ID_RE.fullmatch(cid):
            raise ValueError(f"control id {cid!r} does not match [a-z][a-z0-9_]*")
        if cid in seen:
            raise ValueError(f"control id `{cid}` appears twice")
        seen.add(cid)
        if c.kind not in CONTROL_KINDS:
            raise ValueError(f"control `{cid}` has unknown kind `{c.kind}`")
        if c.kind == "approval":
            threshold = c.amount_threshold
            if type(threshold) is not str or not _DECIMAL_RE.fullmatch(threshold):
                raise ValueError(f"control `{cid}` has no plain decimal amount threshold")
        if c.kind == "condition" and c.effect not in EFFECTS:
            raise ValueError(f"control `{cid}` has effect {c.effect!r}, not REJECT or REVIEW")
        if not set(c.on_outcome) <= set(OUTCOMES):
            raise ValueError(f"control `{cid}` has an unknown outcome in {c.on_outcome!r}")
        if not set(c.separates) <= set(PARTIES):
            raise ValueError(f"control `{cid}` separates an unknown party in {c.separates!r}")


def _check_condition(control_id: str, source: str) -> set[str]:
    """Re-check a compiled condition before it becomes code; return the names it uses."""

    def reject(why: str) -> ValueError:
        return ValueError(f"compiled condition of control `{control_id}` rejected: {why}")

    if type(source) is not str or not source.strip():
        raise reject("it is empty")
    # One logical line, no comments: it is pasted inside `return bool(...)`, so a
    # comment or line break could swallow or split the surrounding code.
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise reject(f"it does not tokenize ({exc})") from None
    for tok in tokens:
        if tok.type in (tokenize.COMMENT, tokenize.NL) or (
            tok.type == tokenize.NEWLINE and tok.string
        ):
            raise reject("it spans lines or holds a comment")
    # The same whitelist the condition compiler applies to its own output:
    # re-checked here because the IR could have been built by other code.
    try:
        verify_source(source)
    except RuntimeError as exc:
        raise reject(str(exc)) from None
    tree = ast.parse(source, mode="eval")
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _check_python(path: str, text: str) -> None:
    """Every rendered module must parse: a template or IR bug fails here, not at import."""
    try:
        ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise ValueError(
            f"rendered `{path}` is not valid Python: {exc.msg} (line {exc.lineno})"
        ) from exc
    if "\r" in text:
        raise ValueError(f"rendered `{path}` contains a carriage return")


def _check_header_word(what: str, value: str) -> None:
    if type(value) is not str or not _HEADER_WORD_RE.fullmatch(value):
        raise ValueError(f"{what} {value!r} cannot be written into a file header")


def _hex(digest: str) -> str:
    """The bare hex of a sha256 digest given as `<hex>` or `sha256:<hex>`."""
    if type(digest) is not str:
        raise TypeError(f"digest must be a str, not {type(digest).__name__}")
    bare = digest.removeprefix("sha256:")
    if not _HEX_DIGEST_RE.fullmatch(bare):
        raise ValueError(f"digest {digest!r} is not a sha256 hex digest")
    return bare
