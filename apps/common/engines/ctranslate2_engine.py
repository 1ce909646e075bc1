"""The CTranslate2 backend: the checkpoint converted to int8, decoded by CTranslate2 on CPU
(compute type int8) or a CUDA device (int8_float16: the same int8 weights, float16 activations).

The replica loads only the converted model and the tokenizer's own files, read by the model's
family (families.py) with `tokenizers` or `sentencepiece`: no torch, no fp32 weights (measured
here: ~270 MB less per replica than with AutoTokenizer + torch).
CTranslate2 releases the GIL while it decodes, so the replica's event loop keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apps.common.engines.base import GenerationParams, Seq2SeqEngine, threads_from_env
from apps.common.engines.ctranslate2_conversion import VMAP_FILE, converted_model_dir
from apps.common.engines.devices import CT2_COMPUTE_TYPES
from apps.common.engines.families import family_for
from apps.common.model_loading import ModelLoadError, ModelSource

logger = logging.getLogger("ray.serve")


class CTranslate2Engine(Seq2SeqEngine):
    backend = "ctranslate2"

    def __init__(self, source: ModelSource, device: str):
        super().__init__(source, device)
        try:
            checkpoint = source.local_dir()
            self.family = family_for(checkpoint)
            self.family.check_tokenizer()
            self.model_dir = converted_model_dir(checkpoint)
        except Exception as exc:
            raise ModelLoadError(f"could not prepare '{source.model_id}' for CTranslate2: {exc}") from exc
        self.max_input_tokens = self.family.max_input_tokens
        self.compute_type = CT2_COMPUTE_TYPES[device]
        # a model that ships a vocabulary map decodes over the target tokens it maps the source to
        self.use_vmap = (self.model_dir / VMAP_FILE).is_file()
        self.translator = self._new_translator()
        logger.info(
            "loaded %s (%s) from %s (ctranslate2, %s, %s%s)",
            source.model_id,
            self.family.name,
            self.model_dir,
            device,
            self.compute_type,
            ", its vocabulary map" if self.use_vmap else "",
        )

    def _new_translator(self):
        import ctranslate2

        return ctranslate2.Translator(
            str(self.model_dir),
            device=self.device,
            compute_type=self.compute_type,
            inter_threads=1,
            intra_threads=threads_from_env(),
        )

    def count_tokens(self, text: str) -> int:
        return self.family.count_tokens(text)

    def background_worker(self) -> Callable[[list[str], GenerationParams], list[str]]:
        """A second translator, made on the calling thread: CTranslate2 decodes on threads of its
        own, which inherit that thread's priority, while the thread that calls it (tokenizing,
        holding the GIL) may run at any. It holds a second copy of the weights."""
        translator = self._new_translator()
        return lambda prompts, params: self._decode(translator, prompts, params)

    def generate(self, prompts: list[str], params: GenerationParams) -> list[str]:
        return self._decode(self.translator, prompts, params)

    def _decode(self, translator, prompts: list[str], params: GenerationParams) -> list[str]:
        family, source, target = self.family, params.source_lang, params.target_lang
        prefix = family.target_prefix(target) or []  # forced tokens count as decoded ones
        results = translator.translate_batch(
            [family.source_tokens(prompt, source, target) for prompt in prompts],
            target_prefix=[prefix] * len(prompts) if prefix else None,
            beam_size=params.num_beams,
            max_decoding_length=params.max_new_tokens + len(prefix),
            min_decoding_length=params.min_new_tokens + len(prefix),
            max_input_length=0,  # inputs are checked against the model's window before this
            use_vmap=self.use_vmap,
        )
        return [family.text_from_tokens(result.hypotheses[0]) for result in results]
