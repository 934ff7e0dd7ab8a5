"""`sh:not` of a pattern-only shape, handed to pySHACL as the one pattern it means.

The core shapes refuse control characters with `sh:not mu:ControlCharacter`
next to each identifier's `sh:pattern`. pySHACL evaluates `sh:not S` by
validating every value node against S and discarding the result: S's pattern
does not match a clean value, so every clean value first becomes a full
validation result (message, description, node rendering) that is thrown away.
On 10,000 controls that is almost half of validation.

For a value node v, `sh:not S`, with S a node shape whose only constraint is
`sh:pattern R` (no flags), is violated exactly when v is not a blank node and
R matches `str(v)` somewhere. The pattern `\\A(?![\\s\\S]*(?:R))` fails exactly
when R matches somewhere, and for every blank node. pySHACL matches
`sh:pattern` with Python's `re` (`match`, then `search`, so `\\A` anchors both).
So `P sh:not S` may be replaced by `P sh:pattern "\\A(?![\\s\\S]*(?:R))"` when:

- P has no `sh:flags` (they would apply to the new pattern);
- P has an `sh:datatype`: it reports every blank-node value already, with the
  same focus node, path, shape, message, severity and value, so the extra
  blank-node result of the pattern changes no violation;
- P has an IRI and its own `sh:message`: a violation names P and shows P's
  messages whichever of its constraints failed (a blank-node shape would be
  named by its constraint component, and pySHACL's generic messages differ).

Only the graph handed to pySHACL changes; the shapes as written, their
digest and everything reported about them stay as they are.
"""

from __future__ import annotations

import rdflib
from rdflib.namespace import RDF, RDFS, SH

_PATTERN_SHAPE_PREDICATES = frozenset({RDF.type, SH.pattern, SH.message, RDFS.label, RDFS.comment})


def _pattern_of(shapes: rdflib.Graph, node: rdflib.term.Node) -> rdflib.Literal | None:
    """R, when `node` is a node shape whose only constraint is one unflagged `sh:pattern R`."""
    if not all(p in _PATTERN_SHAPE_PREDICATES for p in shapes.predicates(node, None)):
        return None
    if set(shapes.objects(node, RDF.type)) != {SH.NodeShape}:
        return None
    patterns = list(shapes.objects(node, SH.pattern))
    if len(patterns) != 1 or not isinstance(patterns[0], rdflib.Literal):
        return None
    pattern = patterns[0]
    if pattern.datatype not in (None, rdflib.XSD.string) or pattern.language is not None:
        return None
    return pattern


def _replaceable(shapes: rdflib.Graph, shape: rdflib.term.Node) -> bool:
    return (
        isinstance(shape, rdflib.URIRef)
        and (shape, SH.flags, None) not in shapes
        and (shape, SH.datatype, None) in shapes
        and (shape, SH.message, None) in shapes
        and (shape, SH.deactivated, None) not in shapes
    )


def negated(pattern: str) -> str:
    """A pattern that `re.match` accepts exactly where `re.search(pattern)` finds nothing."""
    return f"\\A(?![\\s\\S]*(?:{pattern}))"


def inline_negated_patterns(shapes: rdflib.Graph) -> int:
    """Replace, in `shapes` (a graph only pySHACL reads), each replaceable
    `P sh:not S` by the pattern it means; the number replaced."""
    replaced = 0
    for shape, inner in sorted(shapes.subject_objects(SH["not"]), key=lambda so: so[0].n3()):
        pattern = _pattern_of(shapes, inner)
        if pattern is None or not _replaceable(shapes, shape):
            continue
        shapes.remove((shape, SH["not"], inner))
        shapes.add((shape, SH.pattern, rdflib.Literal(negated(str(pattern)))))
        replaced += 1
    return replaced
