"""A replica's sentence cache: the model's output for (generation params, prompt), the `entries`
most recently used kept. A prompt carries the task prefix ("translate English to French: ..."),
and a cache belongs to one generator, which is one model on one backend and device: a reconfigure
that loads another model starts with an empty cache, so nothing is served across models.

`lookup` also decodes a prompt repeated within one request once. With 0 entries there is no
cache and no merging of repeats: every prompt is decoded, as without this module.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class SentenceCache:
    def __init__(self, entries: int = 0):
        self.capacity = entries
        self._outputs: OrderedDict[tuple[Hashable, str], str] = OrderedDict()

    def resize(self, entries: int) -> None:
        self.capacity = entries
        while len(self._outputs) > entries:
            self._outputs.popitem(last=False)

    def __len__(self) -> int:
        return len(self._outputs)

    def lookup(self, params: Hashable, prompts: list[str]) -> Lookup:
        """What is known of `prompts`' outputs, and the prompts left to decode (each once)."""
        return Lookup(self, params, prompts)

    def _get(self, key: tuple[Hashable, str]) -> str | None:
        output = self._outputs.get(key)
        if output is not None:
            self._outputs.move_to_end(key)
        return output

    def _put(self, key: tuple[Hashable, str], output: str) -> None:
        if self.capacity <= 0:
            return
        self._outputs[key] = output
        self._outputs.move_to_end(key)
        if len(self._outputs) > self.capacity:
            self._outputs.popitem(last=False)


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
