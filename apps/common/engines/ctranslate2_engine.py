"""The CTranslate2 backend: the checkpoint converted to int8, decoded by CTranslate2 on CPU.

The replica loads only the tokenizer and the converted model (no torch weights). CTranslate2
releases the GIL while it decodes, so the replica's event loop keeps serving meanwhile.
"""

from __future__ import annotations

import logging
import os

from apps.common.engines.base import GenerationParams, Seq2SeqEngine
from apps.common.engines.ctranslate2_conversion import QUANTIZATION, converted_model_dir
from apps.common.model_loading import ModelLoadError, ModelSource

logger = logging.getLogger("ray.serve")


def _threads() -> int:
    """One thread per replica where Ray set OMP_NUM_THREADS (fractional-CPU actors get 1)."""
    try:
        return max(0, int(os.environ.get("OMP_NUM_THREADS", "0")))
    except ValueError:
        return 0  # CTranslate2 picks


class CTranslate2Engine(Seq2SeqEngine):
    backend = "ctranslate2"

    def __init__(self, source: ModelSource):
        import ctranslate2

        super().__init__(source)
        try:
            self.model_dir = converted_model_dir(source.local_dir())
        except Exception as exc:
            raise ModelLoadError(f"could not prepare '{source.model_id}' for CTranslate2: {exc}") from exc
        self.translator = ctranslate2.Translator(
            str(self.model_dir),
            device="cpu",
            compute_type=QUANTIZATION,
            inter_threads=1,
            intra_threads=_threads(),
        )
        logger.info("loaded %s from %s (ctranslate2, %s)", source.model_id, self.model_dir, QUANTIZATION)

    def generate(self, prompts: list[str], params: GenerationParams) -> list[str]:
        tokenizer = self.tokenizer
        sources = [tokenizer.convert_ids_to_tokens(tokenizer.encode(prompt)) for prompt in prompts]
        results = self.translator.translate_batch(
            sources,
            beam_size=params.num_beams,
            max_decoding_length=params.max_new_tokens,
            min_decoding_length=params.min_new_tokens,
            max_input_length=0,  # inputs are checked against the model's window before this
        )
        texts = []
        for result in results:
            ids = tokenizer.convert_tokens_to_ids(result.hypotheses[0])
            texts.append(tokenizer.decode(ids, skip_special_tokens=True).strip())
        return texts
