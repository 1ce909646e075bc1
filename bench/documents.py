"""The long document `make bench-long` summarizes, and what the replicas see of it; the bulk
documents, lists and repeated-sentence documents `make bench-mixed` translates."""

from __future__ import annotations

import itertools
import random

from apps.common.documents import split_sentences
from bench.models import WORDS

WORDS_PER_DOCUMENT = 20_000
PREFIX = "summarize: "  # what the app puts before a chunk for a T5 model


def sentence(rng: random.Random, words: int) -> str:
    """`words` words the bench tokenizer knows, as one sentence: capitalized, ending in a period."""
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


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
            sentences.append(sentence(rng, length))
            count += length
            if count >= words:
                break
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def describe_document(document: str, family) -> dict:
    """Words, characters, tokens as the replicas count them (`family`: the model's, from
    apps.common.engines.families.family_for), and the first level's chunks."""
    from apps.summarization.map_reduce import MapReduce

    def count(text: str) -> int:
        return family.count_tokens(PREFIX + text)

    window = family.max_input_tokens
    chunks = MapReduce(count, window, None).chunks(document)  # type: ignore[arg-type]
    return {
        "words": len(document.split()),
        "chars": len(document),
        "tokens": count(document),
        "window": window,
        "level1_chunks": len(chunks),
    }


# ------------------------------------------------------------------ make bench-mixed's texts


def distinct_sentences(rng: random.Random, count: int, words: tuple[int, int], seen: set[str]) -> list[str]:
    """`count` sentences of `words` (lowest, highest) words each, none of them in `seen` (which
    gets them): no sentence repeats across the texts built from one `seen`; each is one sentence
    as the app splits text."""
    out: list[str] = []
    while len(out) < count:
        text = sentence(rng, rng.randint(*words))
        # one sentence for the app's splitter, also beside itself (a last word such as "no." can
        # read as an abbreviation and join it to the next)
        if text not in seen and split_sentences(f"{text} {text}").sentences == [text, text]:
            seen.add(text)
            out.append(text)
    return out


def in_paragraphs(rng: random.Random, sentences: list[str], per: tuple[int, int] = (4, 8)) -> str:
    """The sentences in order, in paragraphs of `per` sentences, a blank line between them."""
    paragraphs, start = [], 0
    while start < len(sentences):
        count = rng.randint(*per)
        paragraphs.append(" ".join(sentences[start : start + count]))
        start += count
    return "\n\n".join(paragraphs)


def spread_repeats(rng: random.Random, items: list[str], tries: int = 10_000) -> list[str]:
    """`items` shuffled so that no item stands next to an equal one (ValueError if no try finds
    such an order, e.g. one item repeated)."""
    order = list(items)
    for _ in range(tries):
        rng.shuffle(order)
        if all(a != b for a, b in itertools.pairwise(order)):
            return order
    raise ValueError(f"no order of {len(items)} items keeps equal ones apart in {tries} shuffles")


def bulk_document(
    rng: random.Random, seen: set[str], sentences: int, words: tuple[int, int], max_chars: int
) -> str:
    """A long text of exactly `sentences` new sentences in paragraphs, at most `max_chars`
    (ValueError if 100 tries exceed it)."""
    for _ in range(100):
        text = in_paragraphs(rng, distinct_sentences(rng, sentences, words, seen))
        if len(text) <= max_chars:
            return text
    raise ValueError(f"{sentences} sentences of {words} words never fit {max_chars} characters")


def repeated_document(
    rng: random.Random, seen: set[str], distinct: int, repeats: int, words: tuple[int, int], max_chars: int
) -> tuple[str, list[str]]:
    """A text of `distinct` new sentences each `repeats` times, shuffled, no sentence next to
    itself, at most `max_chars` (ValueError if 100 tries exceed it): (the text, its distinct
    sentences)."""
    for _ in range(100):
        unique = distinct_sentences(rng, distinct, words, seen)
        text = in_paragraphs(rng, spread_repeats(rng, unique * repeats))
        if len(text) <= max_chars:
            return text, unique
    raise ValueError(f"{distinct} x {repeats} sentences of {words} words never fit {max_chars} characters")
