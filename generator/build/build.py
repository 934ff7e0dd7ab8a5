"""`mu build`: every gate, then — all or nothing — A, the snapshot and a signed receipt.

When every gate passes: the snapshot is stored (content-addressed, harmless
if it already exists), `enforcers/` is swapped in atomically, and the receipt
is written last, so a receipt never names files that are not on disk. When a
gate fails, nothing is generated and a signed rejection receipt records why.
A build whose result the newest receipt already records writes no new link.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generator.build.attest import receipt_predicate, receipt_statement, rejection_payload
from generator.build.gates import GateRun, run_gates
from generator.errors import InputError
from generator.files import StagedTree
from generator.layout import Layout
from generator.paths import inside_repository
from generator.provenance.identity import GeneratorId, this_generator
from generator.provenance.receipt import (
    StoredReceipt,
    newest,
    payload_digest,
    store_receipt,
    store_rejection,
)
from generator.provenance.signing import Signer
from generator.provenance.snapshot import collect, write_snapshot
from generator.provenance.statement import ReceiptPredicate


@dataclass(frozen=True)
class BuildResult:
    """What a build did: its gates, and which receipt records it."""

    run: GateRun
    written: bool
    receipt: Path | None
    receipt_digest: str | None
    already_recorded: bool
    rejection: Path | None
    signer: Signer

    @property
    def ok(self) -> bool:
        """True when every gate passed."""
        return self.run.ok


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


def build(
    layout: Layout,
    signer: Signer,
    generator: GeneratorId | None = None,
    *,
    required_approvals: int = 0,
) -> BuildResult:
    """Run every gate; on success write A, the snapshot and the next receipt of the chain.

    All or nothing, in an order that never leaves `enforcers/` newer than the
    chain: A is staged (written and fsynced, not yet visible), the snapshot and
    the receipt are made durable, and only then is A swapped in. A failure
    before the swap leaves `enforcers/` as it was; a crash between the receipt
    and the swap leaves the receipt ahead, and the next build (same content)
    swaps A in without a new link.
    """
    generator = generator or this_generator()
    parent = newest(layout.receipts)
    run = run_gates(layout, required_approvals=required_approvals)
    inside_repository(layout, layout.receipts)
    if not run.ok:
        envelope = signer.sign(rejection_payload(run, generator, parent))
        path = _store(lambda: store_rejection(layout, envelope), "the rejection receipt")
        return BuildResult(run, False, None, None, False, path, signer)

    assert run.compiled is not None
    with StagedTree(layout.enforcers, run.compiled.files) as staged:
        snapshot = write_snapshot(layout, collect(layout))
        sequence = parent.sequence + 1 if parent else 1
        predicate = receipt_predicate(run, generator, snapshot, parent, sequence)
        payload = receipt_statement(run, predicate)
        if parent is not None and _same_content(payload, predicate, parent):
            staged.commit()
            return BuildResult(run, True, parent.path, parent.digest, True, None, signer)
        envelope = signer.sign(payload)
        path = _store(lambda: store_receipt(layout, envelope, sequence), "the receipt")
        try:
            staged.commit()
        except BaseException:
            # The receipt must not name an A that never went live.
            path.unlink(missing_ok=True)
            raise
    return BuildResult(run, True, path, payload_digest(payload), False, None, signer)
