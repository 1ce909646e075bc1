"""Text generation with a loaded seq2seq model: token counting, dynamic batching, `generate`.

Requests arriving together are gathered by `@serve.batch` (size and wait set from user_config)
and run as one `generate` per group of equal generation parameters. One model call at a time per
replica, on a worker thread, so the replica's event loop keeps accepting requests meanwhile.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ray import serve

from apps.common.errors import InputTooLarge
from apps.common.model_loading import LoadedModel, load_seq2seq


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int
    min_new_tokens: int = 0
    num_beams: int = 1


class Seq2SeqGenerator:
    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")

    @property
    def name(self) -> str:
        return self.loaded.name

    def count_tokens(self, text: str) -> int:
        return len(self.loaded.tokenizer(text, add_special_tokens=True).input_ids)

    def check_input_size(self, text: str, prompt: str, max_chars: int) -> None:
        """Raise InputTooLarge (413) for text over the configured limit or the model's window."""
        if len(text) > max_chars:
            raise InputTooLarge(
                f"text is {len(text)} characters; this service accepts at most {max_chars} "
                "per request: send a shorter text"
            )
        tokens, limit = self.count_tokens(prompt), self.loaded.max_input_tokens
        if tokens > limit:
            raise InputTooLarge(
                f"text is {tokens} tokens; the model reads at most {limit}: send a shorter text"
            )

    def generate_sync(self, prompts: list[str], params: GenerationParams) -> list[str]:
        import torch

        tokenizer = self.loaded.tokenizer
        with torch.inference_mode():
            batch = tokenizer(prompts, return_tensors="pt", padding=True)
            output_ids = self.loaded.model.generate(
                **batch,
                max_new_tokens=params.max_new_tokens,
                min_new_tokens=params.min_new_tokens,
                num_beams=params.num_beams,
                do_sample=False,
            )
        return [text.strip() for text in tokenizer.batch_decode(output_ids, skip_special_tokens=True)]

    async def generate(self, prompts: list[str], params: GenerationParams) -> list[str]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.generate_sync, prompts, params)

    async def generate_one(self, prompt: str, params: GenerationParams) -> str:
        """One request's generation, batched with whatever else arrives at the same time."""
        return await self._generate_batch((prompt, params))

    def configure_batching(self, max_batch_size: int, batch_wait_timeout_s: float) -> None:
        self._generate_batch.set_max_batch_size(max_batch_size)
        self._generate_batch.set_batch_wait_timeout_s(batch_wait_timeout_s)

    @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.01)
    async def _generate_batch(self, items: list[tuple[str, GenerationParams]]) -> list[str]:
        by_params: dict[GenerationParams, list[int]] = defaultdict(list)
        for index, (_, params) in enumerate(items):
            by_params[params].append(index)
        results = [""] * len(items)
        for params, indexes in by_params.items():
            outputs = await self.generate([items[i][0] for i in indexes], params)
            for i, output in zip(indexes, outputs, strict=True):
                results[i] = output
        return results

    def close(self) -> None:
        self._executor.shutdown(wait=False)  # queued calls still finish on the old model


def generator_for(model_id: str, current: Seq2SeqGenerator | None) -> Seq2SeqGenerator:
    """The generator for `model_id`: the current one if it already serves that model (a
    reconfigure that changes only limits keeps the loaded weights), else a newly loaded one."""
    if current is not None and current.loaded.model_id == model_id:
        return current
    generator = Seq2SeqGenerator(load_seq2seq(model_id))
    if current is not None:
        current.close()
    return generator
