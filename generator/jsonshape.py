"""Small declarative checks of JSON values: what a field must be, said in JSON's words.

`generator.provenance.statement` describes mu's statements with these; a check collects
every problem (up to `MAX_PROBLEMS`), each named by its dotted field path, and
says what was expected and what was found. Values are bounded as well as
typed: an integer fits in 2**53 - 1 (RFC 7493: larger ones do not survive
every JSON reader), a string has a length limit and no control characters, so
nothing read from foreign JSON can flood or forge a line of a report.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from mu.generator.errors import Problem

MAX_PROBLEMS = 50  # a statement with a million bad entries needs a few named, not all
MAX_SAFE_INTEGER = 2**53 - 1
SHORT = 256  # names, versions, ids, gate names
PATH = 4096  # relative paths of files (PATH_MAX)
LONG = 1024 * 1024  # free text: violation messages, focus nodes

Where = tuple[str | int, ...]
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Control characters (C0, DEL, C1) and lone surrogates: a report printing them
# could forge a line or fail to encode at all.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Free text (a SHACL message) may hold tabs and line breaks.
_UNPRINTABLE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def encodable(text: str) -> bool:
    """Whether `text` is valid Unicode (no lone surrogate), so it can be written as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_type(value: object) -> str:
    """The JSON name of a value's type ("a number", "an object"): the reader wrote JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def preview(text: str, limit: int = 24) -> str:
    """A short, printable, backtick-safe rendering of untrusted text for a message."""
    shown = json.dumps(text[:limit])[1:-1].replace("`", "\\u0060")
    return f"{shown}…" if len(text) > limit else shown


def _number(value: int) -> str:
    # str() of a huge int is slow and, past 4,300 digits, refused by Python.
    if value.bit_length() > 64:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    return f"`{value}`"


def _found(value: object) -> str:
    """A string by its (short) content, anything else by its JSON type."""
    return f"`{preview(value)}`" if isinstance(value, str) else json_type(value)


def _label(where: Where) -> str:
    """`predicate field `ontology.snapshot.path``, `statement field `subject[3].name``."""
    if not where:
        return "the statement"
    in_predicate = where[0] == "predicate" and len(where) > 1
    text = ""
    for part in where[1:] if in_predicate else where:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f'["{preview(part, 40)}"]'
    return f"{'predicate' if in_predicate else 'statement'} field `{text}`"


def add_problem(out: list[Problem], where: Where, message: str) -> None:
    """Append a problem at `where`, or, once `MAX_PROBLEMS` are listed, say that more exist."""
    if len(out) < MAX_PROBLEMS:
        out.append(Problem(_label(where), message))
    elif len(out) == MAX_PROBLEMS:
        out.append(Problem("…", f"more than {MAX_PROBLEMS} problems; the rest are not listed"))


class Spec(ABC):
    """What one field must be."""

    @abstractmethod
    def check(self, value: object, where: Where, out: list[Problem]) -> None:
        """Append to `out` every way in which `value`, found at `where`, departs from this."""


class Leaf(Spec):
    """A single JSON value: one reason at most."""

    @abstractmethod
    def reason(self, value: object) -> str | None:
        """Why `value` does not fit ("must be a string, found a number"), or None."""

    def check(self, value: object, where: Where, out: list[Problem]) -> None:
        """One problem when `value` does not fit."""
        why = self.reason(value)
        if why is not None:
            add_problem(out, where, why)


@dataclass(frozen=True)
class Text(Leaf):
    """A non-empty string of at most `max_length` printable characters."""

    max_length: int = SHORT
    multiline: bool = False

    def reason(self, value: object) -> str | None:
        """Type, emptiness, length, then characters."""
        if not isinstance(value, str):
            return f"must be a string, found {json_type(value)}"
        if not value:
            return "must not be empty"
        if len(value) > self.max_length:
            return f"must be at most {self.max_length} characters, found {len(value)}"
        bad = (_UNPRINTABLE_TEXT if self.multiline else _UNPRINTABLE).search(value)
        if bad is not None:
            return f"must not hold the control character {json.dumps(bad.group())}"
        return None


@dataclass(frozen=True)
class Boolean(Leaf):
    """`true` or `false`."""

    def reason(self, value: object) -> str | None:
        """Only a JSON boolean."""
        if not isinstance(value, bool):
            return f"must be a boolean, found {json_type(value)}"
        return None


_TIMESTAMP = re.compile(r"[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z")


@dataclass(frozen=True)
class Timestamp(Leaf):
    """A UTC time as mu records it: `YYYY-MM-DDTHH:MM:SSZ`."""

    def reason(self, value: object) -> str | None:
        """A string of exactly that form."""
        if not isinstance(value, str):
            return f"must be a string, found {json_type(value)}"
        if not _TIMESTAMP.fullmatch(value):
            return f"must be a UTC time `YYYY-MM-DDTHH:MM:SSZ`, found `{preview(value)}`"
        return None


@dataclass(frozen=True)
class Hex64(Leaf):
    """A sha256 digest as mu writes it: 64 lowercase hex digits."""

    def reason(self, value: object) -> str | None:
        """Type, then form."""
        if isinstance(value, str) and _HEX64.fullmatch(value):
            return None
        return f"must be a sha256 digest (64 lowercase hex digits), found {_found(value)}"


@dataclass(frozen=True)
class Integer(Leaf):
    """An integer (never a boolean, never `1.0`) from `minimum` to 2**53 - 1."""

    minimum: int = 0

    def reason(self, value: object) -> str | None:
        """Type, then range."""
        if isinstance(value, float):
            return "must be an integer, found a number with a fraction or exponent"
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, found {json_type(value)}"
        if not self.minimum <= value <= MAX_SAFE_INTEGER:
            return (
                f"must be an integer from {self.minimum} to {MAX_SAFE_INTEGER}, "
                f"found {_number(value)}"
            )
        return None


@dataclass(frozen=True)
class Number(Leaf):
    """A number, integer or not (never a boolean), from `minimum` to `maximum`."""

    minimum: int
    maximum: int

    def reason(self, value: object) -> str | None:
        """Type, then range (which a huge integer fails without being printed)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, found {json_type(value)}"
        if not self.minimum <= value <= self.maximum:
            shown = _number(value) if isinstance(value, int) else f"`{value}`"
            return f"must be a number from {self.minimum} to {self.maximum}, found {shown}"
        return None


@dataclass(frozen=True)
class OneOf(Leaf):
    """One of a few fixed strings."""

    values: tuple[str, ...]

    def reason(self, value: object) -> str | None:
        """Membership."""
        if isinstance(value, str) and value in self.values:
            return None
        allowed = " or ".join(f"`{v}`" for v in self.values)
        return f"must be {allowed}, found {_found(value)}"


@dataclass(frozen=True)
class RelativePath(Leaf):
    """A relative POSIX path with no empty, `.` or `..` segment, optionally under `prefix`."""

    prefix: str = ""

    def reason(self, value: object) -> str | None:
        """Text rules, then every segment, then the prefix."""
        why = Text(PATH).reason(value)
        if why is not None or not isinstance(value, str):
            return why
        parts = value.split("/")
        if "\\" in value or any(p in ("", ".", "..") for p in parts):
            return (
                f"must be a relative path without empty, `.` or `..` segments, "
                f"found `{preview(value)}`"
            )
        if self.prefix and not value.startswith(self.prefix):
            return f"must start with `{self.prefix}`, found `{preview(value)}`"
        return None


@dataclass(frozen=True)
class Nullable(Leaf):
    """Null, or what `inner` requires."""

    inner: Leaf

    def reason(self, value: object) -> str | None:
        """Null passes; anything else is the inner spec's business."""
        if value is None:
            return None
        why = self.inner.reason(value)
        if why is None or not why.startswith("must be "):
            return why
        return f"must be null or {why.removeprefix('must be ')}"


@dataclass(frozen=True)
class ListOf(Spec):
    """A list whose every item is `item`."""

    item: Spec
    non_empty: bool = False

    def check(self, value: object, where: Where, out: list[Problem]) -> None:
        """The list itself, then each item."""
        if not isinstance(value, list):
            add_problem(out, where, f"must be a list, found {json_type(value)}")
            return
        if self.non_empty and not value:
            add_problem(out, where, "must not be an empty list")
        for index, item in enumerate(value):
            if len(out) > MAX_PROBLEMS:
                return
            self.item.check(item, (*where, index), out)


@dataclass(frozen=True)
class MapOf(Spec):
    """An object whose every key is `key` and every value is `value`."""

    key: Leaf
    value: Spec

    def check(self, value: object, where: Where, out: list[Problem]) -> None:
        """The object itself, then each key and value."""
        if not isinstance(value, dict):
            add_problem(out, where, f"must be an object, found {json_type(value)}")
            return
        for key, item in value.items():
            if len(out) > MAX_PROBLEMS:
                return
            why = self.key.reason(key)
            if why is not None:
                add_problem(out, where, f"has a key that {why}")
                continue
            self.value.check(item, (*where, key), out)


@dataclass(frozen=True)
class Record(Spec):
    """An object with these fields (others are allowed: later versions may add some)."""

    fields: tuple[tuple[str, Spec], ...]
    optional: frozenset[str] = field(default_factory=frozenset)

    def check(self, value: object, where: Where, out: list[Problem]) -> None:
        """The object itself, then each named field."""
        if not isinstance(value, dict):
            add_problem(out, where, f"must be an object, found {json_type(value)}")
            return
        for name, spec in self.fields:
            if name in value:
                spec.check(value[name], (*where, name), out)
            elif name not in self.optional:
                add_problem(out, (*where, name), "is missing")


def record(*fields: tuple[str, Spec], optional: tuple[str, ...] = ()) -> Record:
    """A `Record` from `(name, spec)` pairs."""
    return Record(tuple(fields), frozenset(optional))
