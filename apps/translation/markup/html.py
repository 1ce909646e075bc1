"""HTML documents (`format: "html"`): every byte outside the translated text written back as it
came (tags with their attributes and quoting, entities, comments, doctype, scripts), the text of
each block translated as a segment (segments.py).

The parser is the standard library's HTML tokenizer (`html.parser`, BeautifulSoup's default
builder): it reports where each token starts, so everything not translated is copied from the
source byte for byte. BeautifulSoup, lxml and selectolax build a tree and write it out again in
their own way (attribute quotes, entities as characters, void tags), which is not the page that
was sent. Tests check the structure with BeautifulSoup.

Never translated: the contents of `code`, `pre`, `kbd`, `samp`, `script`, `style`, `textarea`,
`template`, `svg` and `math`, of any element with `translate="no"` or the class `notranslate`,
and of mentions and hashtags (the classes `mention` and `hashtag`, `rel="tag"`: Mastodon's
microformats; a hashtag is a name, its link goes to that name); attribute values (`title`, `alt`)
are kept as they are.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from apps.translation.markup.segments import Inline, MarkedUpDocument, Raw, Segment, Text, keep


def _names(names: str) -> frozenset[str]:
    return frozenset(names.split())


# elements that sit inside a line of text (bold, links, ...); every other element starts a block
INLINE = _names(
    "a abbr b bdi bdo big cite data del dfn em font i ins label mark nobr q s small span strong sub sup"
    " time tt u"
)
UNTRANSLATED = _names("code pre kbd samp script style textarea template svg math")
VOID = _names("area base br col embed hr img input link meta param source track wbr")
# inline elements nested deeper than this inside a segment are kept as markup (the segment's text
# runs then translated apart): the walk over a segment is recursive, and a body may nest thousands
MAX_INLINE_DEPTH = 32
# void elements that sit in a line of text (kept in place; the text around is translated apart)
INLINE_VOID = frozenset({"img", "wbr", "input"})


class _Tokens(HTMLParser):
    """(kind, start offset, tag, attrs) of every token of a document, in order."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=False)
        self.tokens: list[tuple[str, int, str, list]] = []
        # getpos() counts lines by "\n" alone (str.splitlines would also split at \r, \f, ...)
        self._line_starts = [0] + [match.end() for match in re.finditer("\n", source)]
        self.feed(source)
        self.close()

    def _at(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def _add(self, kind: str, tag: str = "", attrs: list | None = None) -> None:
        self.tokens.append((kind, self._at(), tag, attrs or []))

    def handle_starttag(self, tag, attrs):
        self._add("start", tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._add("startend", tag, attrs)

    def handle_endtag(self, tag):
        self._add("end", tag)

    def handle_data(self, data):
        self._add("text")

    def handle_entityref(self, name):
        self._add("text")

    def handle_charref(self, name):
        self._add("text")

    def handle_comment(self, data):
        self._add("markup")

    def handle_decl(self, decl):
        self._add("markup")

    def handle_pi(self, data):
        self._add("markup")

    def unknown_decl(self, data):
        self._add("markup")


def _untranslated(tag: str, attrs: list) -> bool:
    values = dict(attrs)
    classes = set((values.get("class") or "").split())
    marked = (values.get("translate") or "").lower() == "no" or "notranslate" in classes
    # a mention or a hashtag (Mastodon's microformats) is a name: its link says what it is
    name = bool(classes & {"mention", "hashtag"}) or "tag" in (values.get("rel") or "").split()
    return tag in UNTRANSLATED or marked or name


class _Builder:
    """Tokens into kept markup and segments."""

    def __init__(self, escape):
        self.escape = escape
        self.pieces: list[str | Segment] = []
        self.segment: Segment | None = None
        self.open: list[tuple[str, Inline]] = []  # the segment's open inline elements

    def _container(self) -> list:
        if self.segment is None:
            self.segment = Segment([], self.escape)
        return self.open[-1][1].children if self.open else self.segment.items

    def flush(self) -> None:
        if self.segment is not None:
            self.segment.peel()
            self.pieces.append(self.segment)
        self.segment, self.open = None, []

    def markup(self, raw: str) -> None:
        """Markup between blocks: it ends the segment."""
        self.flush()
        self.pieces.append(raw)

    def item(self, item: Raw) -> None:
        self._container().append(item)

    def text(self, text: str, raw: str) -> None:
        if self.segment is None and not text.strip():
            self.pieces.append(raw)  # whitespace between blocks
            return
        container = self._container()
        if container and isinstance(container[-1], Text):
            container[-1].add(text, raw)
        else:
            container.append(Text(text, raw))

    def start_inline(self, tag: str, raw: str) -> None:
        if len(self.open) >= MAX_INLINE_DEPTH:
            self.item(Raw(raw))
            return
        inline = Inline(raw)
        self._container().append(inline)
        self.open.append((tag, inline))

    def end_inline(self, tag: str, raw: str) -> bool:
        """Close the open inline element `tag` (and those opened inside it, their ends implied);
        False if none is open."""
        for depth in range(len(self.open) - 1, -1, -1):
            if self.open[depth][0] == tag:
                self.open[depth][1].closing = raw
                del self.open[depth:]
                return True
        return False


def parse_html(source: str, escaped: bool = True) -> MarkedUpDocument:
    """`source` as kept markup and segments to translate. `escaped` False: its text is written
    as it is, entities and `&` alike (subtitles' inline tags, markup/srt.py)."""
    parser = _Tokens(source)
    tokens = parser.tokens
    ends = [start for _, start, _, _ in tokens[1:]] + [len(source)]
    builder = _Builder(_escaper(source, tokens, ends) if escaped else keep)
    unescape = html.unescape if escaped else keep
    skip_tag, skip_depth, skipped, seen, skip_inline = None, 0, [], [], False
    for (kind, start, tag, attrs), end in zip(tokens, ends, strict=True):
        raw = source[start:end]
        if skip_tag is not None:  # inside an untranslated element: kept whole
            skipped.append(raw)
            if kind == "text":
                seen.append(unescape(raw))
            if kind == "start" and tag == skip_tag:
                skip_depth += 1
            elif kind == "end" and tag == skip_tag:
                skip_depth -= 1
            if skip_depth == 0:
                kept = "".join(skipped)
                builder.item(Raw(kept, "".join(seen))) if skip_inline else builder.markup(kept)
                skip_tag = None
            continue
        if kind == "start" and tag not in VOID and _untranslated(tag, attrs):
            skip_tag, skip_depth, skipped, seen = tag, 1, [raw], []
            skip_inline = (tag in INLINE or tag in ("code", "kbd", "samp")) and builder.segment is not None
            continue
        if kind == "text":
            builder.text(unescape(raw), raw)
        elif kind == "start" and tag in INLINE:
            builder.start_inline(tag, raw)
        elif kind == "end" and tag in INLINE and builder.end_inline(tag, raw):
            pass
        elif kind in ("start", "startend") and tag in INLINE_VOID and builder.segment is not None:
            builder.item(Raw(raw))
        else:
            builder.markup(raw)
    if skip_tag is not None:  # an untranslated element never closed: kept to the end
        builder.markup("".join(skipped))
    builder.flush()
    return MarkedUpDocument(builder.pieces)


def _escaper(source: str, tokens: list, ends: list[int]):
    """Translated text as HTML: `&` and `<` escaped, and each character the source wrote as an
    entity (`&nbsp;`, `&gt;`, `&copy;`) written as that entity again (a character the source
    wrote in two ways comes back in the first)."""
    entities: dict[str, str] = {}
    for (kind, start, _, _), end in zip(tokens, ends, strict=True):
        raw = source[start:end]
        if kind == "text" and raw.startswith("&"):
            char = html.unescape(raw)
            if len(char) == 1 and char not in "&<":
                entities.setdefault(char, raw)

    def escape(text: str) -> str:
        text = text.replace("&", "&amp;").replace("<", "&lt;")
        for char, entity in entities.items():
            text = text.replace(char, entity)
        return text

    return escape
