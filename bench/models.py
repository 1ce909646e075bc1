"""The benchmark's model and inputs: t5-small's exact architecture and size with random weights
(the hub is unreachable here), a tokenizer trained locally, and the two workloads' texts.

Random weights decode nonsense, so every request forces its output length
(`min_new_tokens == max_new_tokens`): the reference and our apps then do identical work, token
for token. Built once into the cache directory (~/.cache/textserve/bench), never into the repo.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from apps.common.engines.ctranslate2_conversion import cache_root
from bench.workload_texts import fitted_texts
from textserve.demo_models import train_t5_tokenizer

BUILD_VERSION = 2
MODEL_NAME = "t5-small-shape"

# t5-small's config.json (hub id "t5-small"), minus the task_specific_params
T5_SMALL_CONFIG = {
    "d_ff": 2048,
    "d_kv": 64,
    "d_model": 512,
    "decoder_start_token_id": 0,
    "dropout_rate": 0.1,
    "eos_token_id": 1,
    "feed_forward_proj": "relu",
    "initializer_factor": 1.0,
    "is_encoder_decoder": True,
    "layer_norm_epsilon": 1e-06,
    "model_type": "t5",
    "n_positions": 512,
    "num_decoder_layers": 6,
    "num_heads": 8,
    "num_layers": 6,
    "pad_token_id": 0,
    "relative_attention_num_buckets": 32,
    "vocab_size": 32128,
}

# English-looking filler: what the tokenizer is trained on and the workloads are made of
_WORD_LIST = (
    "the a an of to in for on with by from at as about into over after before under between "
    "people city river market country government company system program question answer "
    "morning evening weather train station school teacher student family friend house garden "
    "report meeting project budget energy water history music language science computer network "
    "service customer price product quality research result method problem solution decision "
    "is was are were has had will would can could should must may might does did "
    "build find make take give keep bring write read speak learn open close start finish "
    "improve measure increase reduce explain describe announce publish prepare deliver "
    "new old large small early late important public local national final recent simple "
    "quickly slowly carefully clearly recently already often never always usually together "
    "and but or because while although since unless until when where which who that this"
)
WORDS = _WORD_LIST.split()


@dataclass(frozen=True)
class Workload:
    name: str  # "translate" or "summarize"
    texts: tuple[str, ...]  # distinct request inputs, each `input_tokens` tokens with its task prefix
    input_tokens: int
    output_tokens: int  # forced: min_new_tokens == max_new_tokens


def model_dir() -> Path:
    return cache_root() / "bench" / MODEL_NAME


def _sentences(rng: random.Random, count: int, words: int) -> list[str]:
    out = []
    for _ in range(count):
        picked = [rng.choice(WORDS) for _ in range(words)]
        out.append(" ".join(picked).capitalize() + ".")
    return out


def ensure_model() -> Path:
    """The t5-small-shaped model directory, built (about 15 s) if missing or stale."""
    target = model_dir()
    stamp = target / "bench_model.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("build_version") == BUILD_VERSION:
        return target
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    started = time.monotonic()
    target.mkdir(parents=True, exist_ok=True)
    # t5-small's tokenizer has 32000 pieces + 100 sentinels; this one is smaller (the corpus is),
    # which changes nothing in the model's size or the work per token
    tokenizer = train_t5_tokenizer(_sentences(random.Random(7), 4000, 20), target, 2000, extra_ids=100)
    tokenizer.model_max_length = 512
    tokenizer.save_pretrained(str(target))
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config.from_dict(T5_SMALL_CONFIG))
    model.eval()
    model.save_pretrained(str(target))
    params = sum(p.numel() for p in model.parameters())
    stamp.write_text(json.dumps({"build_version": BUILD_VERSION, "parameters": params}) + "\n")
    took = time.monotonic() - started
    print(f"built {target}: t5-small shape, {params / 1e6:.1f} M parameters, {took:.0f} s")
    return target


TEXTS_VERSION = 3  # texts drawn per index (bench/workload_texts.py)
# workload -> (task prefix the apps add, input tokens with it, output tokens forced)
SHAPES = {
    "translate": ("translate English to French: ", 30, 30),
    "summarize": ("summarize: ", 500, 60),
}
DEFAULT_COUNTS = {"translate": 64, "summarize": 16}


def _save_atomically(path: Path, data: dict) -> None:
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(data))
    partial.replace(path)


def workloads(path: Path, counts: dict[str, int] | None = None) -> dict[str, Workload]:
    """Translation of 30-token sentences (-> 30 tokens) and summarization of 500-token documents
    (-> 60 tokens), lengths counted with the task prefixes the apps add: the first `counts[name]`
    distinct texts of each (default 64 sentences, 16 documents; bench/workload_texts.py). Kept beside
    the model dir once made, so every process reads the same texts without loading a tokenizer; a run
    that needs more makes only the missing ones."""
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    # beside the model dir, not in it: its files are the CTranslate2 conversion's fingerprint
    saved = Path(path).parent / f"{Path(path).name}-workloads.json"
    stored = json.loads(saved.read_text()) if saved.is_file() else {}
    if stored.get("texts_version") != TEXTS_VERSION:
        stored = {"texts_version": TEXTS_VERSION}
    count_batch = None
    made = {}
    for name, (prefix, input_tokens, output_tokens) in SHAPES.items():
        texts = stored.setdefault(name, [])
        if len(texts) < counts[name]:
            if count_batch is None:
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(str(path))

                def count_batch(batch: list[str], tokenizer=tokenizer) -> list[int]:
                    return [len(ids) for ids in tokenizer(batch).input_ids]

            texts += fitted_texts(
                count_batch, WORDS, prefix, input_tokens, range(len(texts), counts[name]), name
            )
        made[name] = Workload(name, tuple(texts[: counts[name]]), input_tokens, output_tokens)
    if count_batch is not None:
        _save_atomically(saved, stored)
    return made


# ------------------------------------------------ a variant whose greedy output is text (bench-long)

WRITABLE_VERSION = 1


def unwritable_ids(vocab_size: int, tokenizer_size: int, special_ids: list[int]) -> list[int]:
    """Output ids whose text is empty: past the tokenizer's pieces (t5-small's 32128-id output
    layer against a few hundred pieces) or special (pad, </s>, <unk>, sentinels)."""
    special = set(special_ids)
    return [i for i in range(vocab_size) if i >= tokenizer_size or i in special]


def writable_model_dir() -> Path:
    from apps.common.engines.ctranslate2_conversion import cache_root

    return cache_root() / "bench" / f"{MODEL_NAME}-writable"


def ensure_writable_model() -> Path:
    """bench/models.py's model with the output embedding rows of `unwritable_ids` scaled by 1e-3.

    Same architecture, size and work per token. With the stock random weights greedy decoding
    picks ids the small bench tokenizer has no piece for, so every chunk's 60-token summary decodes
    to "" and map-reduce ends after one level on an empty text; t5-small's summaries are text,
    whose joined summaries are summarized again. With these rows near zero the argmax falls on a
    piece the tokenizer writes (and never on </s>): each chunk becomes ~60 tokens of text, as it
    would with real weights. T5 ties its input and output embeddings, so the special tokens' input
    embeddings (</s> ends every input, <pad> starts decoding) shrink too: other values, same work."""
    source = ensure_model()
    target = writable_model_dir()
    stamp = target / "bench_model.json"
    wanted = {"writable_version": WRITABLE_VERSION, "source_build_version": BUILD_VERSION}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return target
    import torch
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(str(source))
    model = T5ForConditionalGeneration.from_pretrained(str(source))
    rows = unwritable_ids(model.config.vocab_size, len(tokenizer), list(tokenizer.all_special_ids))
    with torch.no_grad():
        model.get_output_embeddings().weight[rows] *= 1e-3
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target))
    tokenizer.save_pretrained(str(target))
    stamp.write_text(json.dumps(wanted) + "\n")
    print(f"built {target}: {len(rows)} of {model.config.vocab_size} output rows scaled", file=sys.stderr)
    return target
