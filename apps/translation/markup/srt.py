"""SubRip subtitles (.srt): every cue's number and timings kept, its text translated as one
segment (the lines of a cue are one sentence or two, broken for the screen) and broken again into
as many lines as it had, at the spaces nearest an even split. Inline tags (`<i>`, `<b>`, `<font>`)
are carried as HTML's are (markup/html.py), the text written as it is (no entities).

Parsed by `srt` (cues, timings, a cue's extra text after its timings); written in SubRip's form
with the source's line ends, so a well-formed file comes back byte for byte but for its text."""

from __future__ import annotations

import re

import srt

from apps.common.errors import UserInputError
from apps.translation.markup.html import parse_html
from apps.translation.markup.segments import MarkedUpDocument, Segment

_TAG = re.compile(r"<[^>]*>")
_NO_BREAK = re.compile(r"[!?:;»)\]}…%]")  # a line does not start with these
_ENDS = (".", "!", "?", "…", "。", "\uff01", "\uff1f")  # fullwidth ! and ? too


class SrtDocument(MarkedUpDocument):
    """Cues as kept markup (number, timings, blank line) around their text's pieces; `cues`:
    (first piece, end piece, line count) of each cue's text."""

    def __init__(self, pieces: list[str | Segment], cues: list[tuple[int, int, int]], eol: str):
        super().__init__(pieces)
        self.cues, self.eol = cues, eol

    def render(self, fallback: list[str]) -> str:
        pieces = self.rendered_pieces(fallback)
        for start, end, lines in self.cues:
            text = "".join(pieces[start:end])
            pieces[start:end] = [wrap(text, lines).replace("\n", self.eol)] + [""] * (end - start - 1)
        return "".join(pieces)


def parse_srt(source: str) -> SrtDocument:
    """`source`'s cues as kept numbers and timings around their texts (UserInputError, 422, for
    a file that is not SubRip)."""
    eol = "\r\n" if "\r\n" in source else "\n"
    try:
        cues = list(srt.parse(source.replace("\r\n", "\n"), ignore_errors=False))
    except (srt.SRTParseError, ValueError) as exc:  # TimestampParseError is a ValueError
        raise UserInputError(f"the file is not SubRip (.srt): {exc}") from None
    pieces: list[str | Segment] = []
    spans: list[tuple[int, int, int]] = []
    for cue in cues:
        timing = f"{srt.timedelta_to_srt_timestamp(cue.start)} --> {srt.timedelta_to_srt_timestamp(cue.end)}"
        extra = f" {cue.proprietary}" if cue.proprietary else ""
        pieces.append(f"{cue.index}{eol}{timing}{extra}{eol}")
        lines = cue.content.split("\n")
        text = parse_html(" ".join(line.strip() for line in lines), escaped=False)
        spans.append((len(pieces), len(pieces) + len(text.pieces), len(lines)))
        pieces += text.pieces
        pieces.append(eol + eol)
    if cues:  # the end as the source's (one line end, two, none)
        pieces[-1] = source[len(source.rstrip()) :]
    return SrtDocument(pieces, spans, eol)


def wrap(text: str, lines: int) -> str:
    """`text` broken into at most `lines` lines at spaces outside tags, never before a
    punctuation mark (French writes "monde !"): each break at the space nearest its even share
    of the length, a sentence's end preferred within half a share."""
    if lines <= 1:
        return text
    tags = [(m.start(), m.end()) for m in _TAG.finditer(text)]
    spaces = [
        at
        for at, ch in enumerate(text)
        if ch == " "
        and not any(start < at < end for start, end in tags)
        and not _NO_BREAK.match(text, at + 1)
    ]
    share = len(_TAG.sub("", text)) / lines

    def cost(at: int, goal: float) -> float:
        before = _TAG.sub("", text[:at])
        return abs(len(before) - goal) - (share / 2 if before.endswith(_ENDS) else 0)

    breaks: list[int] = []
    for k in range(1, lines):
        after = [at for at in spaces if not breaks or at > breaks[-1]]
        if not after:
            break
        breaks.append(min(after, key=lambda at: cost(at, share * k)))
    out = list(text)
    for at in breaks:
        out[at] = "\n"
    return "".join(out)
