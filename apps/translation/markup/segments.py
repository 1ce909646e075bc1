"""A marked-up document as the translator sees it: its markup kept as it was, around segments, the
runs of text a reader reads as one (a paragraph's, a heading's, a table cell's), with their inline
markup (bold, links, ...) inside.

A segment is translated whole, so its sentences read as sentences, and each inline element's text
is translated alone and looked for in the whole's translation; where every one is found, in
places that do not overlap, the elements are put around those words (as Argos Translate does,
"tag injection"). Where one is not found, or the segment holds markup that cannot move with the
words (an untranslatable element, nested inline elements, a line break), each of its text runs is
translated apart, in place: the markup stays exactly where it was. Text without a letter (spaces,
punctuation, numbers) is never sent to the model.

Formats (html.py, markdown.py) turn their documents into `MarkedUpDocument`s; the translation
service translates `texts()`, then `fallback_texts()`, and asks `render()` for the document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from apps.common.documents import portions


def has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def split_edges(text: str) -> tuple[str, str, str]:
    """(leading whitespace, the text between, trailing whitespace)."""
    core = text.strip()
    if not core:
        return text, "", ""
    start = text.index(core)
    return text[:start], core, text[start + len(core) :]


@dataclass
class Text:
    """Text as a reader reads it (`text`, entities and escapes resolved), and as the source wrote
    it (`raw`: kept when the text is not translated)."""

    text: str
    raw: str

    def add(self, text: str, raw: str) -> None:
        self.text += text
        self.raw += raw


@dataclass
class Raw:
    """Markup kept byte for byte: an untranslatable element (code, translate="no"), a void one
    (an image), a comment inside a paragraph. `text`: what a reader sees of it (a code span's
    code), which a model copies into its translation as it is; None where a reader sees nothing."""

    raw: str
    text: str | None = None

    @property
    def movable(self) -> bool:
        """It can move with the words around it: its text is looked for in the translation."""
        return bool(self.text and self.text.strip())


@dataclass
class Inline:
    """An inline element (`opening` and `closing` markup as written; `closing` "" where the
    source leaves it implied) around its children."""

    opening: str
    children: list[Text | Raw | Inline] = field(default_factory=list)
    closing: str = ""

    @property
    def text(self) -> str:
        return "".join(child.text for child in self.children if not isinstance(child, Raw))

    @property
    def simple(self) -> bool:
        """Only text inside: it can move with its words."""
        return all(isinstance(child, Text) for child in self.children)


Item = Text | Raw | Inline


def _text_runs(items: list[Item]) -> list[Text]:
    runs: list[Text] = []
    for item in items:
        if isinstance(item, Text):
            runs.append(item)
        elif isinstance(item, Inline):
            runs.extend(_text_runs(item.children))
    return runs


@dataclass
class Segment:
    """A run of text with its inline markup; `escape` writes a translation as the format's text."""

    items: list[Item]
    escape: Callable[[str], str]
    before: str = ""  # markup kept around the items: an element wrapping the whole segment
    after: str = ""
    # the inline elements must come in the source's order, with text between them only where the
    # source has some (a format that writes the translation back into the source's own pieces)
    in_order: bool = False
    _placed: list[tuple[int, int, Inline | Raw]] | None = None
    _whole: str = ""
    _apart: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.peel()

    def peel(self) -> None:
        """An inline element around all of the segment's text (`<em>` around a sentence with
        a link) stays around it: the segment is what is inside. (Called again by a builder that
        adds the items after it made the segment.)"""
        while True:
            core = [item for item in self.items if not (isinstance(item, Text) and not item.text.strip())]
            if len(core) != 1 or not isinstance(core[0], Inline):
                return
            wrapper, at = core[0], self.items.index(core[0])
            self.before += "".join(item.raw for item in self.items[:at]) + wrapper.opening
            self.after = wrapper.closing + "".join(item.raw for item in self.items[at + 1 :]) + self.after
            self.items = wrapper.children

    def _injectable(self) -> bool:
        """Inline elements with only text inside, untranslated ones a reader sees text of, and
        text between: the elements can move with their words."""
        return (
            bool(self._movers())
            and all(
                isinstance(item, Text)
                or (isinstance(item, Inline) and item.simple)
                or (isinstance(item, Raw) and item.movable)
                for item in self.items
            )
            and has_letters(self._whole_text())
        )

    def _movers(self) -> list[Inline | Raw]:
        return [item for item in self.items if not isinstance(item, Text)]

    def _whole_text(self) -> str:
        return "".join(item.text or "" for item in self.items)

    def texts(self) -> list[str]:
        """What to translate first: the whole and each inline element's text, or each text run."""
        if self._injectable():
            inner = [
                item.text.strip()
                for item in self._movers()
                if isinstance(item, Inline) and has_letters(item.text)
            ]
            return [self._whole_text().strip(), *inner]
        return self._runs_apart()

    def _runs_apart(self) -> list[str]:
        """Each text run with a letter, to translate in its place."""
        return [run.text.strip() for run in _text_runs(self.items) if has_letters(run.text)]

    def place(self, translations: list[str]) -> list[str]:
        """Given the translations of `texts()`: the texts still to translate (each text run's,
        when an inline element's words are not found in the whole's translation), else []."""
        if not self._injectable():
            self._apart = translations
            return []
        whole, *inner = translations
        taken: list[tuple[int, int, Inline | Raw]] = []
        inner_iter = iter(inner)
        for item in self._movers():
            if isinstance(item, Inline) and has_letters(item.text):
                words = next(inner_iter)
            else:  # untranslated: found as it is
                words = (item.text or "").strip()
            start = _find_free(whole, words, taken)
            if start is None:
                self._placed = None
                return self._runs_apart()
            taken.append((start, start + len(words), item))
        placed = sorted(taken, key=lambda place: place[0])
        if self.in_order and not self._follows_source(placed, whole):
            self._placed = None
            return self._runs_apart()
        self._placed, self._whole = placed, whole
        return []

    def _follows_source(self, placed: list[tuple[int, int, Inline | Raw]], whole: str) -> bool:
        """The placed elements in the source's order, with words between two of them (or before
        the first, after the last) only where the source has text there."""
        movers = self._movers()
        if [item for _, _, item in placed] != movers:
            return False
        has_text, gap = [False] * (len(movers) + 1), 0
        for item in self.items:
            if isinstance(item, Text):
                has_text[gap] = has_text[gap] or bool(item.text.strip())
            else:
                gap += 1
        bounds = [0] + [at for start, end, _ in placed for at in (start, end)] + [len(whole)]
        gaps = [whole[bounds[2 * k] : bounds[2 * k + 1]] for k in range(len(movers) + 1)]
        return all(has_text[k] or not gaps[k].strip() for k in range(len(gaps)))

    def render(self, fallback: list[str]) -> str:
        """The segment written back: its inline elements around their words in the whole's
        translation, or (`fallback`, the translations of place()'s texts) each run in place."""
        if self._placed is not None:
            return self.before + self._render_placed() + self.after
        apart = fallback if self._injectable() else self._apart
        translations = iter(apart)
        return (
            self.before + "".join(self._render_apart(item, translations) for item in self.items) + self.after
        )

    def _render_placed(self) -> str:
        """The whole's translation with each element around its words; spacing an element holds
        at its edges (`<b> word</b>`) is not written again beside it."""
        lead, _, trail = split_edges("".join(item.text for item in self.items))
        out, at, trim = [self.escape(lead)], 0, False
        for start, end, item in self._placed:
            gap = self._whole[at:start]
            if isinstance(item, Raw):
                out.append(self.escape(gap.lstrip() if trim else gap) + item.raw)
                at, trim = end, False
                continue
            inner_lead, _, inner_trail = split_edges(item.text)
            gap = gap.lstrip() if trim else gap
            out.append(self.escape(gap.rstrip() if inner_lead else gap))
            words = self.escape(inner_lead) + self.escape(self._whole[start:end]) + self.escape(inner_trail)
            out.append(item.opening + words + item.closing)
            at, trim = end, bool(inner_trail)
        rest = self._whole[at:]
        out.append(self.escape(rest.lstrip() if trim else rest) + self.escape(trail))
        return "".join(out)

    def _render_apart(self, item: Item, translations) -> str:
        if isinstance(item, Raw):
            return item.raw
        if isinstance(item, Inline):
            inner = "".join(self._render_apart(child, translations) for child in item.children)
            return item.opening + inner + item.closing
        if not has_letters(item.text):
            return item.raw
        lead, _, trail = split_edges(item.text)
        return self.escape(lead) + self.escape(next(translations)) + self.escape(trail)


def _find_free(whole: str, words: str, taken: list[tuple[int, int, Inline | Raw]]) -> int | None:
    """The first place of `words` in `whole` that overlaps none `taken` (None: nowhere)."""
    if not words:
        return None
    start = whole.find(words)
    while start != -1:
        end = start + len(words)
        if all(end <= a or start >= b for a, b, _ in taken):
            return start
        start = whole.find(words, start + 1)
    return None


class MarkedUpDocument:
    """A document as markup kept as written (str) and segments to translate, in order."""

    def __init__(self, pieces: list[str | Segment]):
        self.pieces = pieces
        self.segments = [piece for piece in pieces if isinstance(piece, Segment)]
        self._texts = [segment.texts() for segment in self.segments]  # the segments are whole now
        self._fallback_counts: list[int] = []

    def texts(self) -> list[str]:
        """The texts to translate first, every segment's in order."""
        return [text for mine in self._texts for text in mine]

    def fallback_texts(self, translations: list[str]) -> list[str]:
        """Given the translations of texts(): those still needed (segments whose inline elements'
        words were not found), in order; [] when none are."""
        per_segment = portions(translations, [len(mine) for mine in self._texts])
        needed = [segment.place(mine) for segment, mine in zip(self.segments, per_segment, strict=True)]
        self._fallback_counts = [len(more) for more in needed]
        return [text for more in needed for text in more]

    def render(self, fallback: list[str]) -> str | bytes:
        """The document with every segment translated (`fallback`: the translations of
        fallback_texts()), every other byte as it was."""
        return "".join(self.rendered_pieces(fallback))

    def rendered_pieces(self, fallback: list[str]) -> list[str]:
        """The pieces, each segment's as its translation (render's `fallback`)."""
        rendered = iter(
            segment.render(mine)
            for segment, mine in zip(self.segments, portions(fallback, self._fallback_counts), strict=True)
        )
        return [piece if isinstance(piece, str) else next(rendered) for piece in self.pieces]


def keep(text: str) -> str:
    """The escape of a format whose text is written as it is."""
    return text
