"""Which regular expressions may be a `mu:pattern`: `pattern_problem`.

A declared pattern runs in every enforcer, on every transaction, against
values the sender chooses, so it must never take more than linear time, and
the compiler must say so before anything is generated. Python's `re`
backtracks, so two shapes are refused, judged on the parse tree `re` itself
builds (never by running the pattern):

- a quantifier inside a looping quantifier (`(a+)+`, `(a?)*`), or an
  alternation inside one (`(a|ab)*`): exponential time on some values;
- two quantifiers in a row that can match the same characters, with nothing
  between them that the first cannot match (`[a-z]+[a-z]+`, `\\d*\\.?\\d*`,
  `a?a?a?aaa`, `(?:x[a-z]+)?[a-z]+`, `(?:[a-z]+){3}`): time polynomial in the
  length of the value, with a degree as high as the number of quantifiers.

Also refused: constructs a whole-value match does not need and that defeat
the analysis (backreferences, lookaround, conditional groups), patterns that
do not compile, and patterns over `MAX_PATTERN_LENGTH` characters. The check
is conservative: it refuses some patterns that would in fact run fast, and
its message says how to rewrite them. Possessive quantifiers (`[a-z]++`) and
atomic groups (`(?>...)`) never give characters back, so nothing after them
competes with them (they may still compete with a quantifier before them).

Whether two character sets share a character is decided exactly, over every
code point (with case folding under `(?i)`), not guessed from their spelling.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_PATTERN_LENGTH", "PatternProblem", "pattern_problem"]

# Long enough for any real identifier format (an IBAN, a BIC, an ISO code),
# short enough that the parse tree stays small and the check stays exact.
MAX_PATTERN_LENGTH = 200

# The parser behind `re.compile`; private, so it is reached by name and held
# as Any (typeshed has no stubs for it). Only its parse tree is read.
_PARSER: Any = importlib.import_module("re._parser")

_REFUSED_OPCODES = {
    "GROUPREF": (
        "a backreference",
        "match the repeated text with its own pattern instead of `\\1`",
    ),
    "GROUPREF_IGNORE": (
        "a backreference",
        "match the repeated text with its own pattern instead of `\\1`",
    ),
    "GROUPREF_LOC_IGNORE": (
        "a backreference",
        "match the repeated text with its own pattern instead of `\\1`",
    ),
    "GROUPREF_UNI_IGNORE": (
        "a backreference",
        "match the repeated text with its own pattern instead of `\\1`",
    ),
    "GROUPREF_EXISTS": (
        "a conditional group `(?(1)...)`",
        "write the alternatives out with `|`",
    ),
    "ASSERT": (
        "a lookahead or lookbehind `(?=...)`/`(?<=...)`",
        "the pattern always matches the whole value; describe the value itself",
    ),
    "ASSERT_NOT": (
        "a negative lookahead or lookbehind `(?!...)`/`(?<!...)`",
        "list the values the field may take with mu:allowedValue, or describe the value itself",
    ),
}
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})


@dataclass(frozen=True)
class PatternProblem:
    """Why a pattern is refused, and how to fix it."""

    message: str
    hint: str


def pattern_problem(pattern: str) -> PatternProblem | None:
    """Why `pattern` may not be a `mu:pattern`, or None if it may."""
    if not pattern:
        return PatternProblem(
            "the pattern is empty", "remove mu:pattern, or write the values the field may take"
        )
    if len(pattern) > MAX_PATTERN_LENGTH:
        return PatternProblem(
            f"the pattern is {len(pattern)} characters long, over the limit of "
            f"{MAX_PATTERN_LENGTH}",
            "shorten it, or list the values the field may take with mu:allowedValue",
        )
    try:
        re.compile(pattern)
        tree = _PARSER.parse(pattern)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        return PatternProblem(
            f"`{pattern}` is not a regular expression: {exc.msg}{where}",
            "write a Python regular expression, e.g. `[A-Z]{2}`",
        )
    except RecursionError:
        return PatternProblem(
            f"`{pattern}` nests groups too deeply", "write the pattern with fewer nested groups"
        )
    return _tree_problem(pattern, tree) or _competition_problem(pattern, tree)


def _tree_problem(pattern: str, tree: Any) -> PatternProblem | None:
    """Walk the parse tree; `inside` counts the looping quantifiers around a node."""
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        items, inside = stack.pop()
        for op, av in items:
            name = str(op)
            refused = _REFUSED_OPCODES.get(name)
            if refused is not None:
                return PatternProblem(f"`{pattern}` uses {refused[0]}", refused[1])
            if name in _REPEATS:
                low, high, body = av
                # `x?` and `x{2}` do not loop; `x*`, `x+` and `x{1,3}` do, and
                # a loop around anything that can match in more than one way
                # is what backtracks exponentially.
                variable = low != high
                loops = variable and high > 1
                if variable and inside:
                    return PatternProblem(
                        f"`{pattern}` nests a quantifier inside another, as in `(a+)+`, "
                        "which can take exponential time on some values",
                        "quantify one level only, e.g. `[a-z]+(?:-[a-z]+)?` or `[a-z-]+`",
                    )
                stack.append((body, inside + (1 if loops else 0)))
            elif name == "BRANCH":
                if inside:
                    return PatternProblem(
                        f"`{pattern}` repeats an alternation, as in `(a|ab)*`, "
                        "which can take exponential time on some values",
                        "use a character class such as `[ab]*`, or list the values the field "
                        "may take with mu:allowedValue",
                    )
                stack.extend((branch, inside) for branch in av[1])
            elif name == "SUBPATTERN":
                stack.append((av[-1], inside))
            elif name == "ATOMIC_GROUP":
                stack.append((av, inside))
            # LITERAL, NOT_LITERAL, ANY, IN and AT match one position or one
            # character: nothing inside them can backtrack.
    return None


# --------------------------------------------------------------------------
# Competing quantifiers
# --------------------------------------------------------------------------

# A character set is named by a one-character regular expression; `_ANYTHING`
# stands for a node the analysis does not model, which shares every character.
_ANYTHING = "*"
_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}
# Sets small enough to list are compared by listing them; others by a scan.
_SMALL_SET = 4096


class _Competing(Exception):
    """Two quantifiers compete for the same characters."""


@dataclass(frozen=True)
class _Info:
    """What the analysis knows about a node of the parse tree.

    `first`: the sets of the characters it can start with; `tail`: the sets of
    the characters it could still take one more of where it may end;
    `nullable`: it can match nothing; `variable`: it can match in more than
    one length, so its neighbours may compete with it; `chars`: every set in it;
    `skippable`: it may match nothing even where it could match something, so
    what follows may start where it starts (not so a possessive `a*+`).
    """

    first: frozenset[str]
    tail: frozenset[str]
    nullable: bool
    variable: bool
    chars: frozenset[str]
    skippable: bool = False


_EMPTY: frozenset[str] = frozenset()
_EVERYTHING = frozenset({_ANYTHING})
_UNKNOWN = _Info(_EVERYTHING, _EVERYTHING, True, True, _EVERYTHING, True)


def _escape(code: int) -> str:
    return re.escape(chr(code))


def _set_source(op: str, av: Any, icase: bool) -> str:
    """The one-character regular expression of a character node, or `_ANYTHING`."""
    source: str | None
    if op == "LITERAL":
        source = _escape(av)
    elif op == "NOT_LITERAL":
        source = f"[^{_escape(av)}]"
    elif op == "ANY":
        source = "(?s:.)"
    elif op == "IN":
        parts: list[str] = []
        for item_op, item_av in av:
            name = str(item_op)
            if name == "NEGATE":
                parts.insert(0, "^")
            elif name == "LITERAL":
                parts.append(_escape(item_av))
            elif name == "RANGE":
                parts.append(f"{_escape(item_av[0])}-{_escape(item_av[1])}")
            elif name == "CATEGORY" and str(item_av) in _CATEGORIES:
                parts.append(_CATEGORIES[str(item_av)])
            else:
                return _ANYTHING
        source = "[" + "".join(parts) + "]"
    else:
        return _ANYTHING
    return ("(?i)" if icase else "") + source


@functools.cache
def _every_character() -> str:
    """Every code point once, in order: the universe a scan compares sets over."""
    return "".join(map(chr, range(0x110000)))


@functools.cache
def _members(source: str) -> str:
    """Every character the one-character expression `source` matches, as one string."""
    listed = _listed(source)
    if listed is not None:
        return listed
    return "".join(re.findall(source, _every_character()))


def _listed(source: str) -> str | None:
    """The members of a small set without a scan; None if it is not small and plain."""
    try:
        tree = _PARSER.parse(source.removeprefix("(?i)"))
    except re.error:
        return None
    chars: list[str] = []
    for op, av in tree:
        name = str(op)
        if name == "LITERAL":
            chars.append(chr(av))
        elif name == "IN" and all(str(o) in ("LITERAL", "RANGE") for o, _ in av):
            for item_op, item_av in av:
                low, high = (item_av, item_av) if str(item_op) == "LITERAL" else item_av
                if high - low >= _SMALL_SET or len(chars) >= _SMALL_SET:
                    return None
                chars.extend(map(chr, range(low, high + 1)))
        else:
            return None
    if source.startswith("(?i)"):
        # Under (?i) a set also holds its characters' other cases.
        chars = [c for char in chars for c in _cases(char)]
    return "".join(dict.fromkeys(chars))


def _cases(char: str) -> tuple[str, ...]:
    variants = {char, char.lower(), char.upper(), char.casefold(), char.upper().lower()}
    return tuple(sorted(v for v in variants if len(v) == 1))


@functools.cache
def _share(a: str, b: str) -> bool:
    """Whether the one-character expressions `a` and `b` match a common character."""
    if _ANYTHING in (a, b):
        return True
    smaller, other = sorted((a, b), key=lambda s: (_listed(s) is None, s))
    return re.search(other, _members(smaller)) is not None


def _overlap(left: frozenset[str], right: frozenset[str]) -> bool:
    return any(_share(a, b) for a in sorted(left) for b in sorted(right))


def _sequence(items: Any, icase: bool) -> _Info:
    """Walk a sequence left to right; raise `_Competing` where quantifiers compete.

    `open` holds the sets a variable-length element before the current one
    could still be taking characters from: a later variable element that can
    start with one of them competes with it for the same run of characters.
    Only a required element that cannot be one of those characters closes it.
    """
    open_sets: frozenset[str] = _EMPTY
    first: frozenset[str] = _EMPTY
    chars: frozenset[str] = _EMPTY
    nullable = True
    variable = False
    for op, av in items:
        info = _node(str(op), av, icase)
        if info.variable and _overlap(open_sets, info.first):
            raise _Competing
        if nullable:
            first |= info.first
        if info.nullable:
            # What follows may start where it starts (`a?a`), or anywhere in it.
            open_sets |= info.tail | (info.chars if info.skippable else _EMPTY)
        else:
            kept = open_sets if _overlap(open_sets, info.first) else _EMPTY
            open_sets = info.tail | kept
            nullable = False
        variable = variable or info.variable
        chars |= info.chars
    return _Info(first, open_sets, nullable, variable, chars, nullable and variable)


def _node(op: str, av: Any, icase: bool) -> _Info:
    """The `_Info` of one node of the parse tree (checking what is inside it)."""
    if op in ("LITERAL", "NOT_LITERAL", "ANY", "IN"):
        one = frozenset({_set_source(op, av, icase)})
        return _Info(one, _EMPTY, False, False, one)
    if op == "AT":
        return _Info(_EMPTY, _EMPTY, True, False, _EMPTY)
    if op == "SUBPATTERN":
        return _sequence(av[-1], icase)
    if op == "ATOMIC_GROUP":
        # It never gives back what it took, so nothing after it competes with
        # it; but it may itself compete with what comes before (`[a-z]+(?>[a-z]+)`).
        inner = _sequence(av, icase)
        return _Info(inner.first, _EMPTY, inner.nullable, inner.variable, inner.chars)
    if op == "BRANCH":
        branches = [_sequence(branch, icase) for branch in av[1]]
        chars = frozenset().union(*(b.chars for b in branches))
        tail = frozenset().union(*(b.tail for b in branches))
        # Alternatives of one fixed length (`IR|KP`) never shift what follows;
        # otherwise (`ab|a`) what follows may compete with any of their characters.
        widths = {branch.getwidth() for branch in av[1]}
        fixed = len(widths) == 1 and len({*next(iter(widths))}) == 1
        return _Info(
            frozenset().union(*(b.first for b in branches)),
            tail if fixed else tail | chars,
            any(b.nullable for b in branches),
            not fixed or any(b.variable for b in branches),
            chars,
            any(b.nullable for b in branches),
        )
    if op in _REPEATS:
        low, high, body = av
        inner = _sequence(body, icase)
        if high == 0:
            return _Info(_EMPTY, _EMPTY, True, False, _EMPTY)
        if high > 1 and inner.variable and _overlap(inner.tail, inner.first):
            raise _Competing  # `(?:[a-z]+){3}` is `[a-z]+[a-z]+[a-z]+`
        nullable = low == 0 or inner.nullable
        if op == "POSSESSIVE_REPEAT":
            # Like an atomic group: it competes with what is before it only.
            variable = low != high or inner.variable
            return _Info(inner.first, _EMPTY, nullable, variable, inner.chars)
        # A loop may stop after any of its characters, `(?:a-)+` after `a` or `-`.
        loops = low != high and high > 1
        return _Info(
            inner.first,
            inner.tail | (inner.chars if loops else _EMPTY),
            nullable,
            low != high or inner.variable,
            inner.chars,
            nullable,
        )
    return _UNKNOWN


def _competition_problem(pattern: str, tree: Any) -> PatternProblem | None:
    """A problem if two quantifiers of `pattern` compete for the same characters."""
    # Under (?i), global or in a group, every set also holds its other cases:
    # comparing all of them so is conservative.
    icase = bool(tree.state.flags & re.IGNORECASE) or re.search(r"\(\?[a-z]*i", pattern)
    try:
        _sequence(tree, bool(icase))
    except _Competing:
        return PatternProblem(
            f"`{pattern}` has quantifiers that compete for the same characters, as in "
            "`[a-z]+[a-z]+` or `\\d*\\.?\\d*`, which can take polynomial time on long values",
            "merge them into one quantifier (`[a-z]{2,}`), or put between them a required "
            "character the first cannot match, as in `\\d+\\.\\d+`; a possessive "
            "quantifier such as `[a-z]++` never competes",
        )
    return None
