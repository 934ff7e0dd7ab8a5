"""Render a `PackageIR` into the files of the enforcer package A.

The renderer is the last step before user text becomes code, so it is strict:

- user text (labels, owners, messages, ids, ...) reaches the output only through
  the `py` filter, which writes a Python literal for a small set of exact types
  and refuses everything else;
- the one piece of raw code, a compiled condition (`ConditionIR.source`), is
  checked again (`control_module`) against a whitelist of expression nodes
  before it is inserted, and every rendered module is parsed back with `ast` —
  defence in depth, so a bug upstream fails the build instead of shipping code;
- output is a pure function of the IR: sorted inputs, no clock, no paths,
  LF line endings, UTF-8, exactly one trailing newline.

What each file is a function of (beside mu's own code: templates, renderer,
runtime source), which is what a cache of rendered files must key on:

- `controls/<id>.py`: that control's `ControlIR` and the generator's name and
  version, nothing else (`render_control`, `render_control_key_material`). Not
  the other controls: `DEPENDS_ON` holds ids, resolved by `dispatch.py` at
  import. Not the authority levels: `REQUIRED_AUTHORITY` is a code, ranks live
  in `schema.py`. Not the transaction types: the condition was type-checked
  against their fields when it was lowered, and the IR holds the result.
- `__init__.py`, `controls/__init__.py`, `runtime.py`: the name and version.
- `schema.py`: the name, version and `SchemaIR`.
- `dispatch.py`: the name, version, sorted control ids and `dispatch_digest`
  (those five: `render_shared`, `render_shared_key_material`).
- `MANIFEST.json`: every other file's bytes, and each control's id, kind and
  digest, the schema and dispatch digests (`render_manifest`).

The runtime is not a template: its source is the real, type-checked package
`generator.compile.runtime`, which `runtime_assembly` joins into one module and
`runtime_source` fills in.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from mu.generator.compile.control_module import check_control, check_controls, control_context
from mu.generator.compile.ir import ControlIR, PackageIR, ir_json, plain
from mu.generator.compile.runtime_assembly import RUNTIME_PARTS
from mu.generator.compile.runtime_assembly import assembled_runtime as _assembled_runtime
from mu.generator.compile.schema_context import schema_context
from mu.generator.hashing import sha256_hex

__all__ = [
    "RUNTIME_PARTS",
    "RenderContext",
    "constant_digest",
    "py_literal",
    "render_control",
    "render_control_key_material",
    "render_manifest",
    "render_package",
    "render_shared",
    "render_shared_key_material",
    "runtime_source",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# The source of `runtime.py`: a package of real modules, read as text and
# never imported, so the generator does not depend on what it emits. Read
# through this name (and `_assembled_runtime`, cached per directory), so a
# test may point it at a patched copy.
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"

# Name and version are written into header comments, where `py` cannot help.
_HEADER_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", re.ASCII)
_HEX_DIGEST_RE = re.compile(r"[0-9a-f]{64}", re.ASCII)
# A runtime constant the renderer fills in, e.g.
# `GENERATOR_NAME: Final[str] = "unrendered"  # rendered: generator_name`.
# The whole line is replaced, so the placeholder and its marker never ship.
_RENDERED_MARK = "  # rendered: "
_RENDERED_CONSTANT_RE = re.compile(
    r'(?P<name>[A-Z][A-Z0-9_]*): Final\[str\] = "[^"\\]*"  # rendered: (?P<key>[a-z_]+)',
    re.ASCII,
)
# The files besides the control modules and the manifest (`render_shared`).
SHARED_FILES = ("__init__.py", "controls/__init__.py", "dispatch.py", "runtime.py", "schema.py")
MANIFEST = "MANIFEST.json"


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
        # The templates are package data, read once: without this every
        # `get_template` (and every `include`) stats its file again.
        auto_reload=False,
    )
    env.filters["py"] = py_literal
    return env


@dataclass(frozen=True)
class RenderContext:
    """All a control module reads beyond its own `ControlIR`: the generator that
    writes it, named in its header. Nothing else package-wide reaches it."""

    generator_name: str
    generator_version: str

    @classmethod
    def of(cls, ir: PackageIR) -> RenderContext:
        """The context of every control module of `ir`."""
        return cls(ir.generator_name, ir.generator_version)


def render_package(ir: PackageIR) -> dict[str, bytes]:
    """Render the enforcer package for `ir`: relative posix path → file bytes.

    The result holds `__init__.py`, `runtime.py`, `schema.py`, `dispatch.py`,
    `controls/__init__.py`, one `controls/<control_id>.py` per control and
    `MANIFEST.json`, with keys in sorted order: `render_shared(ir)`, then
    `render_control` of each control, then `render_manifest` of them all.
    Raises `ValueError` if the IR holds something that cannot be rendered
    safely (a malformed id, digest or compiled condition) and `TypeError` if a
    value of an unexpected type would reach generated code.
    """
    controls = _checked_controls(ir)
    files = _render_shared(ir, controls)
    context = RenderContext.of(ir)
    for control in controls:
        files[control.module_path] = _render_control(control, context)
    files = dict(sorted(files.items()))
    files[MANIFEST] = _manifest(ir, controls, files)
    return dict(sorted(files.items()))


def render_shared(ir: PackageIR) -> dict[str, bytes]:
    """Every file of the package but the control modules and the manifest (`SHARED_FILES`).

    A function of `render_shared_key_material(ir)` alone (and of mu's own
    code). Checks every control as `render_package` does, since `dispatch.py`
    names them all.
    """
    return _render_shared(ir, _checked_controls(ir))


def render_control(control: ControlIR, context: RenderContext) -> bytes:
    """The bytes of `control.module_path`, exactly as `render_package` writes them.

    A function of `render_control_key_material(control, context)` alone (and of
    mu's own code). Raises as `render_package` does for this control; that no
    other control has its id is the package's check, not this one's.
    """
    _check_header_word("generator name", context.generator_name)
    _check_header_word("generator version", context.generator_version)
    check_control(control)
    return _render_control(control, context)


def render_manifest(ir: PackageIR, files: Mapping[str, bytes]) -> bytes:
    """`MANIFEST.json` for `ir` whose other files are `files` (path → bytes).

    Records the sha256 of every file in `files`, each control's module, kind
    and digest, and the schema and dispatch digests.
    """
    controls = sorted(ir.controls, key=lambda c: c.control_id)
    return _manifest(ir, controls, {path: files[path] for path in sorted(files)})


def render_control_key_material(control: ControlIR, context: RenderContext) -> bytes:
    """Canonical JSON of everything `render_control(control, context)` reads.

    The generator's name and version and every field of the `ControlIR`
    (its digest too, which the header shows). A cache key must add mu's own
    digest: the templates and the renderer are inputs as well.
    """
    return ir_json(
        {
            "generator_name": context.generator_name,
            "generator_version": context.generator_version,
            "control": plain(control),
        }
    )


def render_shared_key_material(ir: PackageIR) -> bytes:
    """Canonical JSON of everything `render_shared(ir)` reads.

    The generator's name and version, the `SchemaIR`, the dispatch digest and
    the sorted control ids: `dispatch.py` lists the ids and nothing else of the
    controls. (`render_shared` also checks every control, as `render_package`
    does; `render_control` runs the same check on each control it renders, so
    a cache that keys the shared files on this loses no check.) A cache key
    must add mu's own digest (templates, renderer, runtime source).
    """
    controls = sorted(ir.controls, key=lambda c: c.control_id)
    return ir_json(
        {
            "generator_name": ir.generator_name,
            "generator_version": ir.generator_version,
            "schema": plain(ir.schema),
            "dispatch_digest": ir.dispatch_digest,
            "control_ids": [c.control_id for c in controls],
        }
    )


def _checked_controls(ir: PackageIR) -> list[ControlIR]:
    _check_header_word("generator name", ir.generator_name)
    _check_header_word("generator version", ir.generator_version)
    controls = sorted(ir.controls, key=lambda c: c.control_id)
    check_controls(controls)
    return controls


def _render_shared(ir: PackageIR, controls: list[ControlIR]) -> dict[str, bytes]:
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
    for path, text in files.items():
        _check_python(path, text)
    return {path: files[path].encode("utf-8") for path in sorted(files)}


def _render_control(control: ControlIR, context: RenderContext) -> bytes:
    # `control` has passed `check_control`.
    text = _normalise(
        _template("control.py.j2").render(
            generator_name=context.generator_name,
            generator_version=context.generator_version,
            **control_context(control),
            source_digest=_hex(control.digest),
        )
    )
    _check_python(control.module_path, text)
    return text.encode("utf-8")


def _template(name: str) -> Template:
    return _environment().get_template(name)


def _render(template: str, context: Mapping[str, Any], source_digest: str) -> str:
    text = _template(template).render(**context, source_digest=source_digest)
    return _normalise(text)


def _normalise(text: str) -> str:
    # Sources are LF files, but normalise anyway so a checkout with CRLF
    # conversion cannot make the output machine-dependent.
    text = text.replace("\r\n", "\n")
    return text.rstrip("\n") + "\n"


# --------------------------------------------------------------------------
# The runtime: real modules assembled into one (`runtime_assembly`)
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
    return (_indented_json(manifest) + "\n").encode("utf-8")


def _indented_json(value: object, depth: int = 0) -> str:
    """`json.dumps(value, sort_keys=True, indent=2)` for dicts of strings (nested).

    The same bytes (tests hold it to `json.dumps`), without the pure-Python
    encoder `indent` falls back to: strings are still written by `json.dumps`.
    """
    if not isinstance(value, dict):
        if isinstance(value, (list, tuple, float)):
            raise TypeError(f"the manifest writer does not write a {type(value).__name__}")
        return json.dumps(value)
    if not value:
        return "{}"
    pad = "  " * (depth + 1)
    items = [
        f"{pad}{json.dumps(key)}: {_indented_json(value[key], depth + 1)}" for key in sorted(value)
    ]
    return "{\n" + ",\n".join(items) + "\n" + "  " * depth + "}"


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
