"""`mu build`: every gate, then — all or nothing — A, the snapshot and a signed receipt.

A trusted build (`--sign-key`) first checks that the key holds the `release`
role of the newest trust-root version (else nothing runs), then runs the
gates, the override path and the root's approvals policy
(`generator.build.policy`). When every gate passes: the snapshot is stored
(content-addressed, harmless if it already exists), `enforcers/` is staged,
the receipt is made durable, and only then is `enforcers/` swapped in, so a
receipt never names files that are not on disk. When a gate fails, nothing
is generated and a signed rejection receipt records why. A build whose result
the newest receipt already records writes no new link.

A development build (no key) runs every gate but approvals and writes
`enforcers/` on success, but signs nothing and writes nothing under
`receipts/`: the development key never signs evidence.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mu.generator.build.attest import receipt_predicate, receipt_statement, rejection_payload
from mu.generator.build.gates import GateRun, run_gates
from mu.generator.build.policy import Policy, apply_override, enforce, overridable, release_signer
from mu.generator.cache import NO_CACHE, Cache
from mu.generator.errors import InputError
from mu.generator.files import StagedTree
from mu.generator.layout import Layout
from mu.generator.paths import inside_repository
from mu.generator.progress import Progress, silent
from mu.generator.provenance.approvals import made_under
from mu.generator.provenance.identity import GeneratorId, this_generator
from mu.generator.provenance.predicates import ReceiptPredicate
from mu.generator.provenance.receipt import (
    StoredReceipt,
    newest,
    payload_digest,
    store_receipt,
    store_rejection,
)
from mu.generator.provenance.signing import Authorised, Signer
from mu.generator.provenance.snapshot import collect, write_snapshot
from mu.generator.provenance.verdict import Check


@dataclass(frozen=True)
class BuildResult:
    """What a build did: its gates, and which receipt (or rejection) records it.

    `release` is None for a development build: nothing was signed.
    """

    run: GateRun
    policy: Policy | None  # None: a development build, no policy gate ran
    written: bool
    receipt: Path | None
    receipt_digest: str | None
    already_recorded: bool
    rejection: Path | None
    release: Authorised | None
    overridable: bool = False  # the rejection can be lifted by `mu approve --override`

    @property
    def gates(self) -> tuple[Check, ...]:
        """Every gate in the order it matters: ontology, the policy's, then golden,
        coverage, reference and determinism."""
        policy = self.policy.gates if self.policy is not None else ()
        first, rest = self.run.gates[:1], self.run.gates[1:]
        return (*first, *policy, *rest)

    @property
    def ok(self) -> bool:
        """True when every gate passed."""
        return all(g.ok for g in self.gates)

    @property
    def development(self) -> bool:
        """True for a development build: nothing signed, nothing recorded."""
        return self.release is None

    @property
    def signer(self) -> Signer | None:
        """The key that signed the receipt or rejection (None: a development build)."""
        return self.release.signer if self.release is not None else None


def _same_content(payload: bytes, predicate: ReceiptPredicate, recorded: StoredReceipt) -> bool:
    """Whether `recorded` already records this build (same A, same content of the predicate)."""
    return bool(
        json.loads(payload)["subject"] == recorded.statement.get("subject")
        and predicate.same_content(recorded.predicate)
    )


def _store(write: Callable[[], Path], what: str) -> Path:
    """Store a signed statement; an unwritable `receipts/` is a clear error, not a traceback."""
    try:
        return write()
    except OSError as exc:
        raise InputError(
            f"cannot write {what}: {exc.strerror or exc} (`{exc.filename}`)",
            hint="`receipts/` must be writable; `enforcers/` was left as it was",
        ) from exc


def development_build(
    layout: Layout, progress: Progress = silent, *, cache: Cache = NO_CACHE
) -> BuildResult:
    """Every gate but approvals; `enforcers/` written when they pass; nothing signed."""
    run = run_gates(layout, progress=progress, cache=cache)
    if run.ok:
        assert run.compiled is not None
        with StagedTree(layout.enforcers, run.compiled.files) as staged:
            staged.commit()
    return BuildResult(run, None, run.ok, None, None, False, None, None)


def build(
    layout: Layout,
    signer: Signer | None,
    generator: GeneratorId | None = None,
    progress: Progress = silent,
    *,
    cache: Cache = NO_CACHE,
) -> BuildResult:
    """Run every gate; on success write A, the snapshot and the next receipt of the chain.

    `signer` None is a development build (`development_build`). Otherwise the
    key must hold `release` in the newest trust-root version (`CheckFailed`, or
    `NoTrustRoot`, before any gate runs), and the root's policy is enforced.
    `progress` hears each stage of the gates (it changes nothing built); `cache`
    (`generator.cache`) may spare work, never change what is built or signed.

    All or nothing, in an order that never leaves `enforcers/` newer than the
    chain: A is staged (written and made durable, not yet visible), the snapshot and
    the receipt are made durable, and only then is A swapped in. A failure
    before the swap leaves `enforcers/` as it was; a crash between the receipt
    and the swap leaves the receipt ahead, and the next build (same content)
    swaps A in without a new link.
    """
    if signer is None:
        return development_build(layout, progress, cache=cache)
    release = release_signer(layout, signer)
    generator = generator or this_generator()
    parent = newest(layout.receipts)
    gated = run_gates(layout, progress=progress, cache=cache)
    run, waiver = apply_override(layout, release, gated, generator, cache)
    policy = enforce(layout, release, run, generator, waiver)
    inside_repository(layout, layout.receipts)
    made = made_under(release.root)
    if not (run.ok and policy.ok):
        lifts = overridable(run)
        payload = rejection_payload(
            run, generator, parent, made=made, policy_gates=policy.gates, overridable=lifts
        )
        envelope = signer.sign(payload)
        path = _store(lambda: store_rejection(layout, envelope), "the rejection receipt")
        return BuildResult(run, policy, False, None, None, False, path, release, lifts)

    assert run.compiled is not None
    with StagedTree(layout.enforcers, run.compiled.files) as staged:
        snapshot = write_snapshot(layout, collect(layout))
        sequence = parent.sequence + 1 if parent else 1
        predicate = receipt_predicate(
            run,
            generator,
            snapshot,
            parent,
            sequence,
            made=made,
            approvals=policy.approvals,
            override=policy.override,
            policy_gates=policy.gates,
        )
        payload = receipt_statement(run, predicate)
        if parent is not None and _same_content(payload, predicate, parent):
            staged.commit()
            return BuildResult(run, policy, True, parent.path, parent.digest, True, None, release)
        envelope = signer.sign(payload)
        path = _store(lambda: store_receipt(layout, envelope, sequence), "the receipt")
        try:
            staged.commit()
        except BaseException:
            # The receipt must not name an A that never went live.
            path.unlink(missing_ok=True)
            raise
    return BuildResult(run, policy, True, path, payload_digest(payload), False, None, release)
