"""`mu report --out FILE`: the auditor's HTML report from the command line — written
atomically where the path rules allow, byte-identical across runs and processes, still
written (exit 1) when a check fails, exit 2 for bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.chain import Built, Mu, build, change_threshold
from tests.conftest import mu_process


def test_report_is_written_and_byte_identical_across_processes(
    mu: Mu, built_three: Built, tmp_path: Path
) -> None:
    out = tmp_path / "audit.html"
    run = mu("report", "--out", str(out), root=built_three.root)
    assert run.code == 0, run.out + run.err
    assert "3 chain link(s); every check passed" in run.out
    assert "warning: trusting this repository's own trust root" in run.err
    page = out.read_bytes()
    assert b'id="link-3"' in page and b"release-bot" in page
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".audit.html.")]
    for seed in ("1", "2"):
        again = tmp_path / f"audit-{seed}.html"
        proc = mu_process("report", "--out", str(again), cwd=built_three.root, seed=seed)
        assert proc.code == 0, proc.err
        assert again.read_bytes() == page


def test_a_pinned_report_has_no_warning(mu: Mu, built_three: Built, tmp_path: Path) -> None:
    pin = built_three.root / "receipts" / "trust" / "1.json"
    out = tmp_path / "audit.html"
    run = mu("report", "--out", str(out), "--trust-root", str(pin), root=built_three.root)
    assert run.code == 0 and "warning" not in run.err
    assert "pinned by the auditor" in out.read_text()


def test_hostile_labels_and_a_rejection_are_shown_escaped(
    mu: Mu, built_three: Built, tmp_path: Path
) -> None:
    # A fourth link whose new label is markup, then a rejected build.
    change_threshold(
        built_three.root,
        '"vendor payments over 1,000,000.00 USD need the chief financial officer"',
        '"<script>x()</script>"',
    )
    build(mu, built_three)
    approvals = built_three.root / "ontology" / "controls" / "approvals.ttl"
    approvals.write_text(approvals.read_text().replace('"approval_over_10k"', '"Bad-Id"', 1))
    rejected = mu("build", "--sign-key", str(built_three.key), root=built_three.root)
    assert rejected.code == 1
    out = tmp_path / "audit.html"
    run = mu("report", "--out", str(out), root=built_three.root)
    assert run.code == 0, run.out + run.err
    page = out.read_text()
    assert 'id="link-4"' in page and "&lt;script&gt;x()&lt;/script&gt;" in page
    assert "<script" not in page
    assert 'data-kind="Rejection"' in page and "build rejected" in page
    assert "mu:Control-controlId" in page and "ex:ApprovalOver10k" in page


def test_a_failing_chain_is_reported_and_exits_1(
    mu: Mu, built_three: Built, tmp_path: Path
) -> None:
    path = built_three.receipts[2]
    envelope = json.loads(path.read_text())
    envelope["signatures"][0]["sig"] = base64.b64encode(b"\0" * 64).decode()
    path.write_text(json.dumps(envelope))
    out = tmp_path / "audit.html"
    run = mu("report", "--out", str(out), root=built_three.root)
    assert run.code == 1 and "a check FAILED" in run.out
    page = out.read_text()
    assert "Verification FAILED" in page and "✗ NOT VERIFIED" in page


def test_bad_input_exits_2_and_writes_nothing(mu: Mu, built: Built, tmp_path: Path) -> None:
    for bad in ("receipts/audit.html", "ontology", "."):
        run = mu("report", "--out", str(built.root / bad), root=built.root)
        assert run.code == 2, (bad, run.out, run.err)
        assert "Traceback" not in run.err
    assert not (built.root / "receipts" / "audit.html").exists()
    out = tmp_path / "audit.html"
    run = mu(
        "report", "--out", str(out), "--deployed", str(tmp_path / "nowhere"), root=built.root
    )
    assert run.code == 2 and "not a directory" in run.err and not out.exists()
