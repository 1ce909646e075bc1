"""One request's work for one model, whatever the app: its texts as pieces to decode, how to
decode them, its ticket, and the way back from the outputs to one answer per text."""

from __future__ import annotations

from dataclasses import dataclass, replace

from apps.common.documents import Document, fit_window, portions
from apps.common.generation import GenerationParams
from apps.common.model_set import ModelCard
from apps.common.scheduling import Ticket


@dataclass(frozen=True)
class Leg:
    """A further decoding of a job's outputs: the second half of a pivoted translation."""

    model: ModelCard
    prefix: str
    params: GenerationParams


@dataclass(frozen=True)
class Job:
    """`documents[i]` is text i as pieces (a translation's sentences; a summary's one text), each
    decoded as `prefix + piece` by `model` (the card of the model that decodes it) with `params`,
    as one batch; then, if there is a `next`
    leg, the outputs decoded again by it (`continued`)."""

    model: ModelCard
    many: bool  # the request sent `texts` (answer a list), not `text`
    prefix: str  # the task prefix T5 picks its task from ("" for other models)
    documents: list[Document]
    params: GenerationParams
    ticket: Ticket  # its class, deadline and tenant (apps/common/scheduling.py)
    target_lang: str | None = None  # a translation's
    source_lang: str | None = None  # a translation's (the request's, whatever leg this is)
    next: Leg | None = None
    via: str | None = None  # the language a continued job's input is in (a pivot)
    detected: dict | None = None  # a translation's detected source: {"language", "confidence"}
    earlier_models: tuple[str, ...] = ()  # the names of the models earlier legs ran on

    @property
    def model_names(self) -> str:
        """What the answer's `model` says: the model, or each leg's, in order."""
        return " + ".join((*self.earlier_models, self.model.name))

    def continued(self, outputs: list[str]) -> Job:
        """The next leg's job: this job's outputs, piece for piece, as its input (cut to the next
        model's window), with the same spacing."""
        assert self.next is not None
        leg = self.next

        def count(piece: str) -> int:
            return leg.model.count_tokens(leg.prefix + piece)

        documents = [
            fit_window(Document(texts, document.separators), count, leg.model.max_input_tokens)
            for document, texts in zip(self.documents, self._per_text(outputs), strict=True)
        ]
        return replace(
            self,
            model=leg.model,
            prefix=leg.prefix,
            documents=documents,
            params=leg.params,
            next=None,
            via=self.params.target_lang,
            earlier_models=(*self.earlier_models, self.model.name),
        )

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
        return [
            document.rejoin(texts)
            for document, texts in zip(self.documents, self._per_text(outputs), strict=True)
        ]

    def _per_text(self, outputs: list[str]) -> list[list[str]]:
        return portions(outputs, [len(document.sentences) for document in self.documents])
