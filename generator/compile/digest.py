"""The semantic digest of O ∪ Σ: W3C RDFC-1.0 canonical N-Quads, hashed.

Reformatting, reordering, prefix renaming and blank-node relabelling leave it
unchanged; adding, removing or altering any triple changes it. pyoxigraph
implements RDFC-1.0 (rdflib's canonicaliser is orders of magnitude slower).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyoxigraph as ox

from mu.generator.compile.load import BASE_IRI, SourceFile
from mu.generator.errors import InputError, Location
from mu.generator.hashing import sha256_hex


def _quads(index: int, source: SourceFile) -> list[ox.Quad]:
    try:
        triples = list(ox.parse(source.data, format=ox.RdfFormat.TURTLE, base_iri=BASE_IRI))
    except SyntaxError as exc:
        raise InputError(
            f"turtle syntax error in `{source.path}:{exc.lineno}`: {exc.msg}",
            hint="fix the Turtle at that line; the canonicalizer reads plain Turtle 1.1 only",
            location=Location.of_parse_error(source.path, exc),
        ) from exc

    # Blank-node labels are scoped to one document; pyoxigraph keeps `_:b0` as
    # written, so labels are made unique per file before the union.
    def relabel(t: ox.BlankNode) -> ox.BlankNode:
        return ox.BlankNode(f"f{index}x{t.value}")

    quads = []
    for t in triples:
        s, o = t.subject, t.object
        quads.append(
            ox.Quad(
                relabel(s) if isinstance(s, ox.BlankNode) else s,
                t.predicate,
                relabel(o) if isinstance(o, ox.BlankNode) else o,
            )
        )
    return quads


def canonical_nquads(sources: Sequence[SourceFile]) -> bytes:
    """RDFC-1.0 canonical N-Quads of the union of `sources`, lines sorted."""
    quads: list[ox.Quad] = []
    for index, source in enumerate(sources):
        quads.extend(_quads(index, source))
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    text = ox.serialize(dataset, format=ox.RdfFormat.N_QUADS) or b""
    lines = sorted(line for line in text.split(b"\n") if line)
    return b"".join(line + b"\n" for line in lines)


def semantic_digest(sources: Sequence[SourceFile]) -> str:
    """Hex sha256 of the canonical N-Quads of O ∪ Σ."""
    return sha256_hex(canonical_nquads(sources))
