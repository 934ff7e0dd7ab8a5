"""The audit report's HTML (`mu report`): escaped, self-contained, deterministic, printable.

The report value is made by hand here, hostile text included, so these tests need no
signed chain; `tests/unit/reports/test_auditreport.py` gathers one from a real chain."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys

import pytest

from mu.generator.reports.auditmodel import (
    Approval,
    AuditReport,
    ControlDelta,
    DecisionFlip,
    DriftSection,
    Event,
    Link,
    LinkChanges,
    PropertyDelta,
    Row,
    Signature,
    TrustVersion,
    Verdict,
)
from mu.generator.reports.html import audit_html
from mu.generator.reports.templating import ticks
from mu.generator.reports.vocabulary import Term, Vocabulary
from tests.conftest import REPO

HOSTILE = '<script>alert("x")</script>'
KEY = "ab" * 32


def _link(sequence: int, changes: LinkChanges | None, replay: Verdict | None = None) -> Link:
    return Link(
        sequence=sequence,
        file=f"receipts/000{sequence}-{'c' * 12}.json",
        digest=f"{sequence}" * 64,
        parent="" if sequence == 1 else f"{sequence - 1}" * 64,
        kind="build",
        signed_at=f"2026-12-0{sequence}T10:00:00Z",
        trust_root=2,
        generator="0.1.0",
        ontology_digest="d" * 64,
        golden="168/168",
        signatures=(Signature(f"release-bot {HOSTILE}", "release", KEY),),
        untrusted=(),
        approvals=(Approval("alice", KEY, "e" * 64, "2026-12-01T09:00:00Z", "approval"),),
        approvals_required=1,
        override="",
        gates=(Row("golden", "PASS", ""), Row("ontology", "PASS", "")),
        added=(),
        removed=(),
        changed=("approval_over_1m",) if sequence > 1 else (),
        changes=changes,
        replay=replay,
        verified=True,
        problems=(),
    )


def sample(*, ok: bool = True) -> AuditReport:
    """A two-link report whose every free-text field somewhere carries markup."""
    changes = LinkChanges(
        controls=(
            ControlDelta(
                "approval_over_1m",
                "control",
                "changed",
                (PropertyDelta("label", "needs the CFO", f"needs the chief {HOSTILE}"),),
            ),
        ),
        flips=(DecisionFlip("case_1", "golden/x.toml", HOSTILE, "ALLOW", "REJECT (x)"),),
        cases_run=10,
        blast_modules=("controls/approval_over_1m.py",),
        blast_total=20,
    )
    replay = Verdict(ok, (Row("payload", "PASS" if ok else "FAIL", "bit-identical"),))
    event = Event(
        kind="Receipt",
        file="receipts/0001-cccccccccccc.json",
        digest="1" * 64,
        sequence=1,
        signed_at="2026-12-01T10:00:00Z",
        signatures=(Signature("release-bot", "release", KEY),),
        untrusted=(),
        summary=f"mu 0.1.0; ontology `{HOSTILE}`",
        verified=True,
        problems=(),
    )
    rejection = dataclasses.replace(
        event,
        kind="Rejection",
        sequence=None,
        summary="build rejected: ontology failed",
        details=(Row("sh:Shape", HOSTILE, "bad id"),),
    )
    term = Term("urn:mu:v1#Control", "mu:Control", "class", HOSTILE, "a control", (), ())
    return AuditReport(
        repository=f"acme/{HOSTILE}",
        latest="2026-12-02T10:00:00Z",
        pinned=True,
        warning="",
        gaps=(),
        links=(_link(1, None, replay), _link(2, changes, replay)),
        timeline=(event, rejection),
        rejections=(rejection,),
        overrides=(),
        trust=(
            TrustVersion(
                version=1,
                digest="f" * 64,
                file="receipts/trust/1.json",
                effective_after=0,
                approvals=1,
                signed_at="",
                signatures=(Signature("root", "root", KEY),),
                holders=(Row("root", "root", KEY),),
                thresholds=(Row("root", "1", "1"),),
                added=("root as root (key abababababababab)",),
                removed=(),
                verified=True,
            ),
        ),
        replayed=True,
        drift=DriftSection("deployed", True, ("chain: 2 receipts, verified",), ()),
        vocabulary=Vocabulary("urn:mu:v1", "mu", "1", "the vocabulary", (term,), ()),
    )


def test_every_hostile_text_is_escaped_and_no_script_remains() -> None:
    page = audit_html(sample())
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    # In every place it was put: signer, repository, values, flips, details, vocabulary.
    assert page.count("&lt;script&gt;") >= 7


def test_the_page_fetches_nothing() -> None:
    page = audit_html(sample())
    # No element or rule that loads a resource: scripts, styles, images, fonts, frames.
    for pattern in (r"<script", r"<link", r"<img", r"<iframe", r"\bsrc=", r"@import", r"url\("):
        assert not re.search(pattern, page, re.IGNORECASE), pattern
    # Every hyperlink is an anchor inside the page.
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))


def test_it_shows_links_signers_approvals_changes_and_verdicts() -> None:
    page = audit_html(sample())
    assert 'id="link-1"' in page and 'id="link-2"' in page
    assert KEY in page and "release-bot" in page and "alice" in page
    assert "needs the CFO" in page and "approval_over_1m" in page
    assert "1/20 control modules (5.0%)" in page
    assert "bit-identical" in page and "chain: 2 receipts, verified" in page
    assert "Every statement verifies, every replay matches, nothing drifted." in page


def test_a_failed_replay_is_the_banner() -> None:
    page = audit_html(sample(ok=False))
    assert "Verification FAILED" in page and "a replay does not match" in page
    assert "Every statement verifies" not in page


def test_it_prints_a_link_per_page_and_reads_without_colour() -> None:
    page = audit_html(sample())
    print_css = page[page.index("@media print") :]
    assert "section.link { break-before: page" in print_css
    assert "thead { display: table-header-group; }" in print_css
    # Verdicts are words as well as colours.
    assert "✓ verified" in page


def test_backticks_become_code_and_stay_escaped() -> None:
    assert str(ticks("a `<b>` c")) == "a <code>&lt;b&gt;</code> c"
    assert str(ticks("odd ` <i>")) == "odd ` &lt;i&gt;"


@pytest.mark.slow  # spawns Python processes
def test_rendering_is_deterministic_across_runs_and_hash_seeds() -> None:
    first = audit_html(sample())
    assert audit_html(sample()) == first
    code = (
        "import sys; from tests.unit.reports.test_html import sample;"
        "from mu.generator.reports.html import audit_html;"
        "sys.stdout.buffer.write(audit_html(sample()).encode())"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, check=True
        )
        assert out.stdout.decode() == first
