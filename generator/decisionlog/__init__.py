"""The decision log: every decision the service makes, hash-chained, signed, verifiable.

`<dir>/segments/000001.jsonl`, `000002.jsonl`, ...: one canonical JSON object a
line (`codec.py`), each holding `seq` (from 0, contiguous across segments) and
`prev`, the sha256 of the line before it. Line 0 is the genesis record naming
the log (`log_id`); decision records follow, with checkpoints signed by a key
of the trust root's `runtime` role among them (`checkpoint.py`). `LogWriter`
(`writer.py`) appends, group-committed with fdatasync, before the service
answers; `verify_log` (`verify.py`) finds edited, deleted, reordered and cut
records and says since which record the log can no longer be trusted;
`read_records` (`reader.py`) reads the decisions back.

This package sits beside `generator.outbox` (neither imports the other) and
above `generator.provenance`; the service and the reports sit above both.
"""

from __future__ import annotations

from mu.generator.decisionlog.checkpoint import CheckpointSigner, checkpoint_signer
from mu.generator.decisionlog.codec import Committed, Entry, canonical_json, parse_body
from mu.generator.decisionlog.follow import LogFollower
from mu.generator.decisionlog.reader import read_records
from mu.generator.decisionlog.recovery import Recovery
from mu.generator.decisionlog.verify import LogVerdict, verify_log
from mu.generator.decisionlog.writer import LogClosed, LogWriter

__all__ = [
    "CheckpointSigner",
    "Committed",
    "Entry",
    "LogClosed",
    "LogFollower",
    "LogVerdict",
    "LogWriter",
    "Recovery",
    "canonical_json",
    "checkpoint_signer",
    "parse_body",
    "read_records",
    "verify_log",
]
