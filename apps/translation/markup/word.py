"""Word documents (.docx, read and written by python-docx): every paragraph's text translated as a
segment (body, tables, headers and footers), written back into the paragraph's own runs, so every
run keeps its formatting and everything that is not a run's text (styles, tables, images, fields,
section settings) stays as it was.

A paragraph's runs are grouped, consecutive runs of the same look together (style, bold, italic,
underline, strike, super/subscript, caps, font, size, colour, highlight; a hyperlink's runs apart).
The look with the most text is the paragraph's own; each other group is an inline element
(segments.py), carried to its words in the translation. A group's translation goes into its first
run, its other runs emptied; a run that holds more than text (a picture, a field) is kept as it is.
Since the translation is written into the source's runs, the elements must come in the source's
order with text between them only where it had some (`Segment.in_order`); otherwise each group is
translated in its place.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import docx
from docx.table import Table
from docx.text.hyperlink import Hyperlink
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from apps.common.errors import InputTooLargeError, UserInputError
from apps.translation.markup.segments import (
    Inline,
    Item,
    MarkedUpDocument,
    Raw,
    Segment,
    Text,
    has_letters,
    keep,
)

# a group's place in a paragraph's rendered translation: OPEN index SHUT text END (Unicode's
# private use area: no model writes these, and a paragraph that holds them is not translated)
OPEN, SHUT, END = "\ue000", "\ue001", "\ue002"
# what a .docx may unpack to: its XML is read whole (a real document's is a few MB at most)
MAX_UNPACKED_BYTES = 64 * 1_048_576
_GROUP = re.compile(f"{OPEN}(\\d+){SHUT}(.*?){END}", re.S)


def look(run: Run) -> tuple:
    """What a reader sees of a run's formatting (python-docx's properties)."""
    font = run.font
    color = (font.color.type, font.color.rgb if font.color.type is not None else None)
    return (
        # the run's own character style, by id (None: the document's default); `run.style` would
        # look the default up among every style for each run, 90% of a document's reading time
        run._r.style,
        font.bold,
        font.italic,
        font.underline,
        font.strike,
        font.double_strike,
        font.superscript,
        font.subscript,
        font.small_caps,
        font.all_caps,
        font.name,
        font.size,
        color,
        font.highlight_color,
    )


@dataclass
class _Group:
    runs: list[Run]
    look: tuple | None  # None: a run holding more than text, kept as it is

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


def _groups(paragraph: Paragraph) -> list[_Group]:
    groups: list[_Group] = []
    for content in paragraph.iter_inner_content():
        runs, link = (content.runs, content) if isinstance(content, Hyperlink) else ([content], None)
        for run in runs:
            plain = all(isinstance(part, str) for part in run.iter_inner_content())
            key = (id(link), look(run)) if plain else None
            if plain and not run.text:
                continue  # nothing to write, nothing to keep apart
            if key is not None and groups and groups[-1].look == key:
                groups[-1].runs.append(run)
            else:
                groups.append(_Group([run], key))
    return groups


class _Paragraph:
    """A paragraph's groups and the segment of its text."""

    def __init__(self, groups: list[_Group]):
        self.groups = groups
        sizes: Counter = Counter()
        for group in groups:
            if group.look is not None:
                sizes[group.look] += len(group.text)
        own = sizes.most_common(1)[0][0]
        self.own = [group.look == own for group in groups]  # the paragraph's own look: no markers
        items: list[Item] = []
        for number, group in enumerate(groups):
            marker = f"{OPEN}{number}{SHUT}"
            if group.look is None:
                items.append(Raw(marker + END))
            elif self.own[number]:
                items.append(Text(group.text, group.text))
            else:
                items.append(Inline(marker, [Text(group.text, group.text)], END))
        self.segment = Segment(items, keep, in_order=True)

    def write(self, rendered: str) -> None:
        """The segment's translation (`rendered`, its elements in their groups' markers) into the
        runs: each group's text into its first run, its other runs emptied."""
        out = [""] * len(self.groups)
        at, last = 0, None  # the next group, the last one written

        def put(text: str) -> None:  # words outside every element: in the next group of own look
            nonlocal at, last
            for number in range(at, len(self.groups)):
                if not self.own[number]:
                    break
                out[number] += text
                at, last = number + 1, number
                return
            if last is not None:  # spacing where the source had no text: with the words before
                out[last] += text
            elif at < len(out):
                out[at] = text + out[at]

        end = 0
        for match in _GROUP.finditer(rendered):
            if match.start() > end:
                put(rendered[end : match.start()])
            number = int(match.group(1))
            out[number] += match.group(2)
            at, last, end = number + 1, number, match.end()
        if end < len(rendered):
            put(rendered[end:])
        for group, text in zip(self.groups, out, strict=True):
            if group.look is not None:
                group.runs[0].text = text
                for run in group.runs[1:]:
                    run.text = ""


def _paragraphs(container) -> Iterator[Paragraph]:
    """Every paragraph of a document, a cell, a header or a footer, tables' cells included (a
    merged cell once: python-docx lists it in each row and column it spans)."""
    seen: set[int] = set()
    for block in container.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                for cell in row.cells:
                    if id(cell._tc) not in seen:  # python-docx has no public identity of a cell
                        seen.add(id(cell._tc))
                        yield from _paragraphs(cell)
        else:
            yield block


class WordDocument(MarkedUpDocument):
    """A .docx document's paragraphs with a letter, as segments; render() writes the
    translations into their runs and answers the document's bytes."""

    def __init__(self, document, paragraphs: list[_Paragraph]):
        super().__init__([paragraph.segment for paragraph in paragraphs])
        self.document, self.paragraphs = document, paragraphs

    def render(self, fallback: list[str]) -> bytes:
        for paragraph, rendered in zip(self.paragraphs, self.rendered_pieces(fallback), strict=True):
            paragraph.write(rendered)
        out = io.BytesIO()
        self.document.save(out)
        return out.getvalue()


def _translatable(document) -> list[_Paragraph]:
    """The paragraphs with a letter of the body, its tables, headers and footers."""
    containers = [document]
    for section in document.sections:
        for part in (section.header, section.footer, section.first_page_header, section.first_page_footer):
            if not part.is_linked_to_previous:
                containers.append(part)
    paragraphs: list[_Paragraph] = []
    for container in containers:
        for paragraph in _paragraphs(container):
            text = paragraph.text
            if has_letters(text) and not any(mark in text for mark in (OPEN, SHUT, END)):
                groups = _groups(paragraph)
                if any(group.look is not None for group in groups):
                    paragraphs.append(_Paragraph(groups))
    return paragraphs


def parse_docx(content: bytes) -> WordDocument:
    """A .docx file's paragraphs to translate (UserInputError, 422, for one python-docx cannot
    read as a Word document)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as package:
            unpacked = sum(member.file_size for member in package.infolist())
    except zipfile.BadZipFile as exc:
        raise UserInputError(f"the file is not a Word document (.docx): {exc}") from None
    if unpacked > MAX_UNPACKED_BYTES:  # a zip bomb: refused before anything is unpacked
        raise InputTooLargeError(
            f"the .docx unpacks to {unpacked} bytes; this service reads at most "
            f"{MAX_UNPACKED_BYTES}: split the document"
        )
    try:  # python-docx meets a malformed part with whatever error its XML walk raises
        document = docx.Document(io.BytesIO(content))
        paragraphs = _translatable(document)
    except Exception as exc:
        raise UserInputError(
            f"the file is not a Word document (.docx) python-docx can read: {type(exc).__name__}: {exc}"
        ) from None
    return WordDocument(document, paragraphs)
