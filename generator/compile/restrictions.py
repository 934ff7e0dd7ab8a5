"""Stage 3b, restrictions: check each field's `mu:pattern` and `mu:allowedValue` (SPEC §3).

SHACL checks their shape (one non-empty string pattern, on a string field;
allowed values that are literals of the field's datatype). What SHACL cannot
say is checked here, on the extracted model, and reported like a violation:

- a pattern must compile, be at most `MAX_PATTERN_LENGTH` characters, and
  run in linear time whatever the value: `patterns.pattern_problem` refuses
  nested and competing quantifiers and the constructs that defeat its check;
- every allowed value of a field with a pattern must match it (or the value
  could never be accepted), an allowed authority code must be a known code,
  and an allowed party id must not be empty in its normal form.

A pattern or allowed values on a party id (`*.id`) apply to the id's normal
form (lower case, trimmed), which is what every control compares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mu.generator.compile.model import FieldDef, Ontology
from mu.generator.compile.patterns import MAX_PATTERN_LENGTH, PatternProblem, pattern_problem
from mu.generator.compile.runtime.values import full_match

__all__ = [
    "MAX_PATTERN_LENGTH",
    "PatternProblem",
    "RestrictionProblem",
    "check_restrictions",
    "pattern_problem",
]


@dataclass(frozen=True)
class RestrictionProblem:
    """A declared restriction the compiler refuses: where it is, what and how to fix it.

    `prop` is `mu:pattern` or `mu:allowedValue`.
    """

    type_id: str
    type_iri: str
    path: str
    prop: str
    message: str
    hint: str


def _field_problems(f: FieldDef, codes: frozenset[str]) -> Iterator[tuple[str, str, str]]:
    """(property, message, hint) for every problem with one field's restrictions."""
    compiled: re.Pattern[str] | None = None
    # An empty pattern is mu:Field-pattern's to report (one defect, one shape).
    if f.pattern:
        problem = pattern_problem(f.pattern)
        if problem is not None:
            yield "mu:pattern", problem.message, problem.hint
        else:
            compiled = re.compile(f.pattern)
    for value in f.allowed_values:
        if f.datatype == "authority" and value not in codes:
            known = ", ".join(f"`{c}`" for c in sorted(codes)) or "none"
            yield (
                "mu:allowedValue",
                f"allowed value `{value}` is not an authority code",
                f"use one of the codes of the mu:AuthorityLevel nodes: {known}",
            )
        if f.is_party_id and f.datatype == "string" and not value:
            yield (
                "mu:allowedValue",
                "an allowed value is empty once normalised as a party id "
                "(case-folded, invisible characters removed, trimmed)",
                "remove it: an empty id is always invalid",
            )
        elif compiled is not None and not full_match(compiled, value):
            shown = " (the id's normal form)" if f.is_party_id else ""
            yield (
                "mu:allowedValue",
                f"allowed value `{value}`{shown} does not match the field's pattern "
                f"`{f.pattern}`, so it could never be accepted",
                "fix the value or the pattern"
                + (" (a party id is matched in lower case)" if f.is_party_id else ""),
            )


def check_restrictions(ontology: Ontology) -> tuple[RestrictionProblem, ...]:
    """Every problem with the declared restrictions of every field, sorted by type and path."""
    codes = frozenset(a.code for a in ontology.authority_levels)
    problems: list[RestrictionProblem] = []
    for ttype in ontology.transaction_types:
        for f in ttype.fields:
            for prop, message, hint in _field_problems(f, codes):
                problems.append(
                    RestrictionProblem(ttype.type_id, ttype.iri, f.path, prop, message, hint)
                )
    return tuple(sorted(problems, key=lambda p: (p.type_id, p.path, p.prop, p.message, p.hint)))
