"""One request's work for one model, whatever the app: its texts as pieces to decode, how to
decode them, its ticket, and the way back from the outputs to one answer per text."""

from __future__ import annotations

from dataclasses import dataclass

from apps.common.documents import Document
from apps.common.generation import GenerationParams, Seq2SeqGenerator
from apps.common.scheduling import Ticket


@dataclass(frozen=True)
class Job:
    """`documents[i]` is text i as pieces (a translation's sentences; a summary's one text), each
    decoded as `prefix + piece` by `model` with `params`, as one batch."""

    model: Seq2SeqGenerator
    many: bool  # the request sent `texts` (answer a list), not `text`
    prefix: str  # the task prefix T5 picks its task from ("" for other models)
    documents: list[Document]
    params: GenerationParams
    ticket: Ticket  # its class, deadline and tenant (apps/common/scheduling.py)
    target_lang: str | None = None  # a translation's

    @property
    def prompts(self) -> list[str]:
        return [self.prefix + piece for document in self.documents for piece in document.sentences]

    def piece_at(self, index: int) -> tuple[int, str, str]:
        """(text index, piece, whitespace after it) of the index-th piece of the request."""
        for text_index, document in enumerate(self.documents):
            if index < len(document.sentences):
                return text_index, document.sentences[index], document.separators[index]
            index -= len(document.sentences)
        raise IndexError(index)

    def rejoin(self, outputs: list[str]) -> list[str]:
        """Per text, its pieces' outputs put back with the text's spacing and breaks."""
        texts, start = [], 0
        for document in self.documents:
            end = start + len(document.sentences)
            texts.append(document.rejoin(outputs[start:end]))
            start = end
        return texts
