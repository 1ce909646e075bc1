"""Text generation for a deployment: input-size checks, the sentence cache, adaptive batching by
class, and the model calls on lane threads (one call at a time per lane, so the replica's event
loop keeps accepting requests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from apps.common.batching import NO_TICKET, AdaptiveBatcher
from apps.common.engines import GenerationParams, Seq2SeqEngine
from apps.common.errors import InputTooLargeError
from apps.common.lanes import ModelLane, run_at_lower_priority
from apps.common.metrics import SchedulingMetrics, TokenMetrics, metrics_or_none
from apps.common.ray_adapter import current_request_id
from apps.common.scheduling import Ticket
from apps.common.sentence_cache import Lookup, SentenceCache
from apps.common.settings import ModelAppSettings

__all__ = ["GenerationParams", "Seq2SeqGenerator", "check_input_limits"]

PROBE_PARAMS = GenerationParams(max_new_tokens=1)


def check_input_limits(texts: list[str], limits: ModelAppSettings) -> None:
    """InputTooLargeError (413) for more texts than `max_texts_per_request`, a text longer than
    `max_input_chars`, or more than `max_request_chars` in all: the request-level bounds, checked
    before a text is split or chunked."""
    if len(texts) > limits.max_texts_per_request:
        raise InputTooLargeError(
            f"{len(texts)} texts in one request; this service accepts at most "
            f"{limits.max_texts_per_request}: split the list"
        )
    for number, text in enumerate(texts):
        if len(text) > limits.max_input_chars:
            where = f"text {number + 1} of {len(texts)}" if len(texts) > 1 else "text"
            raise InputTooLargeError(
                f"{where} is {len(text)} characters; this service accepts at most "
                f"{limits.max_input_chars} per text: send a shorter text"
            )
    total = sum(len(text) for text in texts)
    if total > limits.max_request_chars:
        raise InputTooLargeError(
            f"the texts total {total} characters; this service accepts at most "
            f"{limits.max_request_chars} per request: send fewer or shorter texts"
        )


class Seq2SeqGenerator:
    """One model on its lanes (apps/common/lanes.py), behind the batcher and the sentence cache,
    as `settings` say (and `configure` says again)."""

    def __init__(self, engine: Seq2SeqEngine, settings: ModelAppSettings):
        self.engine = engine
        self.name = engine.name  # what answers report in their `model` field
        self.model_id = engine.model_id  # as configured: a hub id or a directory
        self.family = engine.family  # prompts and languages (engines/families.py)
        self.max_input_tokens = engine.max_input_tokens  # the model's window (t5-small: 512 tokens)
        self._lane = ModelLane("interactive")
        self._bulk_lane: ModelLane | None = None
        self._bulk_generate = None  # the engine's background worker (lanes.py)
        self._cache = SentenceCache(settings.cache_entries)
        self._cache_scope = settings.cache_scope
        self._token_metrics = metrics_or_none(TokenMetrics)
        self._metrics = metrics_or_none(SchedulingMetrics)
        self._batcher: AdaptiveBatcher[GenerationParams] = AdaptiveBatcher(
            self._call_model,
            settings.max_batch_size,
            settings.batch_wait_timeout_s,
            observer=self._metrics,
            label=engine.model_id,
        )
        self.configure(settings)

    def configure(self, settings: ModelAppSettings) -> None:
        """Batch limits, classes (a bulk lane when `bulk_max_wait_s` > 0, interactive calls filled
        to `interactive_batch_size` with bulk work) and the cache's size."""
        if settings.bulk_max_wait_s > 0 and self._bulk_lane is None:
            self._bulk_lane = ModelLane("bulk")
            self._bulk_generate = run_at_lower_priority(self.engine.background_worker)
        elif settings.bulk_max_wait_s == 0 and self._bulk_lane is not None:
            self._bulk_lane.close()
            self._bulk_lane = self._bulk_generate = None
        self._batcher.configure(
            settings.max_batch_size,
            settings.batch_wait_timeout_s,
            self._call_bulk_model if self._bulk_lane is not None else None,
            settings.bulk_max_wait_s,
            settings.interactive_batch_size,
        )
        self._cache.resize(settings.cache_entries)
        self._cache_scope = settings.cache_scope

    def count_tokens(self, prompt: str) -> int:
        return self.engine.count_tokens(prompt)

    def _lengths(self, prompts: list[str]) -> list[int]:
        """Token length of each prompt; InputTooLargeError (413) for one over the model's window (the
        apps cut texts to fit first, so this is a last guard: nothing is silently truncated)."""
        lengths = [self.engine.count_tokens(prompt) for prompt in prompts]
        limit = self.engine.max_input_tokens
        for number, tokens in enumerate(lengths):
            if tokens > limit:
                where = f"input {number + 1} of {len(prompts)}" if len(prompts) > 1 else "input"
                raise InputTooLargeError(
                    f"{where} is {tokens} tokens; the model reads at most {limit}: send a shorter text"
                )
        return lengths

    def lookup(
        self,
        prompts: list[str],
        params: GenerationParams,
        count_misses: bool = True,
        tenant: str | None = None,
    ) -> Lookup:
        """`prompts` against this replica's sentence cache (counted in the metrics): what is known,
        and what is left to decode, each prompt once (sentence_cache.py). `count_misses=False` when
        the misses go on to be looked up again where they are decoded (a fanned-out text's parts),
        so each prompt is counted once. `tenant` (the request's Ticket's): with `cache_scope:
        per_key`, only outputs decoded for that tenant are found, and what is decoded is kept
        for it alone."""
        scope = (params, tenant) if self._cache_scope == "per_key" and tenant is not None else params
        lookup = self._cache.lookup(scope, prompts)
        if self._metrics is not None and self._cache.capacity > 0:
            self._metrics.record_lookups(lookup.hits, len(lookup.misses) if count_misses else 0)
        return lookup

    async def generate(
        self,
        prompts: list[str],
        params: GenerationParams,
        caller_returns: bool = True,
        ticket: Ticket = NO_TICKET,
    ) -> list[str]:
        """Outputs for `prompts`: from the cache, else batched with whatever else is queued (a
        prompt repeated here is decoded once). `caller_returns=False` for a part of a fanned-out request:
        no later call waits for its caller to come back (batching.py). `ticket`: its class and
        deadline (DeadlineExceededError past it), and its tenant (the cache's scope)."""
        lookup = self.lookup(prompts, params, tenant=ticket.tenant)
        if lookup.misses:
            lengths = self._lengths(lookup.misses)
            outputs = await self._batcher.submit(
                lookup.misses, params, lengths, current_request_id(), caller_returns, ticket
            )
            lookup.fill(0, outputs)
            self._count_tokens(lengths, outputs)
        return lookup.take_ready()

    async def generate_stream(
        self, prompts: list[str], params: GenerationParams, ticket: Ticket = NO_TICKET
    ) -> AsyncIterator[list[str]]:
        """Outputs for `prompts` in order, as soon as they (and every one before them) are known:
        cached ones at once, the rest a batch-sized run at a time. All runs are queued at once, so
        they batch as `generate`'s do."""
        lookup = self.lookup(prompts, params, tenant=ticket.tenant)
        lengths = self._lengths(lookup.misses)
        runs = self._batcher.submit_runs(lookup.misses, params, lengths, current_request_id(), True, ticket)
        try:
            ready = lookup.take_ready()
            if ready:
                yield ready
            for start, run in runs:
                outputs = await run
                lookup.fill(start, outputs)
                self._count_tokens(lengths[start : start + len(outputs)], outputs)
                ready = lookup.take_ready()
                if ready:
                    yield ready
        finally:
            for _, run in runs:  # a caller that stops reading frees the batcher of the rest
                run.cancel()

    def _count_tokens(self, lengths: list[int], outputs: list[str]) -> None:
        if self._token_metrics is not None:
            self._token_metrics.record(sum(lengths), sum(self.engine.count_tokens(o) for o in outputs))

    async def probe(self, prompt: str) -> dict:
        """Decode one token of `prompt` on the model thread (between batches); raise if the model
        cannot generate, else say what serves. Serve's health checks and the router's /healthz
        run it."""
        outputs = await self._call_model([prompt], PROBE_PARAMS)
        if len(outputs) != 1 or not isinstance(outputs[0], str):
            raise RuntimeError(f"model {self.name} returned {outputs!r} for a one-token probe")
        return {"status": "ok", "model": self.name, "backend": self.engine.backend}

    async def _call_model(self, prompts: list[str], params: GenerationParams) -> list[str]:
        return await self._lane.call(self.engine.generate, prompts, params)

    async def _call_bulk_model(self, prompts: list[str], params: GenerationParams) -> list[str]:
        return await self._bulk_lane.call(self._bulk_generate, prompts, params)
