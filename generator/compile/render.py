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
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import re
import tokenize
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from generator.compile.conditions.safety import verify_source
from generator.compile.ir import ControlIR, PackageIR, SchemaIR
from generator.compile.model import ACTION_KINDS, DECISION_KINDS
from generator.hashing import sha256_hex

__all__ = ["constant_digest", "py_literal", "render_package"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

CONTROL_KINDS = DECISION_KINDS | ACTION_KINDS
EFFECTS = frozenset({"REJECT", "REVIEW"})
OUTCOMES = frozenset({"APPROVE", "REJECT", "REVIEW"})
PARTIES = frozenset({"initiator", "approver", "executor"})
DATATYPES = frozenset({"decimal", "integer", "string", "boolean", "authority"})

# Identifiers become file names and module names, so they are held to the
# contract's pattern (SPEC §3) even though validation upstream checks it too.
_CONTROL_ID_RE = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
# Name and version are written into header comments, where `py` cannot help.
_HEADER_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", re.ASCII)
_HEX_DIGEST_RE = re.compile(r"[0-9a-f]{64}", re.ASCII)
# The same plain decimal notation the runtime accepts for amounts.
_DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


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
    files: dict[str, str] = {
        "__init__.py": _render("init.py.j2", base, static_digest),
        "runtime.py": _render("runtime.py.j2", base, static_digest),
        "controls/__init__.py": _render("controls_init.py.j2", base, static_digest),
        "schema.py": _render(
            "schema.py.j2", {**base, **_schema_context(ir.schema)}, _hex(ir.schema.digest)
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
    # Templates are LF files, but normalise anyway so a checkout with CRLF
    # conversion cannot make the output machine-dependent.
    text = text.replace("\r\n", "\n")
    return text.rstrip("\n") + "\n"


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


def _schema_context(schema: SchemaIR) -> dict[str, Any]:
    types = sorted(schema.types, key=lambda t: t.type_id)
    authorities = sorted(schema.authorities, key=lambda a: (a.rank, a.code))
    for t in types:
        for f in t.fields:
            if f.datatype not in DATATYPES:
                raise ValueError(
                    f"field `{f.path}` of type `{t.type_id}` has unknown datatype `{f.datatype}`"
                )
    return {
        # (type id, label, ((path, datatype, required), ...)) — plain tuples for `py`.
        "types": [
            (t.type_id, t.label, [(f.path, f.datatype, f.required) for f in t.fields])
            for t in types
        ],
        "authorities": [(a.code, a.rank, a.label) for a in authorities],
    }


def _control_context(control: ControlIR) -> dict[str, Any]:
    source = None if control.when is None else control.when.source
    names = _check_condition(control.control_id, source) if source is not None else set()
    return {
        "c": control,
        "when_source": source,
        "condition_text": None if control.when is None else control.when.text,
        # Import Decimal only where it is used, so the module stays lint-clean.
        "needs_decimal": control.kind == "approval" or "Decimal" in names,
    }


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
        if not set(c.on_outcome) <= OUTCOMES:
            raise ValueError(f"control `{cid}` has an unknown outcome in {c.on_outcome!r}")
        if not set(c.separates) <= PARTIES:
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
