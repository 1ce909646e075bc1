"""Markdown documents (`format: "markdown"`, CommonMark with tables and strikethrough): the text of
each paragraph, heading, list item and table cell translated as a segment (segments.py); every
other byte written back as it came (block markers, code blocks, HTML blocks, link reference
definitions, front matter lines that are not text).

Parsed by markdown-it-py, the CommonMark parser that tells where each block's text is (its
source lines). A block's inline markup is written again from its tokens: emphasis and strong
with the markers the source used, links with their targets and titles as parsed, code spans and
inline HTML kept as they were (their text untranslated), images kept whole. A text that spans
lines comes back on one line, which Markdown reads the same.
"""

from __future__ import annotations

import functools
import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from apps.translation.markup.segments import Inline, Item, MarkedUpDocument, Raw, Segment, Text

_SPECIAL = re.compile(r"([\\`*_\[\]<|])")


@functools.cache
def markdown_parser() -> MarkdownIt:
    """The Markdown this format reads: CommonMark with tables and strikethrough (made once; its
    parse keeps no state between documents)."""
    return MarkdownIt("commonmark").enable("table").enable("strikethrough")


def escape_markdown(text: str) -> str:
    """Translated text as Markdown text: the characters that would start markup escaped."""
    return _SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def _destination(href: str) -> str:
    return f"<{href}>" if re.search(r"[\s()<>]", href) else href


def _link_closing(token: Token) -> str:
    title = token.attrs.get("title")
    title_part = ' "' + str(title).replace('"', '\\"') + '"' if title else ""
    return f"]({_destination(str(token.attrs.get('href', '')))}{title_part})"


def _code_span(token: Token) -> str:
    content, fence = token.content, token.markup
    pad = " " if content.startswith(("`", " ")) or content.endswith(("`", " ")) else ""
    return f"{fence}{pad}{content}{pad}{fence}"


def _image(token: Token) -> str:
    alt = "".join(child.content for child in token.children or [])
    title = token.attrs.get("title")
    title_part = ' "' + str(title).replace('"', '\\"') + '"' if title else ""
    return f"![{alt}]({_destination(str(token.attrs.get('src', '')))}{title_part})"


def _items(children: list[Token]) -> list[Item]:
    """A block's inline tokens as segment items."""
    root: list[Item] = []
    stack: list[tuple[Inline, str]] = []  # open inline elements, each with its closing markup
    skip_autolink = False

    def container() -> list[Item]:
        return stack[-1][0].children if stack else root

    def add_text(text: str, raw: str) -> None:
        items = container()
        if items and isinstance(items[-1], Text):
            items[-1].add(text, raw)
        else:
            items.append(Text(text, raw))

    for token in children:
        kind = token.type
        if skip_autolink:  # an autolink's text is its target: kept with it
            skip_autolink = kind != "link_close"
            continue
        if kind == "text":
            add_text(token.content, escape_markdown(token.content))
        elif kind == "softbreak":
            add_text(" ", "\n")
        elif kind == "hardbreak":
            container().append(Raw("\\\n"))
        elif kind == "code_inline":
            container().append(Raw(_code_span(token), token.content))
        elif kind == "html_inline":
            container().append(Raw(token.content))
        elif kind == "image":
            container().append(Raw(_image(token)))
        elif kind == "link_open" and token.markup == "autolink":
            href = str(token.attrs.get("href", ""))
            container().append(Raw(f"<{href}>", href.removeprefix("mailto:")))
            skip_autolink = True
        elif kind.endswith("_open"):
            link = kind == "link_open"
            inline = Inline("[" if link else token.markup)
            container().append(inline)
            stack.append((inline, _link_closing(token) if link else token.markup))
        elif kind.endswith("_close") and stack:
            inline, closing = stack.pop()
            inline.closing = closing
        else:  # anything else markdown-it may add: its markup kept
            container().append(Raw(token.markup or token.content))
    return root


def _spans(block: Token, lines: list[str], offsets: list[int], used: dict[int, int]):
    """(start, end) of `block`'s text in the source (its `lines`, starting at `offsets`), or None
    where it cannot be told."""
    if block.map is None:
        return None
    content_lines = block.content.split("\n")
    first_line = block.map[0]
    start = end = None
    for number, content in enumerate(content_lines):
        line_index = first_line + number
        if line_index >= len(lines):
            return None
        column = lines[line_index].find(content, used.get(line_index, 0))
        if column < 0:
            return None
        if start is None:
            start = offsets[line_index] + column
        end = offsets[line_index] + column + len(content)
        used[line_index] = column + len(content)
    return start, end


def parse_markdown(source: str) -> MarkedUpDocument:
    """`source` as kept Markdown and segments to translate."""
    tokens = markdown_parser().parse(source)
    lines = source.split("\n")
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line) + 1)
    pieces: list[str | Segment] = []
    at, used = 0, {}
    for block in tokens:
        if block.type != "inline" or not block.content.strip():
            continue
        span = _spans(block, lines, offsets, used)
        if span is None or span[0] < at:
            continue  # kept as it is
        pieces.append(source[at : span[0]])
        pieces.append(Segment(_items(block.children or []), escape_markdown))
        at = span[1]
    pieces.append(source[at:])
    return MarkedUpDocument([piece for piece in pieces if piece != ""])
