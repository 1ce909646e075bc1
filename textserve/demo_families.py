"""Each demo model family's part of the build: its real tokenizer class, trained on the demo
phrases and saved with save_pretrained; a tiny model of its architecture; the training batch.
textserve.demo_models trains every family the same way and proves it exact.

Pitfalls met with transformers 5 and CTranslate2 4.8 (what each builder does about them):
- MarianMT: CTranslate2 starts the decoder from a zero embedding and drops a last `<pad>` row, so
  `<pad>` is last in vocab.json and its embedding row stays zero through training.
- M2M100 and NLLB: the target language is forced (transformers' forced_bos_token_id, CTranslate2's
  target_prefix), so it is fed to the decoder but left out of the loss; M2M100's vocabulary is
  vocab.json, then its hundred language tokens, then 8 made-up words.
- BART: BartTokenizer(vocab_file=, merges_file=) is silently ignored (from_pretrained on the folder
  is not); CTranslate2's converter reads `normalize_before`, which BartConfig() leaves unset.
- PEGASUS: the same for `normalize_before` and `normalize_embedding` (pre-norm, no embedding norm).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textserve.demo_phrases import Pair, t5_prompt

# The size of every demo model but T5's: what BART-like configs call it
TINY = {
    "d_model": 64,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 128,
    "decoder_ffn_dim": 128,
    "max_position_embeddings": 256,
    "dropout": 0.0,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
}
# the summarizers read documents: a window of 512 tokens, as the T5 demo's (a longer document is
# summarized in chunks that fit it)
SUMMARIZER = {**TINY, "max_position_embeddings": 512}


@dataclass
class Prepared:
    """A family's untrained model, its tokenizer (saved in the model directory) and the batch."""

    model: Any
    tokenizer: Any
    inputs: dict  # input_ids, attention_mask (and decoder_input_ids where labels cannot make them)
    labels: Any  # -100 where a step is not learned
    after_step: Callable[[Any], None] | None = None  # run after every optimizer step


def train_sentencepiece(texts: list[str], model_file: Path, vocab_size: int, **options) -> None:
    """A sentencepiece model of `texts` written to `model_file`; `vocab_size` is an upper bound (a
    small corpus yields fewer pieces); `options`: the special ids, model_type."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(texts), encoding="utf-8")
        prefix = Path(tmp) / "spm"
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(prefix),
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            character_coverage=1.0,
            minloglevel=2,
            **{"model_type": "unigram", **options},
        )
        model_file.write_bytes(prefix.with_suffix(".model").read_bytes())


def train_t5_tokenizer(texts: list[str], out_dir: Path, vocab_size: int = 400, extra_ids: int = 0):
    """A sentencepiece unigram T5 tokenizer trained on `texts`, saved into `out_dir` (with its
    tokenizer.json); `vocab_size` is an upper bound (a small corpus yields fewer pieces)."""
    from transformers import T5Tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        train_sentencepiece(
            texts, Path(tmp) / "spiece.model", vocab_size, pad_id=0, eos_id=1, unk_id=2, bos_id=-1
        )
        tokenizer = T5Tokenizer.from_pretrained(tmp, extra_ids=extra_ids, legacy=False)
    tokenizer.save_pretrained(str(out_dir))
    return tokenizer


def _sides(pairs: list[Pair]) -> tuple[list[str], list[str]]:
    return [p.source for p in pairs], [p.target for p in pairs]


def _texts(pairs: list[Pair]) -> list[str]:
    return list(dict.fromkeys([p.source for p in pairs] + [p.target for p in pairs]))


def _batch(tokenizer, sources: list[str], targets: list[str]) -> tuple[dict, Any]:
    """Sources and targets tokenized as the tokenizer does for its family; padding not learned."""
    inputs = tokenizer(sources, return_tensors="pt", padding=True)
    labels = tokenizer(text_target=targets, return_tensors="pt", padding=True).input_ids
    labels[labels == tokenizer.pad_token_id] = -100
    return dict(inputs), labels


def prepare_t5(target: Path, pairs: list[Pair]) -> Prepared:
    from transformers import T5Config, T5ForConditionalGeneration

    prompts = [t5_prompt(p) for p in pairs]
    tokenizer = train_t5_tokenizer(prompts + [p.target for p in pairs], target)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=64,
        d_kv=32,
        d_ff=128,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        dropout_rate=0.0,
        decoder_start_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = T5ForConditionalGeneration(config)
    return Prepared(model, tokenizer, *_batch(tokenizer, prompts, [p.target for p in pairs]))


def prepare_marian(target: Path, pairs: list[Pair]) -> Prepared:
    """MarianMT, one language pair: source.spm, target.spm and a joint vocab.json."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    vocab = {"</s>": 0, "<unk>": 1}
    for side, texts in (("source", [p.source for p in pairs]), ("target", [p.target for p in pairs])):
        model_file = target / f"{side}.spm"
        train_sentencepiece(texts, model_file, 200, unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
        pieces = spm.SentencePieceProcessor(model_file=str(model_file))
        for piece in map(pieces.id_to_piece, range(pieces.get_piece_size())):
            if piece != "<s>":  # Marian has no <s>
                vocab.setdefault(piece, len(vocab))
    vocab["<pad>"] = len(vocab)  # last: CTranslate2 drops it (its decoder starts from zeros)
    (target / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1), encoding="utf-8")
    MarianTokenizer(
        source_spm=str(target / "source.spm"),
        target_spm=str(target / "target.spm"),
        vocab=str(target / "vocab.json"),
        source_lang=pairs[0].source_lang,
        target_lang=pairs[0].target_lang,
    ).save_pretrained(str(target))
    tokenizer = MarianTokenizer.from_pretrained(str(target))
    pad = tokenizer.pad_token_id
    config = MarianConfig(
        vocab_size=len(tokenizer),
        **TINY,
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        pad_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=pad,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    model = MarianMTModel(config)
    model.generation_config.bad_words_ids = [[pad]]

    def zero_pad_row(model) -> None:  # what CTranslate2 starts the decoder from
        with torch.no_grad():
            model.model.shared.weight[pad].zero_()

    zero_pad_row(model)
    return Prepared(model, tokenizer, *_batch(tokenizer, *_sides(pairs)), after_step=zero_pad_row)


def _language_token_batch(tokenizer, pairs: list[Pair], code: Callable[[str], str]) -> tuple[dict, Any]:
    """`<source language> text </s>` in, `<target language> text </s>` out. The target language is
    forced when decoding: the decoder reads it, the loss leaves it out (it cannot be predicted from
    the source, and learning it would pin the margins)."""
    from transformers.models.m2m_100.modeling_m2m_100 import shift_tokens_right

    sources, targets = [], []
    for pair in pairs:
        tokenizer.src_lang, tokenizer.tgt_lang = code(pair.source_lang), code(pair.target_lang)
        encoded = tokenizer(pair.source, text_target=pair.target)
        sources.append({"input_ids": encoded["input_ids"]})
        targets.append({"input_ids": encoded["labels"]})
    inputs = dict(tokenizer.pad(sources, return_tensors="pt"))
    labels = tokenizer.pad(targets, return_tensors="pt").input_ids
    inputs["decoder_input_ids"] = shift_tokens_right(labels, tokenizer.pad_token_id, tokenizer.eos_token_id)
    labels[labels == tokenizer.pad_token_id] = -100
    labels[:, 0] = -100
    return inputs, labels


def _m2m100_model(vocab_size: int, tokenizer):
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    config = M2M100Config(
        vocab_size=vocab_size,
        **TINY,
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        scale_embedding=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )
    return M2M100ForConditionalGeneration(config)


def _fairseq_sentencepiece(target: Path, pairs: list[Pair]) -> None:
    """sentencepiece.bpe.model as fairseq's tokenizers read it (<s> <pad> </s> <unk> come first)."""
    train_sentencepiece(
        _texts(pairs),
        target / "sentencepiece.bpe.model",
        300,
        model_type="bpe",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
    )


def prepare_m2m100(target: Path, pairs: list[Pair]) -> Prepared:
    """M2M100: vocab.json + sentencepiece.bpe.model; `__de__` language tokens after vocab.json."""
    import sentencepiece as spm
    from transformers import M2M100Tokenizer

    _fairseq_sentencepiece(target, pairs)
    pieces = spm.SentencePieceProcessor(model_file=str(target / "sentencepiece.bpe.model"))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in map(pieces.id_to_piece, range(pieces.get_piece_size())):
        vocab.setdefault(piece, len(vocab))
    (target / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1), encoding="utf-8")
    M2M100Tokenizer(
        vocab_file=str(target / "vocab.json"), spm_file=str(target / "sentencepiece.bpe.model")
    ).save_pretrained(str(target))
    tokenizer = M2M100Tokenizer.from_pretrained(str(target))
    vocab_size = tokenizer.vocab_size + len(tokenizer.lang_token_to_id) + tokenizer.num_madeup_words
    model = _m2m100_model(vocab_size, tokenizer)
    return Prepared(model, tokenizer, *_language_token_batch(tokenizer, pairs, lambda lang: lang))


def prepare_nllb(target: Path, pairs: list[Pair]) -> Prepared:
    """NLLB: M2M100's architecture, NllbTokenizer with FLORES-200 language tokens (`deu_Latn`)."""
    from transformers import NllbTokenizer

    from apps.common.languages import LANGUAGES

    languages = sorted({p.source_lang for p in pairs} | {p.target_lang for p in pairs})
    codes = [LANGUAGES[lang].flores for lang in languages]
    _fairseq_sentencepiece(target, pairs)
    NllbTokenizer.from_pretrained(str(target), additional_special_tokens=codes).save_pretrained(str(target))
    tokenizer = NllbTokenizer.from_pretrained(str(target))
    model = _m2m100_model(len(tokenizer), tokenizer)
    return Prepared(
        model, tokenizer, *_language_token_batch(tokenizer, pairs, lambda lang: LANGUAGES[lang].flores)
    )


def prepare_bart(target: Path, pairs: list[Pair]) -> Prepared:
    """BART: byte-level BPE (vocab.json + merges.txt); outputs are `<s> text </s>`."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        _texts(pairs),
        vocab_size=600,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    bpe.save_model(str(target))
    BartTokenizer.from_pretrained(str(target)).save_pretrained(str(target))
    tokenizer = BartTokenizer.from_pretrained(str(target))
    config = BartConfig(
        vocab_size=len(tokenizer),
        **SUMMARIZER,
        normalize_before=False,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    model = BartForConditionalGeneration(config)
    model.generation_config.forced_bos_token_id = tokenizer.bos_token_id  # as facebook/bart-* have it
    return Prepared(model, tokenizer, *_batch(tokenizer, *_sides(pairs)))


def prepare_pegasus(target: Path, pairs: list[Pair]) -> Prepared:
    """PEGASUS: a sentencepiece unigram model (spiece.model), PegasusTokenizer's 105 reserved ids
    (<pad> </s> <mask_1> <mask_2> <unk_2>..<unk_102>) first; the decoder starts from <pad>."""
    from transformers import PegasusConfig, PegasusForConditionalGeneration, PegasusTokenizer

    train_sentencepiece(_texts(pairs), target / "spiece.model", 400, pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    PegasusTokenizer.from_pretrained(str(target)).save_pretrained(str(target))
    tokenizer = PegasusTokenizer.from_pretrained(str(target))
    config = PegasusConfig(
        vocab_size=len(tokenizer),
        **SUMMARIZER,
        activation_function="relu",
        scale_embedding=True,
        normalize_before=True,
        normalize_embedding=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    return Prepared(PegasusForConditionalGeneration(config), tokenizer, *_batch(tokenizer, *_sides(pairs)))
