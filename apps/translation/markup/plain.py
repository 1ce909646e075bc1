"""Plain-text documents (a .txt file): each line with a letter is a segment; line breaks, blank
lines, the whitespace around each line and a list item's or a quote's marker (`- `, `1. `, `> `)
are kept as they were, so the file's layout comes back
(indentation, paragraphs, its last newline). A line is translated sentence by sentence, as
`format: "text"` translates a text: a sentence the source wraps over two lines is two pieces."""

from __future__ import annotations

import re

from apps.translation.markup.segments import MarkedUpDocument, Segment, Text, has_letters, keep, split_edges

_LINE = re.compile(r"[^\n]*\n|[^\n]+")  # a line with its break ("\r\n" too: "\r" is kept as its edge)
_MARKER = re.compile(r"\s*(?:[-*+•\u2013·>]|\d{1,3}[.)]|[a-zA-Z][.)](?=\s))\s+")  # a list item's, a quote's


def parse_text(source: str) -> MarkedUpDocument:
    """`source` as its lines: each with a letter a segment, the rest kept."""
    pieces: list[str | Segment] = []
    for match in _LINE.finditer(source):
        line = match.group()
        marker = _MARKER.match(line)
        lead, core, trail = split_edges(line[marker.end() :] if marker else line)
        lead = (marker.group() if marker else "") + lead
        if has_letters(core):
            pieces += [lead, Segment([Text(core, core)], keep), trail]
        else:
            pieces.append(match.group())
    return MarkedUpDocument(pieces)
