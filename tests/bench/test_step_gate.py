"""bench/step_gate.py's decoding loop (encoder, then one decoder step at a time over caches it
holds, what the ONNX candidate exports) gives the demo T5's exact answers, in PyTorch: fp32, and
int8 as its dynamic quantization makes it. The ONNX Runtime candidate needs the bench extra."""

import pytest
from transformers import AutoTokenizer, T5ForConditionalGeneration

from bench.step_gate import Loop, torch_runners
from textserve.demo_phrases import TRANSLATION_PREFIXES, TRANSLATIONS


@pytest.mark.parametrize("quantized", [False, True], ids=["fp32", "int8"])
def test_the_step_loop_gives_the_demo_answers(demo_models, quantized):
    model_dir = str(demo_models["demo-translation"])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = T5ForConditionalGeneration.from_pretrained(model_dir).eval()
    prompts, expected = [], []
    for english, by_lang in TRANSLATIONS.items():
        for lang, name in TRANSLATION_PREFIXES.items():
            prompts.append(f"translate English to {name}: {english}")
            expected.append(by_lang[lang])
    batch = tokenizer(prompts).input_ids  # sources of different lengths: padded, masked
    run_encoder, run_step = torch_runners(model, quantized=quantized)
    loop = Loop(model, run_encoder, run_step, 64, max(len(ids) for ids in batch))
    outputs = tokenizer.batch_decode(loop.generate(batch, 0, 64), skip_special_tokens=True)
    assert outputs == expected
