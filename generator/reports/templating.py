"""The Jinja2 environment of mu's HTML pages (`mu report`, `mu vocabulary`).

Autoescape is on for every template and every string: each label, identity or
message shown comes from files someone else wrote, so it is text, never markup.
"""

from __future__ import annotations

import functools
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def ticks(text: str) -> Markup:
    """mu's messages quote names in `backticks`: show those as code, escaping every part."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: not markup, show the text as it is
        return escape(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if i % 2 else escape(part)
        for i, part in enumerate(parts)
    )


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared environment: templates from `templates/`, strict, escaping everything."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ticks"] = ticks
    return env
