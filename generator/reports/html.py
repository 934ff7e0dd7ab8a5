"""`mu report`: the auditor's report as one self-contained HTML page.

Rendered with Jinja2 and autoescape on, so every label, identity or message taken
from the repository is text, never markup. The page carries its own CSS (print
rules included), no script, and no reference to anything outside itself: opened
from a disk or a mail attachment it fetches nothing. Its only time is the newest
signed claim, so the same repository state renders to the same bytes.
"""

from __future__ import annotations

import functools
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from mu.generator.reports.auditmodel import AuditReport
from mu.generator.reports.vocabulary import anchor

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        # Everything shown comes from signed evidence someone else wrote: escape it all.
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ticks"] = ticks
    return env


def ticks(text: str) -> Markup:
    """mu's messages quote names in `backticks`: show those as code, escaping every part."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: not markup, show the text as it is
        return escape(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if i % 2 else escape(part)
        for i, part in enumerate(parts)
    )


def short(digest: str, width: int = 12) -> str:
    """The first `width` hex of a digest, as the rest of mu shows it."""
    return digest[:width]


def audit_html(report: AuditReport) -> str:
    """The report as one HTML document (deterministic: the same report, the same text)."""
    template = _environment().get_template("audit.html.j2")
    return template.render(r=report, short=short, anchor=anchor)
