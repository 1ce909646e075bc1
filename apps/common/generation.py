"""Text generation for a deployment: input-size checks, adaptive batching, and the model call on a
worker thread (one call at a time per replica, so the replica's event loop keeps accepting requests).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from apps.common.batching import AdaptiveBatcher
from apps.common.engines import Backend, Device, GenerationParams, Seq2SeqEngine, load_engine, resolve_device
from apps.common.errors import InputTooLargeError
from apps.common.metrics import TokenMetrics, batch_metrics_or_none, metrics_or_none
from apps.common.request_ids import current_request_id
from apps.common.settings import ModelAppSettings

__all__ = ["GenerationParams", "Seq2SeqGenerator", "check_input_limits", "generator_for"]

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
    def __init__(self, engine: Seq2SeqEngine):
        self.engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._token_metrics = metrics_or_none(TokenMetrics)
        metrics = batch_metrics_or_none()
        self._batcher: AdaptiveBatcher[GenerationParams] = AdaptiveBatcher(
            self._call_model, on_batch=metrics.record if metrics else None
        )

    @property
    def name(self) -> str:
        return self.engine.name

    @property
    def uses_t5_prefixes(self) -> bool:
        return self.engine.uses_t5_prefixes

    def configure_batching(self, max_batch_size: int, batch_wait_timeout_s: float) -> None:
        self._batcher.configure(max_batch_size, batch_wait_timeout_s)

    @property
    def max_input_tokens(self) -> int:
        """The model's window: the longest prompt it reads (t5-small: 512 tokens)."""
        return self.engine.max_input_tokens

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

    async def generate(self, prompts: list[str], params: GenerationParams, returns: bool = True) -> list[str]:
        """Outputs for `prompts`, batched with whatever else is queued. `returns=False` for a part
        of a fanned-out request: no later call waits for its caller to come back (batching.py)."""
        lengths = self._lengths(prompts)
        outputs = await self._batcher.submit(prompts, params, lengths, current_request_id(), returns)
        self._count_tokens(lengths, outputs)
        return outputs

    async def generate_stream(self, prompts: list[str], params: GenerationParams) -> AsyncIterator[list[str]]:
        """Outputs for `prompts` in order, a batch-sized run at a time, each as soon as it (and
        every run before it) is decoded. All runs are queued at once, so they batch as `generate`'s do."""
        lengths = self._lengths(prompts)
        runs = self._batcher.submit_runs(prompts, params, lengths, current_request_id())
        try:
            for start, run in runs:
                outputs = await run
                self._count_tokens(lengths[start : start + len(outputs)], outputs)
                yield outputs
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
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.engine.generate, prompts, params)


def generator_for(
    model_id: str, backend: Backend, current: Seq2SeqGenerator | None, device: Device
) -> Seq2SeqGenerator:
    """The generator for `model_id` on `backend` and `device`: the current one if it already serves
    exactly that (a reconfigure that changes only limits keeps the loaded weights; `auto` counts as
    the device it resolves to), else a newly loaded one. ModelLoadError if it cannot be loaded."""
    engine = current.engine if current is not None else None
    same_model = engine is not None and (engine.model_id, engine.backend) == (model_id, backend)
    if same_model and engine.device == resolve_device(device, backend):
        return current
    # The old generator, if any, finishes what it has queued and is then freed with its thread.
    return Seq2SeqGenerator(load_engine(model_id, backend, device))
