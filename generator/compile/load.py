"""Stage 1, load: Turtle files → `LoadedOntology`.

O is every `*.ttl` under `<ontology>/controls/`, the organisation's Σ every
`*.ttl` under `<ontology>/shapes/`, both read in sorted path order. A syntax
error stops the line with the file and line; the digest stage reads the same
bytes, so what is validated is exactly what is hashed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import rdflib
from rdflib.plugins.parsers.notation3 import BadSyntax

from mu.generator.errors import InputError, Location
from mu.generator.hashing import sha256_hex
from mu.generator.layout import controls_dir, shapes_dir, sorted_files

# Relative IRIs resolve against one constant base, never the file's location,
# so moving a checkout does not change what the ontology means.
BASE_IRI = "urn:mu:base/"


@dataclass(frozen=True)
class SourceFile:
    """One Turtle source: its path relative to the ontology dir, bytes and sha256."""

    path: str
    data: bytes
    sha256: str


@dataclass(frozen=True)
class LoadedOntology:
    """O and the organisation's Σ as parsed graphs, with their sources."""

    directory: Path
    control_files: tuple[SourceFile, ...]
    shape_files: tuple[SourceFile, ...]
    data: rdflib.Graph
    org_shapes: rdflib.Graph
    # subject (N3 form) -> relative paths of the files that describe it, so a
    # violation can name the file to edit.
    subject_files: dict[str, tuple[str, ...]]

    @property
    def sources(self) -> tuple[SourceFile, ...]:
        """Every source file, O first, then Σ, each group sorted by path."""
        return self.control_files + self.shape_files


def read_sources(directory: Path, sub: Path) -> tuple[SourceFile, ...]:
    """Read every `*.ttl` under `sub` as a `SourceFile` with a path relative to `directory`.

    `sub` may lie outside `directory` (a Σ named with `mu validate --schema`): its paths
    then start with `../`, so `directory / path` still opens the file in messages.
    """
    out = []
    for path in sorted_files(sub, "*.ttl"):
        rel = Path(os.path.relpath(path, directory)).as_posix()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(
                f"cannot read `{rel}`: {exc.strerror}",
                hint="make the file readable by the user running mu, or remove it",
            ) from exc
        out.append(SourceFile(rel, data, sha256_hex(data)))
    return tuple(out)


def _syntax_line(exc: BadSyntax) -> int | None:
    match = re.search(r"at line (\d+)", str(exc))
    return int(match.group(1)) if match else None


def _syntax_column(exc: BadSyntax, line: int | None) -> int | None:
    """The 1-based column of a syntax error, when rdflib's offset agrees with its line."""
    text, offset = getattr(exc, "_str", None), getattr(exc, "_i", None)
    if not isinstance(text, bytes) or not isinstance(offset, int) or line is None:
        return None
    before = text.decode("utf-8", errors="replace")[:offset]
    if before.count("\n") + 1 != line:
        return None
    return offset - (before.rfind("\n") + 1) + 1


def parse_turtle(source: SourceFile, into: rdflib.Graph, directory: Path | None = None) -> None:
    """Parse one Turtle file into `into`; a syntax error names the file and line.

    `directory` is the ontology directory as the user named it, so messages
    show a path they can open (`ontology/controls/x.ttl:12`).
    """
    shown = (directory / source.path).as_posix() if directory else source.path
    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"`{shown}` is not UTF-8 (byte {exc.start})",
            hint="save the file as UTF-8",
        ) from exc
    try:
        into.parse(data=text, format="turtle", publicID=BASE_IRI)
    except BadSyntax as exc:
        line = _syntax_line(exc)
        why = str(getattr(exc, "_why", "")).strip() or "syntax error"
        where = f"{shown}:{line}" if line else shown
        raise InputError(
            f"turtle syntax error in `{where}`: {why}",
            hint="fix the Turtle at that line (a missing `.`, `;` or quote is the usual cause)",
            location=Location(shown, line, _syntax_column(exc, line)),
        ) from exc
    except Exception as exc:  # rdflib raises assorted types for malformed input
        raise InputError(
            f"turtle syntax error in `{shown}`: {exc}",
            hint="fix the Turtle in that file",
            location=Location(shown),
        ) from exc


def load_ontology(directory: Path, shapes: Path | None = None) -> LoadedOntology:
    """Load O (`controls/`) and Σ (`shapes/`, or the directory `shapes`) from an ontology
    directory. The core shapes of the vocabulary are not Σ: validation always adds them."""
    if not directory.is_dir():
        raise InputError(
            f"ontology directory `{directory}` does not exist",
            hint="run mu from the policy repository root, or pass `--input DIR`",
        )
    if shapes is not None and not shapes.is_dir():
        raise InputError(
            f"shapes directory `{shapes}` does not exist",
            hint="pass `--schema DIR` (or `--constraints DIR`) naming a directory of `*.ttl` "
            "SHACL shapes, or leave it out to use the ontology's `shapes/`",
        )
    control_files = read_sources(directory, controls_dir(directory))
    if not control_files:
        raise InputError(
            f"no `*.ttl` files under `{controls_dir(directory)}`",
            hint="the ontology directory needs a `controls/` folder of Turtle files",
        )
    shape_files = read_sources(directory, shapes_dir(directory) if shapes is None else shapes)
    data = rdflib.Graph()
    subject_files: dict[str, set[str]] = {}
    for source in control_files:
        single = rdflib.Graph()
        parse_turtle(source, single, directory)
        for prefix, namespace in sorted(single.namespaces()):
            # Keep the authors' prefixes so messages can say `ex:Foo`.
            data.bind(prefix, namespace, override=False)
        for subject in set(single.subjects()):
            subject_files.setdefault(subject.n3(), set()).add(source.path)
        data += single
    org_shapes = rdflib.Graph()
    for source in shape_files:
        parse_turtle(source, org_shapes, directory)
    return LoadedOntology(
        directory=directory,
        control_files=control_files,
        shape_files=shape_files,
        data=data,
        org_shapes=org_shapes,
        subject_files={k: tuple(sorted(v)) for k, v in sorted(subject_files.items())},
    )
