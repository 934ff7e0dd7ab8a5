"""The semantic digest of O ∪ Σ: invariant under formatting, sensitive to any triple."""

from __future__ import annotations

from mu.generator.compile.digest import semantic_digest
from mu.generator.compile.load import SourceFile
from mu.generator.hashing import sha256_hex

A = b"""
@prefix ex: <https://acme.example/policy#> .
@prefix mu: <urn:mu:v1#> .
ex:t a mu:TransactionType ; mu:typeId "vendor_payment" ;
  mu:hasField [ mu:path "counterparty.country" ; mu:required true ] ,
              [ mu:path "invoice.id" ; mu:required false ] .
"""

# Same triples: other prefixes, other order, labelled blank nodes, other layout.
B = b"""
@prefix m: <urn:mu:v1#> .
@prefix acme: <https://acme.example/policy#> .
_:second m:required false . _:second m:path "invoice.id" .
acme:t m:hasField _:first, _:second .
_:first m:path "counterparty.country" ; m:required true .
acme:t m:typeId "vendor_payment" .
acme:t a m:TransactionType .
"""


def src(path: str, data: bytes) -> SourceFile:
    return SourceFile(path, data, sha256_hex(data))


def test_reformatting_and_relabelling_keep_the_digest() -> None:
    assert semantic_digest([src("a.ttl", A)]) == semantic_digest([src("b.ttl", B)])


def test_splitting_across_files_keeps_the_digest_and_blank_nodes_stay_distinct() -> None:
    first, second = B.split(b"acme:t m:hasField")
    # `_:second` in two files would be two different nodes: keep both in one file here.
    one = [src("x.ttl", B)]
    two = [
        src("x.ttl", first),
        src(
            "y.ttl",
            b"@prefix m: <urn:mu:v1#> .\n"
            b"@prefix acme: <https://acme.example/policy#> .\n"
            b"acme:t m:hasField" + second,
        ),
    ]
    assert semantic_digest(one) != semantic_digest(two)  # the blank nodes are no longer shared
    same_label_twice = [
        src("p.ttl", b'_:b <urn:x#p> "1" .'),
        src("q.ttl", b'_:b <urn:x#p> "1" .'),
    ]
    merged = [src("p.ttl", b'_:b <urn:x#p> "1" .')]
    assert semantic_digest(same_label_twice) != semantic_digest(merged)


def test_any_changed_triple_changes_the_digest() -> None:
    changed = A.replace(b"required false", b"required true")
    assert semantic_digest([src("a.ttl", A)]) != semantic_digest([src("a.ttl", changed)])
    extra = A + b'ex:t <urn:mu:v1#owner> "x" .\n'
    assert semantic_digest([src("a.ttl", A)]) != semantic_digest([src("a.ttl", extra)])
