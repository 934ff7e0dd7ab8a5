"""Hoist the decimal literals of a compiled condition into module constants.

`tx['amount'] > Decimal('1000.00')` builds a Decimal on every call, and
`tx['amount'] > 1000` converts the int on every call; comparing two Decimals
costs a fifth of either. So the renderer writes each literal once, as a
constant of the control module (`_D0 = Decimal('1000.00')`), and the condition
reads the constant: `tx['amount'] > _D0`.

The rewrite works on tokens of the checked source, never on its text: a
string literal that happens to read `Decimal('1')` is a single STRING token
and stays as it is. The result is checked again by the same whitelist, with
the hoisted names allowed.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass

# The canonical text `str(Decimal)` gives for a finite literal of the language.
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?(E[+-]?[0-9]+)?", re.ASCII)
HOISTED_NAME = re.compile(r"_D[0-9]+", re.ASCII)


@dataclass(frozen=True)
class Hoisted:
    """A condition's source over `_D0`, `_D1`, ... and the decimal text of each."""

    source: str
    decimals: tuple[str, ...]


def hoist_decimals(
    source: str, known: tuple[str, ...] = (), tokens: Sequence[tokenize.TokenInfo] | None = None
) -> Hoisted:
    """Replace every `Decimal('<text>')` call in `source` with a constant's name.

    Equal literals share one name; names are numbered in order of first use,
    after those of `known` (the literals of another source of the same module,
    whose names this one reuses), so equal sources give equal results. Raises
    `RuntimeError` if a Decimal call is not of the one shape the emitter
    writes (a bug in mu). `tokens`, when given, are `source`'s tokens as
    `tokenize.generate_tokens` gives them, from a caller that has them already.
    """
    if tokens is None:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    decimals: list[str] = list(known)
    pieces: list[str] = []
    cursor = 0
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == tokenize.NAME and tok.string == "Decimal":
            call = tokens[i : i + 4]
            shape = [(t.type, t.string) for t in call]
            if (
                len(call) != 4
                or shape[1] != (tokenize.OP, "(")
                or call[2].type != tokenize.STRING
                or shape[3] != (tokenize.OP, ")")
                or tok.start[0] != 1
                or call[3].end[0] != 1
            ):
                raise RuntimeError(f"unexpected Decimal call in compiled condition: {source!r}")
            text = ast.literal_eval(call[2].string)
            if type(text) is not str or not _DECIMAL_TEXT.fullmatch(text):
                raise RuntimeError(f"non-canonical decimal literal in condition: {source!r}")
            if text not in decimals:
                decimals.append(text)
            pieces.append(source[cursor : tok.start[1]])
            pieces.append(f"_D{decimals.index(text)}")
            cursor = call[3].end[1]
            i += 4
            continue
        i += 1
    pieces.append(source[cursor:])
    return Hoisted("".join(pieces), tuple(decimals))
