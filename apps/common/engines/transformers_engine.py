"""The transformers backend: `AutoModelForSeq2SeqLM.generate` in fp32, on CPU or a CUDA device."""

from __future__ import annotations

import logging
import threading

from apps.common.engines.base import GenerationParams, Seq2SeqEngine, threads_from_env
from apps.common.engines.families import FamilyError, family_for
from apps.common.model_loading import ModelLoadError, ModelSource, load_tokenizer, load_torch_model

logger = logging.getLogger("ray.serve")


class TransformersEngine(Seq2SeqEngine):
    backend = "transformers"

    def __init__(self, source: ModelSource, device: str):
        import torch

        super().__init__(source, device)
        self._tokenizer_lock = threading.Lock()
        if threads_from_env():
            torch.set_num_threads(threads_from_env())
        try:
            self.family = family_for(source.local_dir())
        except FamilyError as exc:
            raise ModelLoadError(f"could not load '{source.model_id}': {exc}") from exc
        self.tokenizer = load_tokenizer(source)
        self.model = load_torch_model(source).to(device)
        self.max_input_tokens = self.family.max_input_tokens
        logger.info(
            "loaded %s (%s) from %s (transformers, fp32, %s)",
            source.model_id,
            self.family.name,
            source.location,
            device,
        )

    # A fast tokenizer keeps its padding settings in shared state: a call without padding (counting
    # tokens on the event loop) in the middle of a padded batch call (on the model thread) made the
    # batch ragged ("expected sequence of length 31 at dim 1 (got 30)"). Calls take turns.
    def count_tokens(self, text: str) -> int:
        with self._tokenizer_lock:
            return len(self.tokenizer(text, add_special_tokens=True).input_ids)

    def generate(self, prompts: list[str], params: GenerationParams) -> list[str]:
        import torch

        family, tokenizer = self.family, self.tokenizer
        with self._tokenizer_lock:
            batch = family.hf_inputs(tokenizer, prompts, params.source_lang, params.target_lang).to(
                self.device
            )
        forced = family.hf_generate_kwargs(tokenizer, params.target_lang)
        with torch.inference_mode():
            output_ids = self.model.generate(
                **batch,
                **forced,
                max_new_tokens=params.max_new_tokens + len(forced),  # a forced token counts as decoded
                min_new_tokens=params.min_new_tokens + len(forced),
                num_beams=params.num_beams,
                do_sample=False,
            )
        with self._tokenizer_lock:
            return family.hf_texts(tokenizer, output_ids)
