"""A replica's sentence cache: the model's output for (generation params, prompt), the `entries`
most recently used kept. A prompt carries the task prefix ("translate English to French: ..."),
and a cache belongs to one generator, which is one model on one backend and device: a reconfigure
that loads another model starts with an empty cache, so nothing is served across models.

`lookup` also decodes a prompt repeated within one request once. With 0 entries there is no
cache and no merging of repeats: every prompt is decoded, as without this module.
"""

from __future__ import annotations

from collections.abc import Hashable

from cachetools import LRUCache


class SentenceCache:
    def __init__(self, entries: int):
        self._outputs: LRUCache[tuple[Hashable, str], str] = LRUCache(entries)

    @property
    def capacity(self) -> int:
        return self._outputs.maxsize

    def resize(self, entries: int) -> None:
        """A cache of `entries`, keeping the most recently used outputs (an LRUCache's size is fixed:
        the outputs move to a new one, least recently used first, so the oldest are dropped)."""
        if entries == self.capacity:
            return
        old, self._outputs = self._outputs, LRUCache(entries)
        while old:
            self._put(*old.popitem())

    def __len__(self) -> int:
        return len(self._outputs)

    def lookup(self, params: Hashable, prompts: list[str]) -> Lookup:
        """What is known of `prompts`' outputs, and the prompts left to decode (each once)."""
        return Lookup(self, params, prompts)

    def _get(self, key: tuple[Hashable, str]) -> str | None:
        return self._outputs.get(key)  # a hit becomes the most recently used

    def _put(self, key: tuple[Hashable, str], output: str) -> None:
        if self.capacity > 0:  # an LRUCache of size 0 refuses every item
            self._outputs[key] = output


class Lookup:
    """One request's prompts against the cache. `misses`: the prompts to decode, in first-seen
    order; `fill(start, outputs)` takes the outputs of misses[start:...] and stores them;
    `outputs` has every prompt's output once all are filled (None where still missing)."""

    def __init__(self, cache: SentenceCache, params: Hashable, prompts: list[str]):
        self._cache, self._params = cache, params
        self.outputs: list[str | None] = [None] * len(prompts)
        self.misses: list[str] = []
        self._positions: list[list[int]] = []  # for each miss, where it stands in `prompts`
        on = cache.capacity > 0
        first_at: dict[str, int] = {}
        for position, prompt in enumerate(prompts):
            cached = cache._get((params, prompt)) if on else None
            if cached is not None:
                self.outputs[position] = cached
            elif on and prompt in first_at:
                self._positions[first_at[prompt]].append(position)
            else:
                first_at[prompt] = len(self.misses)
                self.misses.append(prompt)
                self._positions.append([position])
        self.hits = len(prompts) - len(self.misses)  # from the cache, or a repeat in this request
        self._ready = 0

    @classmethod
    def of_nothing(cls, prompts: list[str]) -> Lookup:
        """A lookup that finds nothing and keeps nothing (no cache here): every prompt a miss."""
        return cls(SentenceCache(0), None, prompts)

    def fill(self, start: int, outputs: list[str]) -> None:
        for offset, output in enumerate(outputs):
            number = start + offset
            for position in self._positions[number]:
                self.outputs[position] = output
            self._cache._put((self._params, self.misses[number]), output)

    def take_ready(self) -> list[str]:
        """The outputs, in order, that are known now and were not taken before (a stream's next)."""
        start = self._ready
        while self._ready < len(self.outputs) and self.outputs[self._ready] is not None:
            self._ready += 1
        return self.outputs[start : self._ready]
