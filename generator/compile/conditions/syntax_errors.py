"""Human wording for syntax errors: lark terminal names never reach a user.

`parser.py` hands over what lark knows (the acceptable terminals, the token or
character found, the token before it); this module turns that into a message
("expected a value after `>=`") and a hint tailored to the usual mistakes.
"""

from __future__ import annotations

from collections.abc import Iterable

from .problem import ConditionProblem, syntax_problem

COMPARISON_TERMINALS = frozenset({"EQ", "NE", "LT", "LE", "GT", "GE"})
_VALUE_TERMINALS = frozenset({"PATH", "NAME", "DECIMAL", "INTEGER", "STRING", "TRUE", "FALSE"})
_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})

# Every terminal of grammar.lark (plus lark's end marker) has a human name.
HUMAN_NAMES: dict[str, str] = {
    "_OR": "`or`",
    "_AND": "`and`",
    "NOT": "`not`",
    "IN": "`in`",
    "_LPAR": "`(`",
    "_RPAR": "`)`",
    "_LBRACE": "`{`",
    "_RBRACE": "`}`",
    "_COMMA": "`,`",
    "$END": "the end of the condition",
    **{name: "a comparison operator" for name in COMPARISON_TERMINALS},
    **{name: "a value" for name in _VALUE_TERMINALS},
}

_VALUE_HINT = (
    "write a field, a number, a string in double quotes, `true`, `false` or an authority code"
)
_DEFAULT_HINT = (
    "a condition combines comparisons such as `amount > 1000.00` and "
    '`country in {"IR", "KP"}` with `and`, `or`, `not` and parentheses'
)
_ESCAPES_HINT = 'the only escapes are `\\"`, `\\\\`, `\\n` and `\\t`'


def expected_phrase(terminals: Iterable[str]) -> str:
    """`a value` or `one of: ...`, human names sorted and deduplicated."""
    names = sorted({HUMAN_NAMES[t] for t in terminals if t in HUMAN_NAMES})
    if not names:
        return "nothing more"
    if len(names) == 1:
        return names[0]
    return "one of: " + ", ".join(names)


def show(value: str) -> str:
    """User text for a message: backticked, cut short, invisible characters named."""
    if len(value) > 40:
        value = value[:37] + "..."
    if len(value) == 1 and (value.isspace() or not value.isprintable()):
        return f"U+{ord(value):04X}"
    return f"`{value}`"


def describe_unexpected(
    expected: set[str],
    found_type: str | None,
    found_value: str | None,
    prev: str | None,
    column: int,
) -> ConditionProblem:
    """The problem for a token (or the end, when `found_type` is None) out of place."""
    after = f" after {show(prev)}" if prev is not None else ""
    wanted = expected_phrase(expected)
    if found_type is None or found_value is None:
        message = f"expected {wanted}{after}"
    else:
        message = f"unexpected {show(found_value)}{after}: expected {wanted}"
    return syntax_problem(message, column, _hint(expected, found_type, found_value, prev))


def _hint(expected: set[str], found_type: str | None, found: str | None, prev: str | None) -> str:
    comparison_expected = bool(expected & COMPARISON_TERMINALS)
    if found_type in COMPARISON_TERMINALS and not comparison_expected:
        if prev in {"=", "!=", "<", "<=", ">", ">="}:
            if prev == "=" and found == "=":
                return "equality is written with a single `=`"
            return "use one comparison operator: `=`, `!=`, `<`, `<=`, `>` or `>=`"
        return "comparisons do not chain: join them with `and`, e.g. `a < b and b < c`"
    for word in (found if found_type == "NAME" else None, prev):
        if word and word != word.lower() and word.lower() in _KEYWORDS:
            return f"keywords are lowercase: write `{word.lower()}`"
    if found_type is None and "_RPAR" in expected:
        return "close every `(` with a `)`"
    if found_type is None and "_RBRACE" in expected:
        return "close the set with `}`"
    if expected & _VALUE_TERMINALS:
        return _VALUE_HINT
    if expected == {"_LBRACE"}:
        return '`in` takes a set literal such as `{"IR", "KP"}`'
    if comparison_expected and found_type in _VALUE_TERMINALS:
        return "put a comparison operator between two values, e.g. `amount > 1000.00`"
    return _DEFAULT_HINT


def describe_bad_character(
    text: str, pos: int, expected: set[str], prev: str | None
) -> ConditionProblem:
    """The problem for a character that starts no token (0-based `pos`)."""
    char = text[pos]
    if char == '"':
        problem = _string_problem(text, pos)
        if problem is not None:
            return problem
    after = f" after {show(prev)}" if prev is not None else ""
    message = f"unexpected character {show(char)}{after}: expected {expected_phrase(expected)}"
    return syntax_problem(message, pos + 1, _character_hint(char, expected))


def _character_hint(char: str, expected: set[str]) -> str:
    if char == "'":
        return 'strings are written in double quotes, e.g. `"IR"`'
    if char in "&|":
        return "write `and` and `or` as words"
    if char == "!":
        return "write `not` to negate a condition, `!=` for inequality"
    if char == ".":
        return "a decimal needs digits on both sides of the point, e.g. `0.50`"
    if expected & _VALUE_TERMINALS:
        return _VALUE_HINT
    return _DEFAULT_HINT


def _string_problem(text: str, start: int) -> ConditionProblem | None:
    """Say what is wrong with the string literal opening at `start`, if anything."""
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return None  # well-formed: the lexer failed for another reason
        if char in "\r\n":
            return syntax_problem(
                "a string literal cannot span lines",
                i + 1,
                'close the string with `"` on the same line; write a line break as `\\n`',
            )
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped in ('"', "\\", "n", "t"):
                i += 2
                continue
            if escaped and escaped not in "\r\n":
                return syntax_problem(
                    f"unsupported escape `\\{escaped}` in a string literal", i + 1, _ESCAPES_HINT
                )
            if escaped:
                return syntax_problem("a string literal cannot span lines", i + 2, _ESCAPES_HINT)
        i += 1
    return syntax_problem("unterminated string literal", start + 1, 'close the string with a `"`')
