"""Renderers of `mu verify-hashes`."""

from __future__ import annotations

import json

from mu.generator.operate.hashes import HashCheck, HashMismatch, HashReport
from mu.generator.reports.hashes import HASHES


def test_hashes_text_names_each_mismatch() -> None:
    bad = HashCheck(
        "receipts/0001-x.json",
        2,
        (
            HashMismatch("a.py", "changed", "1" * 64, "2" * 64),
            HashMismatch("b.py", "extra", None, "3"),
        ),
    )
    good = HashCheck("enforcers/MANIFEST.json", 2, ())
    report = HashReport("enforcers", "receipts/0001-x.json", 1, "newest", good, bad)
    text = HASHES["text"](report)
    assert "ok: every file matches `enforcers/MANIFEST.json`" in text
    assert "mismatch: 2 file(s) differ from `receipts/0001-x.json`" in text
    assert "a.py: sha256 222222222222… on disk, recorded 111111111111…" in text
    assert "b.py: on disk, but not recorded" in text
    assert "none records exactly these files" in text
    data = json.loads(HASHES["json"](report))
    assert data["ok"] is False and data["receipt"]["chosen"] == "newest"
