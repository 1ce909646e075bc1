"""Summaries of documents longer than the model's window (t5-small reads 512 tokens): map-reduce.

Map: cut the document on sentence boundaries into window-sized chunks (apps/common/documents.py)
and summarize every chunk; the deployment sends each chunk through its own DeploymentHandle, so
the chunks spread over all of its replicas and batch there with other work. Reduce: join the
partial summaries; if they still do not fit the window, map them again (one more level), until they
do. The caller then summarizes what is left once more, with the request's own lengths.

Each level must shrink the text (a chunk of up to 512 tokens becomes a summary of at most
`max_length_limit` tokens, 200 by default), or the request fails rather than loops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apps.common.documents import Count, fit_window, pack_windows, split_sentences
from apps.common.engines import GenerationParams

logger = logging.getLogger("ray.serve")

MAX_LEVELS = 8  # 512-token chunks shrinking 2.5x or more per level: far beyond any accepted size
HEAD_CHARS_PER_TOKEN = 16  # T5's longest pieces are ~16 characters: a longer head cannot fit
SummarizeChunk = Callable[[str, GenerationParams], Awaitable[str]]
Progress = Callable[[int, int, int], None]  # (level, chunks done, chunks in the level)


class DocumentNotShrinkingError(RuntimeError):
    """A level's summaries were no shorter than its input: summarizing again would not converge."""


@dataclass(frozen=True)
class MapReduce:
    count: Count  # tokens the model reads for a text (task prefix included)
    window: int  # the model's window, in tokens
    summarize_chunk: SummarizeChunk  # a chunk -> its summary (on any replica)

    def chunks(self, text: str) -> list[str]:
        sentences = fit_window(split_sentences(text), self.count, self.window).sentences
        return pack_windows(sentences, self.count, self.window)

    def fits(self, text: str) -> bool:
        """Whether the model reads all of `text`. A long text is never tokenized whole (a tokenizer
        takes ~0.6 s for 100k characters in one string): if its head alone is over the window, so
        is the text."""
        head = text[: HEAD_CHARS_PER_TOKEN * self.window]
        if self.count(head) > self.window:
            return False
        return len(head) == len(text) or self.count(text) <= self.window

    async def reduce_to_window(
        self, text: str, params: GenerationParams, progress: Progress | None = None
    ) -> str:
        """`text`, summarized chunk by chunk (`params` for each chunk) until it fits the window."""
        started, levels, total_chunks, first_chars = time.monotonic(), 0, 0, len(text)
        while not self.fits(text):
            if levels == MAX_LEVELS:
                raise DocumentNotShrinkingError(f"still longer than the window after {levels} levels")
            levels += 1
            # sentence splitting and token counting of up to ~150k characters: off the event loop
            chunks = await asyncio.to_thread(self.chunks, text)
            total_chunks += len(chunks)
            logger.info("map-reduce level %d: %d chunks of %d characters", levels, len(chunks), len(text))
            summaries = await self._map(chunks, params, levels, progress)
            joined = " ".join(summary.strip() for summary in summaries if summary.strip())
            if len(joined) >= len(text):
                raise DocumentNotShrinkingError(
                    f"level {levels}: {len(chunks)} chunks of a {len(text)}-character text summarized "
                    f"to {len(joined)} characters"
                )
            text = joined
        if levels:
            took = time.monotonic() - started
            logger.info(
                "map-reduce: a %d-character text summarized in %d chunks over %d levels in %.2f s",
                first_chars,
                total_chunks,
                levels,
                took,
                extra={
                    "map_reduce_chars": first_chars,
                    "map_reduce_chunks": total_chunks,
                    "map_reduce_levels": levels,
                    "map_reduce_s": round(took, 3),
                },
            )
        return text

    async def _map(
        self, chunks: list[str], params: GenerationParams, level: int, progress: Progress | None
    ) -> list[str]:
        """Every chunk's summary, in order; the chunks are summarized concurrently. The first
        failure is raised, and the chunk calls still running are cancelled."""
        done = 0
        if progress is not None:
            progress(level, done, len(chunks))

        async def one(chunk: str) -> str:
            nonlocal done
            summary = await self.summarize_chunk(chunk, params)
            done += 1
            if progress is not None:
                progress(level, done, len(chunks))
            return summary

        calls = [asyncio.ensure_future(one(chunk)) for chunk in chunks]
        try:
            return list(await asyncio.gather(*calls))
        finally:  # one chunk failed (or the request was cancelled): the rest are of no use
            for call in calls:
                call.cancel()
