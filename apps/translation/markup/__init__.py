"""Marked-up texts (`format` of a translation request): the text translated, the markup kept.
segments.py: how a segment of text with inline markup is translated; html.py and markdown.py:
each format's documents as kept markup and segments."""

from __future__ import annotations

from typing import Literal

from apps.translation.markup.html import parse_html
from apps.translation.markup.markdown import parse_markdown
from apps.translation.markup.segments import MarkedUpDocument

TextFormat = Literal["text", "html", "markdown"]
PARSERS = {"html": parse_html, "markdown": parse_markdown}


def parse_markup(text_format: str, text: str) -> MarkedUpDocument:
    """`text`, written in `text_format` ("html" or "markdown"), as kept markup and segments."""
    return PARSERS[text_format](text)
