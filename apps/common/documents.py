"""Long texts as pieces a model can read, and the way back.

- `split_sentences`: a text -> its sentences (sentencex, Wikimedia's rule-based splitter: it knows
  "Dr.", "D.C.", "$3.50", "e.g." and quoted sentences) and the exact whitespace between them, so
  `Document.rejoin` puts the outputs back with the text's line and paragraph breaks. Every line
  break ends a sentence: headings and list items are not run into the next line.
- `fit_window`: a sentence longer than the model's window is cut at spaces into pieces that fit
  (nothing is truncated); only a single word longer than the window cannot be served (413).
- `pack_windows`: consecutive sentences packed into as few window-sized chunks as they fit in (for
  summarizing a document longer than the window, chunk by chunk).
- `portions`: the outputs of many texts' pieces, decoded as one list, cut back into each text's.

`count(text)` is the number of tokens the model reads for a piece (task prefix and all), `limit`
the model's window.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sentencex import segment

from apps.common.errors import InputTooLargeError

_LINE_BREAKS = re.compile(r"(\s*\n\s*)")
Count = Callable[[str], int]
T = TypeVar("T")


def portions(values: list[T], counts: list[int]) -> list[list[T]]:
    """`values` cut into consecutive portions of `counts[i]` items (they must add up)."""
    if sum(counts) != len(values):
        raise ValueError(f"{len(values)} values for portions of {sum(counts)}")
    out, start = [], 0
    for count in counts:
        out.append(values[start : start + count])
        start += count
    return out


@dataclass(frozen=True)
class Document:
    """A text as sentences; separators[i] is the whitespace that followed sentences[i]."""

    sentences: list[str]
    separators: list[str]

    @classmethod
    def whole(cls, text: str) -> Document:
        """`text` as one piece (a text a model reads whole)."""
        return cls([text], [""])

    def rejoin(self, outputs: list[str]) -> str:
        """One output per sentence, put back in place with the text's whitespace."""
        if len(outputs) != len(self.sentences):
            raise ValueError(f"{len(outputs)} outputs for {len(self.sentences)} sentences")
        return "".join(output + sep for output, sep in zip(outputs, self.separators, strict=True))


def split_sentences(text: str, language: str = "en") -> Document:
    """`text` as its sentences, by the rules of `language` (ISO 639-1; sentencex falls back to
    generic rules for one it lacks)."""
    sentences: list[str] = []
    separators: list[str] = []
    for number, part in enumerate(_LINE_BREAKS.split(text.strip())):
        if number % 2:  # a line break (with the whitespace around it)
            if separators:
                separators[-1] = part
            continue
        for piece in segment(language, part):
            sentence = piece.strip()
            if sentence:
                sentences.append(sentence)
                separators.append(piece[len(piece.rstrip()) :] or " ")
    if separators:
        separators[-1] = ""
    return Document(sentences, separators)


def fit_window(document: Document, count: Count, limit: int) -> Document:
    """`document` with each sentence that does not fit the window cut at spaces into pieces that do
    (the largest that fit, in order). InputTooLargeError names a single word that cannot fit."""

    def fits(text: str) -> bool:
        return count(text) <= limit

    sentences: list[str] = []
    separators: list[str] = []
    for sentence, separator in zip(document.sentences, document.separators, strict=True):
        pieces = [sentence] if fits(sentence) else _cut_at_spaces(sentence, fits, limit)
        sentences.extend(pieces)
        separators.extend([" "] * (len(pieces) - 1) + [separator])
    return Document(sentences, separators)


def _cut_at_spaces(sentence: str, fits: Callable[[str], bool], limit: int) -> list[str]:
    words = sentence.split()
    pieces, start = [], 0
    while start < len(words):
        if not fits(words[start]):
            word = words[start]
            shown = word if len(word) <= 40 else word[:37] + "..."
            raise InputTooLargeError(
                f"the word '{shown}' ({len(word)} characters) is longer than the model reads at "
                "once: break it up or send a shorter text"
            )
        # the longest run words[start:end] that fits; a word is at least a token, so end <= start + limit
        low, high = start + 1, min(len(words), start + limit)
        while low < high:
            middle = (low + high + 1) // 2
            if fits(" ".join(words[start:middle])):
                low = middle
            else:
                high = middle - 1
        pieces.append(" ".join(words[start:low]))
        start = low
    return pieces


def pack_windows(sentences: list[str], count: Count, limit: int) -> list[str]:
    """Consecutive sentences joined (with spaces) into chunks that fit; each sentence must fit
    alone (run `fit_window` first). Greedy: a chunk takes sentences until the next would not fit.
    A sentence's cost is counted once (a chunk's tokens are its sentences' tokens: the tokenizer
    starts each word afresh), then each chunk is counted whole and halved if it does not fit."""
    overhead = count("")  # the task prefix and the end-of-sequence token
    runs: list[list[str]] = []
    current: list[str] = []
    used = overhead
    for sentence in sentences:
        cost = count(sentence) - overhead
        if current and used + cost > limit:
            runs.append(current)
            current, used = [], overhead
        current.append(sentence)
        used += cost
    if current:
        runs.append(current)
    return [chunk for run in runs for chunk in _joined_within(run, count, limit)]


def _joined_within(run: list[str], count: Count, limit: int) -> list[str]:
    joined = " ".join(run)
    if len(run) == 1 or count(joined) <= limit:
        return [joined]
    middle = len(run) // 2
    return _joined_within(run[:middle], count, limit) + _joined_within(run[middle:], count, limit)
