"""The semantic digest of O ∪ Σ: W3C RDFC-1.0 canonical N-Quads, hashed.

Reformatting, reordering, prefix renaming and blank-node relabelling leave it
unchanged; adding, removing or altering any triple changes it. pyoxigraph
implements RDFC-1.0 (rdflib's canonicaliser is orders of magnitude slower).

The digest is a contract (receipts bind it): the sha256 of the canonical
N-Quads of the union of every source, lines sorted. RDFC-1.0 issues blank-node
identifiers from the quads that mention blank nodes only, and leaves every
other quad as it is; so only those quads are canonicalised, and the rest are
written by the same N-Quads serialiser and merged in (a dataset is a set:
duplicates across files count once). The tests keep the whole-dataset
computation as the oracle this must equal byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyoxigraph as ox

from mu.generator.compile.load import SourceFile, parse_oxigraph
from mu.generator.hashing import sha256_hex


def source_nquads(source: SourceFile) -> bytes:
    """`source`'s triples as N-Quads, blank nodes renamed apart from every other file's
    (blank-node labels are scoped to one document): the load stage's, or parsed now."""
    if source.nquads is not None:
        return source.nquads
    return parse_oxigraph(source).nquads


def _canonical_lines(lines: Iterable[bytes]) -> set[bytes]:
    """RDFC-1.0 canonical N-Quads lines of the dataset of `lines`."""
    dataset = ox.Dataset(ox.parse(b"\n".join(lines), format=ox.RdfFormat.N_QUADS))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    text = ox.serialize(dataset, format=ox.RdfFormat.N_QUADS) or b""
    return {line for line in text.split(b"\n") if line}


def canonical_nquads(sources: Sequence[SourceFile]) -> bytes:
    """RDFC-1.0 canonical N-Quads of the union of `sources`, lines sorted."""
    lines = {line for s in sources for line in source_nquads(s).split(b"\n") if line}
    # A line without `_:` mentions no blank node; one with it mentions one, or has
    # `_:` in a literal, which canonicalising leaves as it is: either way exact.
    blank = {line for line in lines if b"_:" in line}
    out = (lines - blank) | (_canonical_lines(sorted(blank)) if blank else set())
    return b"".join(line + b"\n" for line in sorted(out))


def semantic_digest(sources: Sequence[SourceFile]) -> str:
    """Hex sha256 of the canonical N-Quads of O ∪ Σ."""
    return sha256_hex(canonical_nquads(sources))
