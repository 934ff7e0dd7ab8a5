"""Compliance approvals (SPEC §7 `mu approve`, `mu build --require-approvals N`).

An approval is a signed in-toto statement that binds one compliance officer's
key to one semantic digest of O ∪ Σ. A build that requires N approvals passes
its `approvals` gate only when N distinct keys trusted for the `compliance`
role approved exactly the ontology being built, and its receipt names them:
the rules are provably the compliance team's, not the engineers'.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.compile.digest import semantic_digest
from generator.compile.pipeline import ValidationFailed, validate_directory
from generator.errors import InputError
from generator.foreign import read_bounded
from generator.layout import Layout
from generator.provenance.dsse import Envelope, verify_signatures
from generator.provenance.receipt import (
    parse_statement,
    payload_digest,
    statement,
    store,
    subjects,
)
from generator.provenance.signing import Signer
from generator.provenance.statement import CANONICALIZATION
from generator.provenance.trust import load_trust

APPROVAL_TYPE = "urn:mu:v1#Approval"
MAX_APPROVAL_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Approval:
    """One valid approval: which trusted compliance key approved which ontology."""

    path: Path
    keyid: str
    name: str
    ontology_digest: str
    statement_digest: str

    def to_dict(self) -> dict[str, str]:
        """As recorded in a build receipt."""
        return {"keyid": self.keyid, "statement": self.statement_digest}


def approve(layout: Layout, signer: Signer) -> Approval:
    """Sign an approval of the current ontology; only a conforming ontology can be approved."""
    checked = validate_directory(layout.ontology)
    if not checked.report.conforms:
        raise ValidationFailed(
            checked.report,
            checked.loaded.sources,
            directory=layout.shown(layout.ontology),
            hint="fix every violation listed, then run `mu validate` again",
        )
    sources = checked.loaded.sources
    digest = semantic_digest(sources)
    predicate: dict[str, Any] = {
        "ontology": {
            "digest": digest,
            "canonicalization": CANONICALIZATION,
            "files": {s.path: s.sha256 for s in sources},
        }
    }
    payload = statement(
        subjects("ontology", {s.path: s.data for s in sources}), APPROVAL_TYPE, predicate
    )
    path = store(
        layout, layout.approvals, f"{digest[:12]}-{signer.keyid[:12]}.json", signer.sign(payload)
    )
    return Approval(path, signer.keyid, "", digest, payload_digest(payload))


def valid_approvals(layout: Layout, ontology_digest: str) -> tuple[Approval, ...]:
    """Approvals of `ontology_digest` by keys trusted for `compliance`, one per key."""
    trust = load_trust(layout.trust_file)
    keys = trust.keys_for("compliance")
    found: dict[str, Approval] = {}
    directory = layout.approvals
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            envelope, stmt = read_approval_file(path)
        except InputError:
            continue  # a malformed file approves nothing; `mu verify` is where it is reported
        predicate = stmt.get("predicate")
        if stmt.get("predicateType") != APPROVAL_TYPE or not isinstance(predicate, dict):
            continue
        ontology = predicate.get("ontology")
        if not isinstance(ontology, dict) or ontology.get("digest") != ontology_digest:
            continue
        for keyid in verify_signatures(envelope, keys):
            entry = trust.find(keyid)
            found.setdefault(
                keyid,
                Approval(
                    path,
                    keyid,
                    entry.name if entry else keyid[:12],
                    ontology_digest,
                    payload_digest(envelope.payload),
                ),
            )
    return tuple(found[k] for k in sorted(found))


def read_approval_file(path: Path) -> tuple[Envelope, dict[str, Any]]:
    """Read one approval file strictly: its envelope and statement, or an `InputError` naming it.

    The file is foreign input in a shared directory: it is opened without
    following a link, only as a regular file (a FIFO would block, `/dev/zero`
    would never end) and read with a size bound.
    """
    hint = "approvals are written by `mu approve`; remove or restore this file"
    data = read_bounded(path, what="approval", limit=MAX_APPROVAL_BYTES, follow_links=False)
    try:
        envelope = Envelope.from_json(data, str(path))
        return envelope, parse_statement(envelope.payload, str(path))
    except RecursionError:
        raise InputError(f"approval `{path}` is nested too deeply", hint=hint) from None
    except ValueError:
        # json.loads raises this past its JSONDecodeError for an integer over
        # Python's digit limit.
        raise InputError(f"approval `{path}` holds a number too long to read", hint=hint) from None
