"""The map-reduce algorithm on its own (apps/summarization/map_reduce.py), with a word-count
'tokenizer' and chunk 'summaries' whose result is known; the deployed path is
tests/summarization/test_long_documents.py."""

import asyncio

import pytest

from apps.common.engines import GenerationParams
from apps.summarization.map_reduce import DocumentNotShrinkingError, MapReduce

PARAMS = GenerationParams(max_new_tokens=5)


def words(text: str) -> int:
    return len(text.split())


def run(map_reduce: MapReduce, text: str, progress=None) -> str:
    return asyncio.run(map_reduce.reduce_to_window(text, PARAMS, progress))


def test_a_text_that_fits_is_returned_as_it_is_without_any_chunk_call():
    async def never(chunk, params):
        raise AssertionError("no chunk call expected")

    assert run(MapReduce(words, 10, never), "One two three.") == "One two three."


def test_chunks_are_summarized_in_order_level_after_level_until_the_text_fits():
    calls = []

    async def first_word(chunk: str, params: GenerationParams) -> str:
        calls.append(chunk)
        return chunk.split()[0]

    text = " ".join(f"s{i} a b c." for i in range(40))  # 40 sentences of 4 words: 160 words
    events = []
    reduced = run(MapReduce(words, 8, first_word), text, lambda *event: events.append(event))
    assert words(reduced) <= 8
    assert calls[:3] == ["s0 a b c. s1 a b c.", "s2 a b c. s3 a b c.", "s4 a b c. s5 a b c."]
    assert len(calls) == 20 + 3  # level 1: 20 chunks of 2 sentences; level 2: 20 words in 3 chunks
    assert reduced == "s0 s16 s32"
    assert events[0] == (1, 0, 20) and events[20] == (1, 20, 20) and events[-1] == (2, 3, 3)


def test_summaries_that_do_not_shrink_fail_instead_of_looping():
    async def echo(chunk: str, params: GenerationParams) -> str:
        return chunk

    with pytest.raises(DocumentNotShrinkingError, match="level 1: 4 chunks"):
        run(MapReduce(words, 8, echo), " ".join(["one two three four."] * 8))


def test_a_failed_chunk_fails_the_text_and_cancels_the_chunk_calls_still_running():
    cancelled = []

    async def fail_one(chunk: str, params: GenerationParams) -> str:
        if chunk.startswith("s0 "):
            raise RuntimeError("chunk s0 failed")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(chunk)
            raise
        return chunk

    async def main() -> list[str]:
        text = " ".join(f"s{i} a b c." for i in range(8))  # 4 chunks of 2 sentences
        with pytest.raises(RuntimeError, match="chunk s0 failed"):
            await MapReduce(words, 8, fail_one).reduce_to_window(text, PARAMS)
        await asyncio.sleep(0)  # (checked before asyncio.run would cancel what is left anyway)
        return list(cancelled)

    assert len(asyncio.run(main())) == 3
