"""Validation of foreign shapes is offline: no SPARQL reaches outside the ontology.

A local HTTP server on 127.0.0.1 counts requests. Shapes that name it through
`SERVICE`, `FROM`, `FROM NAMED` or SPARQL Update are refused before SHACL runs,
with the shape and the file named, and the server sees no request — from
`ontology/` (`mu validate`) and from a signed receipt's snapshot (`mu replay`).
Behind that static check, an audit hook refuses any network access while
pySHACL runs.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import rdflib.plugins.sparql
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mu.generator.compile import validate as validate_module
from mu.generator.compile.offline import NetworkRefused, is_offline, offline
from mu.generator.compile.shape_guard import query_problems
from mu.generator.hashing import canonical_json
from mu.generator.layout import Layout
from mu.generator.provenance.dsse import PAYLOAD_TYPE, sign
from mu.generator.provenance.receipt import read_receipt, store_receipt
from mu.generator.provenance.snapshot import read_snapshot, write_snapshot
from tests.chain import Built, Mu

HEAD = """\
@prefix ex: <https://acme.example/policy#> .
@prefix mu: <urn:mu:v1#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

ex:evilShapes a owl:Ontology ;
    sh:declare [ sh:prefix "mu" ; sh:namespace "urn:mu:v1#"^^xsd:anyURI ] .
"""


@dataclass
class Server:
    """A local HTTP server that answers every request with an empty result and counts them."""

    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[Server]:
    """An HTTP server on 127.0.0.1 (a free port) counting the requests it receives."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            if "query=" in self.path or self.command == "POST":
                body = b'{"head": {"vars": ["this"]}, "results": {"bindings": []}}'
                kind = "application/sparql-results+json"
            else:
                body, kind = b"", "text/turtle"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", seen)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


# Each shape names the server one way; every one made requests (or crashed mu)
# before SPARQL was checked.
EVIL = {
    "service-in-target": """
ex:EvilShape a sh:NodeShape ;
    sh:target [ a sh:SPARQLTarget ; sh:prefixes ex:evilShapes ; sh:select '''
        SELECT ?this WHERE { SERVICE <URL/sparql> { ?this a mu:Control } }
    ''' ] ;
    sh:message "evil" .
""",
    "service-in-constraint": """
ex:EvilShape a sh:NodeShape ;
    sh:targetClass mu:ApprovalRule ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes ex:evilShapes ; sh:select '''
        SELECT $this WHERE { $this a mu:Control . SERVICE <URL/sparql> { $this ?p ?o } }
    ''' ] ;
    sh:message "evil" .
""",
    "from": """
ex:EvilShape a sh:NodeShape ;
    sh:target [ a sh:SPARQLTarget ; sh:prefixes ex:evilShapes ; sh:select '''
        SELECT ?this FROM <URL/g> WHERE { ?this a mu:Control }
    ''' ] ;
    sh:message "evil" .
""",
    "from-named": """
ex:EvilShape a sh:NodeShape ;
    sh:target [ a sh:SPARQLTarget ; sh:prefixes ex:evilShapes ; sh:select '''
        SELECT ?this FROM NAMED <URL/g> WHERE { GRAPH ?g { ?this ?p ?o } }
    ''' ] ;
    sh:message "evil" .
""",
    "service-in-rule": """
ex:EvilShape a sh:NodeShape ;
    sh:targetClass mu:ApprovalRule ;
    sh:rule [ a sh:SPARQLRule ; sh:prefixes ex:evilShapes ; sh:construct '''
        CONSTRUCT { $this mu:owner ?o } WHERE { SERVICE <URL/sparql> { $this ?p ?o } }
    ''' ] .
""",
    "service-in-component": """
ex:EvilComponent a sh:ConstraintComponent ;
    sh:parameter [ sh:path ex:evil ] ;
    sh:validator [ a sh:SPARQLAskValidator ; sh:ask '''
        ASK { SERVICE <URL/sparql> { $value ?p ?o } }
    ''' ] .
ex:EvilShape a sh:NodeShape ;
    sh:targetClass mu:ApprovalRule ;
    ex:evil true .
""",
    "load": """
ex:EvilShape a sh:NodeShape ;
    sh:target [ a sh:SPARQLTarget ; sh:select "LOAD <URL/g>" ] ;
    sh:message "evil" .
""",
}


def plant(root: Path, body: str, url: str) -> None:
    (root / "ontology" / "shapes" / "evil.ttl").write_text(
        HEAD + body.replace("URL", url), encoding="utf-8"
    )


@pytest.mark.parametrize("kind", sorted(EVIL))
def test_remote_sparql_in_a_shape_is_refused_without_a_request(
    kind: str, repo: Path, mu: Mu, server: Server
) -> None:
    plant(repo, EVIL[kind], server.url)
    run = mu("validate", root=repo)
    assert run.code == 2, run.out + run.err
    assert server.requests == []
    assert "ontology/shapes/evil.ttl" in run.err
    # The shape is named, or the node that points at the blank node holding the query.
    assert "ex:EvilShape" in run.err or "ex:EvilComponent" in run.err, run.err
    assert "Traceback" not in run.err


def test_every_refusal_is_listed_at_once(repo: Path, mu: Mu, server: Server) -> None:
    plant(repo, EVIL["service-in-target"] + EVIL["from"].replace("EvilShape", "Evil2"), server.url)
    run = mu("validate", "--format", "json", root=repo)
    assert run.code == 2
    problems = json.loads(run.out)["problems"]
    assert [p["where"].endswith("shapes/evil.ttl") for p in problems] == [True, True]
    messages = " ".join(p["message"] for p in problems)
    assert "`SERVICE <" in messages and "`FROM <" in messages
    assert "ex:EvilShape" in messages and "ex:Evil2" in messages
    assert server.requests == []


QUERIES = [
    ("SELECT $this WHERE { $this a ?c }", ""),
    # Neither a comment nor a string literal is a SERVICE clause.
    (
        "SELECT $this WHERE { # SERVICE <http://x/>\n"
        " $this ex:p ?o FILTER (?o != 'SERVICE <http://x/>') }",
        "",
    ),
    ("SELECT $this WHERE { service silent <http://x/s> { $this ?p ?o } }", "SERVICE <http://x/s>"),
    (r"SELECT $this WHERE { \u0053ERVICE <http://x/s> { $this ?p ?o } }", "SERVICE <http://x/s>"),
    (
        "SELECT $this WHERE { { SELECT ?this WHERE { SERVICE ?where { ?this ?p ?o } } } }",
        "SERVICE ?where",
    ),
    ("ASK { FILTER NOT EXISTS { SERVICE <http://x/s> { $this ?p ?o } } }", "SERVICE <http://x/s>"),
    ("SELECT $this FROM ex:g WHERE { $this ?p ?o }", "FROM ex:g"),
    (
        "CONSTRUCT { $this ?p ?o } FROM NAMED <file:///etc/passwd> WHERE { $this ?p ?o }",
        "FROM NAMED <file:///etc/passwd>",
    ),
    ("LOAD <http://x/g>", "SPARQL Update (`LOAD <http://x/g>`)"),
    ("DELETE WHERE { ?s ?p ?o }", "SPARQL Update (`DELETE WHERE`)"),
    ("SELECT $this WHERE { $this ?p", "does not parse"),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_query_check_reads_the_parse_tree(query: str, expected: str) -> None:
    problems = query_problems(query)
    if expected:
        assert len(problems) == 1 and expected in problems[0], problems
    else:
        assert problems == ()


def _escaped_iri(text: str) -> str:
    """`text` as a Turtle IRIREF, every character IRIs may not hold written as `\\uXXXX`."""
    return "".join(c if c.isalnum() or c in ":/.#_-" else f"\\u{ord(c):04X}" for c in text)


def test_iris_that_would_inject_syntax_are_refused(repo: Path, mu: Mu, server: Server) -> None:
    # pySHACL pastes a shape's path into the query text (`$PATH`) after checking
    # it: an IRI holding `>`, spaces or braces could rewrite the query, so such
    # IRIs are refused before anything runs.
    path = f"urn:x> ?o . SERVICE <{server.url}/sparql> {{ $this ?p ?o }} $this <urn:y"
    body = f"""
ex:PathComponent a sh:ConstraintComponent ;
    sh:parameter [ sh:path ex:check ] ;
    sh:propertyValidator [ a sh:SPARQLSelectValidator ; sh:select '''
        SELECT $this WHERE {{ $this $PATH ?value }}
    ''' ] .
ex:EvilShape a sh:PropertyShape ;
    sh:targetClass mu:ApprovalRule ;
    sh:path <{_escaped_iri(path)}> ;
    ex:check true .
"""
    plant(repo, body, server.url)
    run = mu("validate", root=repo)
    assert run.code == 2, run.out + run.err
    assert "ex:EvilShape" in run.err and "holds a character no IRI may hold" in run.err
    assert server.requests == []


def test_a_missed_remote_query_is_stopped_by_the_offline_guard(
    repo: Path, mu: Mu, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend the static check missed it: the audit hook still refuses the connection.
    monkeypatch.setattr(validate_module, "shape_refusals", lambda graph: [])
    plant(repo, EVIL["service-in-target"], server.url)
    run = mu("validate", root=repo)
    assert run.code == 2, run.out + run.err
    assert "tried to reach the network" in run.err
    assert server.requests == []


def test_offline_guard_refuses_network_calls(server: Server) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with pytest.raises(NetworkRefused, match="socket"), offline():
        socket.create_connection(("127.0.0.1", port), timeout=5)
    with pytest.raises(NetworkRefused), offline():
        urllib.request.urlopen(f"{server.url}/x", timeout=5)
    # Caught inside the block (as rdflib's graph loader does): still reported on exit.
    with pytest.raises(NetworkRefused), offline(), contextlib.suppress(Exception):
        urllib.request.urlopen(f"{server.url}/x", timeout=5)
    assert server.requests == []
    # Outside the block nothing is restricted and rdflib's setting is restored.
    assert not is_offline()
    assert rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS is True
    with urllib.request.urlopen(f"{server.url}/x", timeout=5) as response:
        assert response.status == 200
    assert len(server.requests) == 1


def test_offline_guard_disables_remote_graph_loading() -> None:
    with offline():
        assert is_offline()
        assert rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS is False


def test_failure_object_from_pyshacl_is_reported(repo: Path, mu: Mu) -> None:
    # pySHACL answers VALUES in a SPARQL constraint with a ValidationFailure object
    # instead of a report graph; mu used to crash reading it as a graph.
    body = """
ex:ValuesShape a sh:NodeShape ;
    sh:targetClass mu:ApprovalRule ;
    sh:sparql [ a sh:SPARQLConstraint ; sh:prefixes ex:evilShapes ; sh:select '''
        SELECT $this WHERE { VALUES ?kind { mu:ApprovalRule } $this a ?kind . FILTER (false) }
    ''' ] ;
    sh:message "never" .
"""
    plant(repo, body, "unused")
    run = mu("validate", root=repo)
    assert run.code == 2, run.out + run.err
    assert "pySHACL could not validate the ontology" in run.err
    assert "VALUES" in run.err
    assert "Traceback" not in run.err


def _private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


@pytest.mark.slow
def test_replay_of_a_snapshot_with_a_service_shape_makes_no_request(
    built: Built, mu: Mu, server: Server
) -> None:
    # A signer of the trusted key (an attacker holding it, or a release built by an
    # older mu) put a SERVICE shape into a receipt's snapshot.
    receipt_path = built.receipt
    receipt = read_receipt(receipt_path)
    layout = Layout(built.root)
    files = read_snapshot(built.root, receipt.predicate.ontology.snapshot)
    files["ontology/shapes/evil.ttl"] = HEAD + EVIL["service-in-target"].replace("URL", server.url)
    statement = receipt.statement
    statement["predicate"]["ontology"]["snapshot"] = write_snapshot(layout, files).to_dict()
    envelope = sign(PAYLOAD_TYPE, canonical_json(statement), _private_key(built.key))
    receipt_path.unlink()
    crafted = store_receipt(layout, envelope, 1)
    assert mu("verify-receipt", str(crafted), root=built.root).code == 0

    run = mu("replay", "--receipt", str(crafted), root=built.root)
    assert run.code != 0, run.out + run.err
    assert "ex:EvilShape" in run.err and "SERVICE" in run.err, run.out + run.err
    assert "ontology/shapes/evil.ttl" in run.err
    assert "Traceback" not in run.err
    assert server.requests == []
