"""Where an IRI is written in Turtle text: the line and column a subject starts at.

rdflib turns Turtle into triples and forgets where each came from, but a
code-scanning annotation lands on a line. `index_turtle` scans one file's text
once, as a Turtle tokenizer would (comments, strings and IRIs are tokens, so a
`#` or an IRI inside a string is never mistaken for one), follows the file's
own `@prefix`/`PREFIX` and `@base`/`BASE` declarations, and records, for every
IRI, where it first starts a statement (its subject) and where it is first
written at all. Continuation lines (`;`, `,`) and terms nested in `[ … ]` or
`( … )` never start a statement.

Pure and total: text that is not valid Turtle yields a partial index, never an
exception; an IRI the index lacks is placed at line 1, column 1.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from rdflib.plugins.parsers.notation3 import join

from mu.generator.compile.load import BASE_IRI

# One Turtle token per match, tried in this order. Long strings precede short
# ones; blank-node labels precede prefixed names (`_:b` is not a prefix `_`).
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\r\n]*)
  | (?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*(?:\"\"\"|\Z)
              |'''(?:[^'\\]|\\.|'(?!''))*(?:'''|\Z)
              |"(?:[^"\\\r\n]|\\.)*"
              |'(?:[^'\\\r\n]|\\.)*')
  | (?P<at>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<bnode>_:(?:[\w-]|\.(?=[\w-]))+)
  | (?P<pname>(?:[^\W\d_](?:[\w.-]*[\w-])?)?:
              (?:[\w:%-]|\\[_~.!$&'()*+,;=/?\#@%-]|\.(?=[\w:%\\-]))*)
  | (?P<number>[+-]?(?:\d+\.\d*[eE][+-]?\d+|\.\d+[eE][+-]?\d+|\d+[eE][+-]?\d+|\d*\.\d+|\d+))
  | (?P<word>[A-Za-z_]\w*)
  | (?P<punct>\^\^|[.;,\[\]()])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_IRI_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_LOCAL_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True, order=True)
class Site:
    """A place in a text file: 1-based line, 1-based column in Unicode code points."""

    line: int
    column: int


# Where anything falls back to: the top of the file, which always exists.
TOP = Site(1, 1)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int


@dataclass(frozen=True)
class TurtleIndex:
    """Where each IRI of one Turtle file is first written.

    `subjects` maps an IRI to where it first starts a statement; `mentions`
    to where it is first written anywhere (as a subject, predicate, object,
    datatype or inside a nested `[ … ]`).
    """

    subjects: Mapping[str, Site]
    mentions: Mapping[str, Site]

    def site(self, iri: str) -> Site:
        """Where `iri` is described: as a subject, else where first written, else `TOP`."""
        return self.subjects.get(iri) or self.mentions.get(iri) or TOP


def _tokens(text: str) -> Iterator[_Token]:
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match is not None and match.lastgroup is not None  # `other` matches any char
        if match.lastgroup not in ("space", "comment"):
            yield _Token(match.lastgroup, match.group(), pos)
        pos = match.end()


def _iri(token: str, base: str) -> str | None:
    """The absolute IRI of an `<…>` token, resolved as rdflib resolves it; None if it cannot."""

    def unescape(m: re.Match[str]) -> str:
        return chr(int(m.group(1) or m.group(2), 16))

    relative = _IRI_ESCAPE.sub(unescape, token[1:-1])
    try:
        return join(base, relative)
    except ValueError:  # rdflib refuses the file too (e.g. relative to a `urn:` base)
        return None


class _Scanner:
    """The state of one pass over a file: declarations so far, statement position, depth."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.base = BASE_IRI
        self.prefixes: dict[str, str] = {}
        self.subjects: dict[str, int] = {}
        self.mentions: dict[str, int] = {}
        self.depth = 0  # inside how many `[`/`(`
        self.at_statement = True  # the next term at depth 0 starts a statement
        self.directive: list[str] = []  # `prefix` or `base`, then what it has read so far

    def term(self, token: _Token) -> str | None:
        """The IRI `token` stands for (an `<iri>` or a declared `prefix:local`), else None."""
        if token.kind == "iri":
            return _iri(token.text, self.base)
        if token.kind == "pname":
            prefix, _, local = token.text.partition(":")
            namespace = self.prefixes.get(prefix)
            return None if namespace is None else namespace + _LOCAL_ESCAPE.sub(r"\1", local)
        return None

    def feed(self, token: _Token) -> None:
        """Advance over one token, recording the IRI it names."""
        if self.directive and self._declare(token):
            return
        starts = self.depth == 0 and self.at_statement
        keyword = token.text if token.kind == "at" else token.text.upper()
        if starts and token.kind in ("at", "word") and keyword in ("@prefix", "PREFIX"):
            self.directive = ["prefix"]
            return
        if starts and token.kind in ("at", "word") and keyword in ("@base", "BASE"):
            self.directive = ["base"]
            return
        iri = self.term(token)
        if iri is not None:
            self.mentions.setdefault(iri, token.start)
            if starts:
                self.subjects.setdefault(iri, token.start)
        if token.text in ("[", "("):
            self.depth += 1
        elif token.text in ("]", ")"):
            self.depth = max(0, self.depth - 1)
        if token.text == "." and self.depth == 0:
            self.at_statement = True
        elif starts:  # whatever starts a statement (a subject, `[`, `(`) ends its start
            self.at_statement = False

    def _declare(self, token: _Token) -> bool:
        """Read one token of a directive; False (directive dropped) when it does not fit."""
        kind = self.directive[0]
        if kind == "prefix" and len(self.directive) == 1 and token.kind == "pname":
            if token.text.endswith(":") and token.text.count(":") == 1:
                self.directive.append(token.text[:-1])
                return True
        elif token.kind == "iri" and (kind == "base" or len(self.directive) == 2):
            iri = _iri(token.text, self.base)
            if iri is not None and kind == "base":
                self.base = iri
            elif iri is not None:
                self.prefixes[self.directive[1]] = iri
            self.directive = []
            return True
        self.directive = []
        return False

    def index(self) -> TurtleIndex:
        """Scan the whole text and place every recorded offset on its line and column."""
        for token in _tokens(self.text):
            self.feed(token)
        starts = [0] + [m.end() for m in re.finditer(r"\n", self.text)]

        def site(offset: int) -> Site:
            row = bisect.bisect_right(starts, offset) - 1
            return Site(row + 1, offset - starts[row] + 1)

        return TurtleIndex(
            subjects={iri: site(at) for iri, at in self.subjects.items()},
            mentions={iri: site(at) for iri, at in self.mentions.items()},
        )


def index_turtle(text: str) -> TurtleIndex:
    """Where every IRI of one Turtle file's text is first a subject and first written."""
    return _Scanner(text).index()


def locate(text: str, iri: str) -> Site:
    """Where `iri` starts a statement in Turtle `text` (else where it is first written,
    else line 1, column 1). Index once with `index_turtle` to look up many IRIs."""
    return index_turtle(text).site(iri)
