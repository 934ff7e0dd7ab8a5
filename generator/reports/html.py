"""`mu report`: the auditor's report as one self-contained HTML page.

Rendered with Jinja2 and autoescape on, so every label, identity or message taken
from the repository is text, never markup. The page carries its own CSS (print
rules included), no script, and no reference to anything outside itself: opened
from a disk or a mail attachment it fetches nothing. Its only time is the newest
signed claim, so the same repository state renders to the same bytes.
"""

from __future__ import annotations

from mu.generator.reports.auditmodel import AuditReport
from mu.generator.reports.templating import environment
from mu.generator.reports.vocabulary import anchor


def short(digest: str, width: int = 12) -> str:
    """The first `width` hex of a digest, as the rest of mu shows it."""
    return digest[:width]


def audit_html(report: AuditReport) -> str:
    """The report as one HTML document (deterministic: the same report, the same text)."""
    template = environment().get_template("audit.html.j2")
    return template.render(r=report, short=short, anchor=anchor)
