"""The benchmark's request texts: English-looking filler over the words the bench tokenizer knows,
each exactly a workload's token length with its task prefix, and as many distinct ones as a run
sends. Text `i` of a workload comes from a generator seeded with (workload, i) alone, so a longer
run's first texts are a shorter run's texts, and every system is sent the same ones.

No text is sent twice in a run: our replicas cache outputs per sentence (apps/common/sentence_cache.py),
the peers cache nothing, so a repeated text would compare a cache lookup with a model call.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

MAX_ROUNDS = 64  # of the fitting loop; each round tokenizes every text still being fitted once
REPLACEMENTS = 40  # last words tried in turn when adding one overshoots the length


class FitError(RuntimeError):
    """A text could not be fitted to its token length (a vocabulary without one-token words)."""


def _draw_words(rng: random.Random, words: Sequence[str], count: int) -> list[str]:
    return [rng.choice(words) for _ in range(count)]


def compose(prefix: str, words: list[str]) -> str:
    """The prompt a replica sees for `words`: the task prefix, then one capitalized sentence."""
    return prefix + text_of(words)


def text_of(words: list[str]) -> str:
    return " ".join(words).capitalize() + "."


def fitted_texts(
    count_batch: Callable[[list[str]], list[int]],
    words: Sequence[str],
    prefix: str,
    tokens: int,
    indices: range,
    salt: str,
) -> list[str]:
    """Texts number `indices` of the stream `salt`: each, with `prefix`, exactly `tokens` tokens as
    `count_batch` counts them (its end-of-sequence token included). Fitted in rounds, every text
    still open tokenized once a round: a word added while it is short, and where one more word
    overshoots, other last words tried until one fits."""
    rngs = [random.Random(f"{salt}:{index}") for index in indices]
    # a first guess from each word's own count, so few rounds remain
    per_word = dict(zip(words, count_batch(list(words)), strict=True))
    base = count_batch([prefix])[0]  # the prefix and the end-of-sequence token
    drafts: list[list[str]] = []
    for rng in rngs:
        draft: list[str] = []
        estimate = base
        while estimate < tokens:
            word = rng.choice(words)
            draft.append(word)
            estimate += per_word[word] - 1  # each word's count includes its own </s>
        drafts.append(draft[:-1] if len(draft) > 1 else draft)
    open_ = list(range(len(drafts)))
    was_short = [False] * len(drafts)  # a text under its length once: the last word overshoots
    tries = [0] * len(drafts)
    for _ in range(MAX_ROUNDS):
        if not open_:
            break
        counts = count_batch([compose(prefix, drafts[i]) for i in open_])
        still = []
        for i, counted in zip(open_, counts, strict=True):
            if counted == tokens:
                continue
            if counted < tokens:
                was_short[i] = True
                drafts[i].extend(_draw_words(rngs[i], words, 1))
            elif not was_short[i] and len(drafts[i]) > 1:
                drafts[i].pop()  # the first guess was long
            elif was_short[i] and tries[i] < REPLACEMENTS:
                tries[i] += 1  # another last word may fit
                drafts[i][-1:] = _draw_words(rngs[i], words, 1)
            else:
                raise FitError(f"text {indices[i]} of {salt!r} does not fit {tokens} tokens")
            still.append(i)
        open_ = still
    if open_:
        raise FitError(f"{len(open_)} texts of {salt!r} not fitted to {tokens} tokens in {MAX_ROUNDS} rounds")
    return [text_of(draft) for draft in drafts]
