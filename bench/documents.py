"""The long document `make bench-long` summarizes, and what the replicas see of it."""

from __future__ import annotations

import random

from bench.models import WORDS

WORDS_PER_DOCUMENT = 20_000
PREFIX = "summarize: "  # what the app puts before a chunk for a T5 model


def build_document(words: int = WORDS_PER_DOCUMENT, seed: int = 20) -> str:
    """At least `words` words: paragraphs of 4-8 sentences of 10-28 words each, drawn from the ~180
    words the bench tokenizer was trained on (~1.1 tokens a word). Real English, e.g. the demo
    phrases' documents, costs this small tokenizer ~3.7 tokens a word (73k tokens for 20k words)."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    count = 0
    while count < words:
        sentences = []
        for _ in range(rng.randint(4, 8)):
            length = rng.randint(10, 28)
            sentences.append(" ".join(rng.choice(WORDS) for _ in range(length)).capitalize() + ".")
            count += length
            if count >= words:
                break
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def describe_document(document: str, tokenizer) -> dict:
    """Words, characters, tokens as the replicas count them (`tokenizer`: the model's TokenizerJson),
    and the first level's chunks."""
    from apps.summarization.map_reduce import MapReduce

    def count(text: str) -> int:
        return tokenizer.count_tokens(PREFIX + text)

    window = tokenizer.model_max_length
    chunks = MapReduce(count, window, None).chunks(document)  # type: ignore[arg-type]
    return {
        "words": len(document.split()),
        "chars": len(document),
        "tokens": count(document),
        "window": window,
        "level1_chunks": len(chunks),
    }
