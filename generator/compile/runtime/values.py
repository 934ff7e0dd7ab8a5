"""Values that look alike: the normal form of party ids and whole-value pattern matches.

SPEC §3: "Values that look alike must not get past a control." Party ids
(`*.id`) are compared in one normal form, so `Alice`, `alice `, `al<ZWSP>ice`
and the full-width `alice` (U+FF41...) are all the person `alice`; and a
declared `mu:pattern` must match the whole value, never a prefix of it nor
all but a trailing newline.

This docstring and the imports below are not rendered: `enforcers/runtime.py`
starts with the docstring of the runtime package and the merged imports of its
parts, then everything after the imports here, then the other parts. The
condition compiler imports `party_id` from here too, so a literal compared
with a party id is written in exactly the form the runtime compares.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from typing import Final

# Default_Ignorable_Code_Point from DerivedCoreProperties.txt, Unicode 15.1.0
# (unchanged in 16.0.0; 4174 code points), as sorted, merged, inclusive
# (first, last) ranges. They render as nothing, so "al\u200bice" shows as
# "alice"; embedded because `unicodedata` has no such property and a deployed
# enforcer must not depend on the host's copy of the Unicode data for it.
_DEFAULT_IGNORABLE_RANGES: Final[tuple[tuple[int, int], ...]] = (
    (0x00AD, 0x00AD),  # SOFT HYPHEN
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER
    (0x061C, 0x061C),  # ARABIC LETTER MARK
    (0x115F, 0x1160),  # HANGUL CHOSEONG/JUNGSEONG FILLER
    (0x17B4, 0x17B5),  # KHMER VOWEL INHERENT AQ..AA
    (0x180B, 0x180F),  # MONGOLIAN FREE VARIATION SELECTORS, VOWEL SEPARATOR
    (0x200B, 0x200F),  # ZERO WIDTH SPACE..RIGHT-TO-LEFT MARK
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # WORD JOINER..NOMINAL DIGIT SHAPES (and reserved)
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xFE00, 0xFE0F),  # VARIATION SELECTOR-1..16
    (0xFEFF, 0xFEFF),  # ZERO WIDTH NO-BREAK SPACE (byte order mark)
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0xFFF0, 0xFFF8),  # reserved
    (0x1BCA0, 0x1BCA3),  # SHORTHAND FORMAT controls
    (0x1D173, 0x1D17A),  # MUSICAL SYMBOL BEGIN BEAM..END PHRASE
    (0xE0000, 0xE0FFF),  # tags, VARIATION SELECTOR-17..256 (and reserved)
)
# The range starts alone, for `bisect`: the range that may hold a code point
# is the last one starting at or before it.
_DEFAULT_IGNORABLE_STARTS: Final[tuple[int, ...]] = tuple(
    first for first, _ in _DEFAULT_IGNORABLE_RANGES
)


def _is_default_ignorable(char: str) -> bool:
    """Whether `char` (one code point) is a Default_Ignorable_Code_Point."""
    code = ord(char)
    index = bisect.bisect_right(_DEFAULT_IGNORABLE_STARTS, code) - 1
    return index >= 0 and code <= _DEFAULT_IGNORABLE_RANGES[index][1]


def party_id(value: str) -> str:
    """The normal form in which party ids are compared (SPEC §3).

    NFKC, case-folded, NFKC again, default-ignorable code points removed,
    NFKC again (removing one may let its neighbours compose), then surrounding
    white space stripped. Returns "" for an id that is empty in this form; the
    caller reports such an id as invalid, never as a person.
    """
    if value.isascii():
        # The same result for ASCII, without the Unicode tables: NFKC leaves
        # ASCII unchanged, casefold() is lower() there, and no ASCII code point
        # is default-ignorable (a test holds the two paths equal).
        return value.lower().strip()
    return _party_id_unicode(value)


def _party_id_unicode(value: str) -> str:
    """`party_id` the long way, step by step, for any text."""
    text = unicodedata.normalize("NFKC", value)
    text = unicodedata.normalize("NFKC", text.casefold())
    text = "".join(char for char in text if not _is_default_ignorable(char))
    return unicodedata.normalize("NFKC", text).strip()


def full_match(pattern: re.Pattern[str], value: str) -> bool:
    """Whether `pattern` matches the whole of `value` (a declared `mu:pattern`).

    `fullmatch` never accepts a prefix, and `$` in a pattern cannot swallow a
    trailing newline under it; on top of that a value that ends with a newline
    never matches, so "IR\\n" is refused even by a pattern that would allow
    white space: the newline is almost always an accident of how the value
    was produced, and the contract says the match has no trailing newline.
    """
    if value.endswith("\n"):
        return False
    return pattern.fullmatch(value) is not None
