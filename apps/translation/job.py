"""One translation request's work: its texts cut into sentences, translated together as one batch,
and put back together (apps/common/documents.py does the cutting and rejoining)."""

from __future__ import annotations

from dataclasses import dataclass

from apps.common.documents import Document
from apps.common.generation import GenerationParams
from apps.common.scheduling import Ticket
from apps.translation.schemas import TranslateResponse


@dataclass(frozen=True)
class TranslationJob:
    """One request's work: its texts as sentences (`documents`), all translated as one batch."""

    many: bool  # the request sent `texts` (answer `translations`), not `text`
    lang: str
    prefix: str
    documents: list[Document]
    params: GenerationParams
    ticket: Ticket  # its class and deadline (apps/common/scheduling.py)

    @property
    def prompts(self) -> list[str]:
        return [self.prefix + sentence for document in self.documents for sentence in document.sentences]

    def sentence_at(self, index: int) -> tuple[int, str, str]:
        """(text index, sentence, whitespace after it) of the index-th sentence of the request."""
        for text_index, document in enumerate(self.documents):
            if index < len(document.sentences):
                return text_index, document.sentences[index], document.separators[index]
            index -= len(document.sentences)
        raise IndexError(index)

    def rejoin(self, outputs: list[str]) -> list[str]:
        """Per text, its sentences' translations put back with the text's spacing and breaks."""
        texts, start = [], 0
        for document in self.documents:
            end = start + len(document.sentences)
            texts.append(document.rejoin(outputs[start:end]))
            start = end
        return texts

    def response(self, translations: list[str], model: str) -> TranslateResponse:
        if self.many:
            return TranslateResponse(translations=translations, target_lang=self.lang, model=model)
        return TranslateResponse(translation=translations[0], target_lang=self.lang, model=model)
