"""What the translation catalog costs in memory: each model of serve_config.yaml's catalog, loaded as
a replica loads it (CTranslate2 int8, one thread), and lingua's language detector.

    python -m bench.model_memory [--out DIR]

No hub here, so each model is built offline with its real architecture and size and random weights
(memory and load time depend on the shapes only): t5-small is bench/models.py's model;
opus-mt-de-en and opus-mt-fr-en are MarianMT with their config.json's shapes (d_model 512, 6+6
layers, 8 heads, ffn 2048, vocab 58101 / 59514, 512 positions, shared embeddings);
nllb-200-distilled-600M is M2M100 with NLLB's (d_model 1024, 12+12 layers, 16 heads, ffn 4096,
vocab 256206, 1024 positions, scaled embeddings). Each is converted by the replicas' own converter
(`apps.common.engines.ctranslate2_conversion.converted_model_dir`: 7-bit int8, cached). That
converter requires the model's tokenizer files (apps.common.engines.families), so each checkpoint
gets a small tokenizer of its family's real class (MarianTokenizer, NllbTokenizer) trained here on
bench/models.py's words: Marian's vocab.json is padded with filler tokens to the model's vocabulary
size, NLLB's to it by CTranslate2's own made-up words. Built once into the cache directory
(~/.cache/textserve/bench/memory; the NLLB build needs ~2.5 GB in fp32 and a minute or two), never
into the repo.

Each model is measured in a fresh child process (clean RSS): the time of `ctranslate2.Translator(dir,
device="cpu", compute_type="int8", inter_threads=1, intra_threads=1)`, the RSS it adds (psutil), and
the peak RSS above the process's base after one greedy `translate_batch` of 16 inputs of 30 tokens
forced to 30 output tokens. Then lingua's detector over en/de/fr/es built and used once (as
apps/translation/detection.py builds it, lazily, lingua's import included), and one child holding
all four models and the detector at once: what a translation replica holding the whole default
catalog (`max_models_per_replica: 4`) costs above its base. "Base" is the child's RSS after
importing ctranslate2 and psutil, before anything is loaded. Last, the NLLB batch decoded without
and with a vocabulary map (CTranslate2's `use_vmap`, which apps/common/engines use when a model
ships a vmap.txt) of its first 5,000 tokens: the time its 256k-token output layer costs.

Writes bench/results/model-memory-<date>.json and ends with one line:
`catalog_rss_mib=.. catalog_peak_mib=.. detector_mib=.. largest=.. cpu=..`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from apps.common.engines.ctranslate2_conversion import cache_root, converted_model_dir
from bench.models import _sentences, ensure_model
from bench.raw import peak_rss_mib

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BUILD_VERSION = 1
BATCH, INPUT_TOKENS, OUTPUT_TOKENS = 16, 30, 30
DETECTOR_LANGUAGES = ("en", "de", "fr", "es")
DETECT_TEXT = "Der Bericht über das Wetter wurde heute Morgen in der Stadt veröffentlicht."
CHILD_TIMEOUT_S = 600

# The real config.json's of the catalog's MarianMT models (hub ids Helsinki-NLP/opus-mt-{de,fr}-en),
# but for the vocabulary size (and pad token, last in it), which differ per pair
MARIAN_CONFIG = {
    "activation_function": "swish",
    "d_model": 512,
    "encoder_layers": 6,
    "decoder_layers": 6,
    "encoder_attention_heads": 8,
    "decoder_attention_heads": 8,
    "encoder_ffn_dim": 2048,
    "decoder_ffn_dim": 2048,
    "max_position_embeddings": 512,
    "scale_embedding": True,
    "share_encoder_decoder_embeddings": True,
    "static_position_embeddings": True,
    "normalize_before": False,
    "normalize_embedding": False,
    "add_bias_logits": False,
    "eos_token_id": 0,
    "dropout": 0.1,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
}
# facebook/nllb-200-distilled-600M's config.json (M2M100 architecture)
NLLB_CONFIG = {
    "activation_function": "relu",
    "d_model": 1024,
    "encoder_layers": 12,
    "decoder_layers": 12,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "decoder_ffn_dim": 4096,
    "max_position_embeddings": 1024,
    "scale_embedding": True,
    "vocab_size": 256206,
    "bos_token_id": 0,
    "pad_token_id": 1,
    "eos_token_id": 2,
    "decoder_start_token_id": 2,
    "encoder_layerdrop": 0.0,
    "decoder_layerdrop": 0.0,
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "activation_dropout": 0.0,
}
# sshleifer/distilbart-cnn-12-6's config.json (the summarizer's model; BART architecture)
DISTILBART_CONFIG = {
    "activation_function": "gelu",
    "d_model": 1024,
    "encoder_layers": 12,
    "decoder_layers": 6,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "decoder_ffn_dim": 4096,
    "max_position_embeddings": 1024,
    "vocab_size": 50264,
    "normalize_before": False,
    "scale_embedding": False,
    "bos_token_id": 0,
    "pad_token_id": 1,
    "eos_token_id": 2,
    "decoder_start_token_id": 2,
    "dropout": 0.1,
    "attention_dropout": 0.0,
    "activation_dropout": 0.0,
}
SUMMARIZER = "sshleifer/distilbart-cnn-12-6"  # measured alone: a Summarizer holds one model
# catalog id -> (family, how it is built)
CATALOG = {
    "t5-small": ("t5", None),
    "Helsinki-NLP/opus-mt-de-en": ("marian", {"vocab_size": 58101, "pair": ("de", "en")}),
    "Helsinki-NLP/opus-mt-fr-en": ("marian", {"vocab_size": 59514, "pair": ("fr", "en")}),
    "facebook/nllb-200-distilled-600M": ("nllb", NLLB_CONFIG),
    SUMMARIZER: ("bart", DISTILBART_CONFIG),
}


def memory_dir() -> Path:
    return cache_root() / "bench" / "memory"


def _corpus() -> list[str]:
    return _sentences(random.Random(11), 2000, 20)


def _build_marian(target: Path, vocab_size: int, pair: tuple[str, str]) -> int:
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    from textserve.demo_families import train_sentencepiece

    vocab = {"</s>": 0, "<unk>": 1}
    for side in ("source", "target"):
        model_file = target / f"{side}.spm"
        train_sentencepiece(_corpus(), model_file, 500, unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
        pieces = spm.SentencePieceProcessor(model_file=str(model_file))
        for piece in map(pieces.id_to_piece, range(pieces.get_piece_size())):
            if piece != "<s>":  # Marian has no <s>
                vocab.setdefault(piece, len(vocab))
    while len(vocab) < vocab_size - 1:  # the real model's size; tokens no text produces
        vocab[f"<filler{len(vocab)}>"] = len(vocab)
    vocab["<pad>"] = vocab_size - 1  # last, as in OPUS-MT (CTranslate2 drops it)
    (target / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    MarianTokenizer(
        source_spm=str(target / "source.spm"),
        target_spm=str(target / "target.spm"),
        vocab=str(target / "vocab.json"),
        source_lang=pair[0],
        target_lang=pair[1],
    ).save_pretrained(str(target))
    pad = vocab_size - 1
    config = MarianConfig(
        **MARIAN_CONFIG,
        vocab_size=vocab_size,
        decoder_vocab_size=vocab_size,
        pad_token_id=pad,
        decoder_start_token_id=pad,
        forced_eos_token_id=0,
    )
    torch.manual_seed(0)
    model = MarianMTModel(config)
    with torch.no_grad():
        model.model.shared.weight[pad].zero_()
    model.eval()
    model.save_pretrained(str(target))
    return sum(p.numel() for p in model.parameters())


def _build_nllb(target: Path, config: dict) -> int:
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    from apps.common.languages import LANGUAGES
    from textserve.demo_families import train_sentencepiece

    # fairseq's layout (<s> <pad> </s> <unk> first); the converter pads the vocabulary with
    # made-up words to the model's 256206
    train_sentencepiece(
        _corpus(),
        target / "sentencepiece.bpe.model",
        500,
        model_type="bpe",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
    )
    codes = [LANGUAGES[lang].flores for lang in DETECTOR_LANGUAGES]
    NllbTokenizer.from_pretrained(str(target), additional_special_tokens=codes).save_pretrained(str(target))
    torch.manual_seed(0)
    model = M2M100ForConditionalGeneration(M2M100Config(**config))
    model.eval()
    model.save_pretrained(str(target))
    return sum(p.numel() for p in model.parameters())


def _build_bart(target: Path, config: dict) -> int:
    """distilbart's shape; a byte-level BPE BartTokenizer of the bench words, its vocab.json padded
    with filler tokens to the model's vocabulary size."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizer

    bpe = ByteLevelBPETokenizer()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe.train_from_iterator(
        _corpus(), vocab_size=1000, min_frequency=1, special_tokens=specials, show_progress=False
    )
    bpe.save_model(str(target))
    vocab = json.loads((target / "vocab.json").read_text(encoding="utf-8"))
    while len(vocab) < config["vocab_size"]:
        vocab[f"<filler{len(vocab)}>"] = len(vocab)
    (target / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    BartTokenizer.from_pretrained(str(target)).save_pretrained(str(target))
    torch.manual_seed(0)
    model = BartForConditionalGeneration(BartConfig(**config))
    model.eval()
    model.save_pretrained(str(target))
    return sum(p.numel() for p in model.parameters())


def ensure_checkpoint(name: str) -> tuple[Path, int]:
    """The random-weight checkpoint of catalog model `name` (built if missing) and its parameters."""
    family, recipe = CATALOG[name]
    if family == "t5":
        path = ensure_model()
        return path, json.loads((path / "bench_model.json").read_text())["parameters"]
    target = memory_dir() / name.replace("/", "--")
    stamp = target / "bench_model.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("build_version") == BUILD_VERSION:
        return target, json.loads(stamp.read_text())["parameters"]
    started = time.monotonic()
    target.mkdir(parents=True, exist_ok=True)
    builders = {
        "marian": lambda: _build_marian(target, **recipe),
        "nllb": lambda: _build_nllb(target, recipe),
    }
    params = builders.get(family, lambda: _build_bart(target, recipe))()
    stamp.write_text(json.dumps({"build_version": BUILD_VERSION, "parameters": params}) + "\n")
    took = time.monotonic() - started
    print(f"built {target}: {name} shape, {params / 1e6:.1f} M parameters, {took:.0f} s", flush=True)
    return target, params


def dir_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 2**20


# ------------------------------------------------------------------ the child processes


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _batch(ct2_dir: str, family: str) -> tuple[list[list[str]], list[list[str]] | None]:
    """16 inputs of 30 tokens (special and language tokens included) drawn from the model's own
    vocabulary, and the NLLB target prefix."""
    vocab_file = next(
        p
        for p in (Path(ct2_dir) / n for n in ("shared_vocabulary.json", "source_vocabulary.json"))
        if p.is_file()
    )
    vocab = json.loads(vocab_file.read_text())
    words = [t for t in vocab[10:2000] if not t.startswith("<") and not t.startswith("__")]
    rng = random.Random(3)
    head, prefix = [], None
    if family == "nllb":
        head, prefix = ["eng_Latn"], [["fra_Latn"]] * BATCH
    body = INPUT_TOKENS - len(head) - 1
    inputs = [head + [rng.choice(words) for _ in range(body)] + ["</s>"] for _ in range(BATCH)]
    return inputs, prefix


def _load_and_translate(ct2_dir: str, family: str) -> dict:
    import ctranslate2

    started = time.perf_counter()
    translator = ctranslate2.Translator(
        ct2_dir, device="cpu", compute_type="int8", inter_threads=1, intra_threads=1
    )
    load_s = time.perf_counter() - started
    loaded = _rss_mib()
    return {
        "translator": translator,
        "load_s": load_s,
        "loaded_rss": loaded,
        "batch_s": _timed_batch(translator, ct2_dir, family),
    }


def _timed_batch(translator, ct2_dir: str, family: str, use_vmap: bool = False) -> float:
    """Seconds of one greedy decoding of the measurement's batch (forced to OUTPUT_TOKENS)."""
    inputs, prefix = _batch(ct2_dir, family)
    steps = OUTPUT_TOKENS + (len(prefix[0]) if prefix else 0)
    started = time.perf_counter()
    translator.translate_batch(
        inputs,
        target_prefix=prefix,
        beam_size=1,
        max_batch_size=BATCH,
        max_decoding_length=steps,
        min_decoding_length=steps,
        use_vmap=use_vmap,
    )
    return time.perf_counter() - started


VMAP_TOKENS = 5000  # the vocabulary map of the NLLB timing: about what one pair's texts use


def vmap_dir(ct2_dir: Path) -> Path:
    """`ct2_dir`'s files (hard links) with a vocabulary map of its first VMAP_TOKENS tokens and the
    language tokens: CTranslate2's `use_vmap` then scores only those at each step."""
    target = ct2_dir.parent / f"{ct2_dir.name}-vmap"
    if not (target / "vmap.txt").is_file():
        target.mkdir(exist_ok=True)
        for path in ct2_dir.iterdir():
            if path.is_file() and not (target / path.name).exists():
                os.link(path, target / path.name)
        vocab = json.loads((ct2_dir / "shared_vocabulary.json").read_text())
        kept = vocab[:VMAP_TOKENS] + [t for t in vocab[VMAP_TOKENS:] if t.endswith("_Latn")]
        (target / "vmap.txt").write_text("\t" + " ".join(kept) + "\n", encoding="utf-8")
    return target


def _vmap_timing(ct2_dir: str, family: str) -> dict:
    """The same batch decoded without and with the vocabulary map, best of three each."""
    import ctranslate2

    translator = ctranslate2.Translator(
        ct2_dir, device="cpu", compute_type="int8", inter_threads=1, intra_threads=1
    )
    best = {}
    for use_vmap in (False, True, False, True, False, True):
        took = _timed_batch(translator, ct2_dir, family, use_vmap)
        key = "with_vmap_s" if use_vmap else "without_vmap_s"
        best[key] = round(min(best.get(key, took), took), 3)
    return best


def _detector() -> tuple[object, float]:
    from apps.translation.detection import LanguageDetector

    detector = LanguageDetector(set(DETECTOR_LANGUAGES))
    started = time.perf_counter()
    found = detector.detect(DETECT_TEXT)
    assert found is not None and found.language == "de", found
    return detector, time.perf_counter() - started


def child(kind: str, targets: list[str]) -> dict:
    """One measurement in this (fresh) process: `kind` is "model" (targets: ct2 dir, family),
    "detector" or "all" (targets: dir, family, dir, family...; the detector too)."""
    import ctranslate2  # noqa: F401 (in the base, as in a replica)

    base = _rss_mib()
    out: dict = {"base_rss_mib": round(base, 1)}
    held = []
    if kind in ("model", "all"):
        for ct2_dir, family in zip(targets[::2], targets[1::2], strict=True):
            before = _rss_mib()
            done = _load_and_translate(ct2_dir, family)
            held.append(done.pop("translator"))
            out.setdefault("models", []).append(
                {
                    "dir": ct2_dir,
                    "load_s": round(done["load_s"], 3),
                    "rss_mib": round(done["loaded_rss"] - before, 1),
                    "batch_s": round(done["batch_s"], 3),
                }
            )
    if kind == "vmap":
        out["vmap"] = _vmap_timing(*targets)
        return out
    if kind in ("detector", "all"):
        before = _rss_mib()
        detector, took = _detector()
        held.append(detector)
        out["detector"] = {"build_and_detect_s": round(took, 3), "rss_mib": round(_rss_mib() - before, 1)}
    out["rss_mib"] = round(_rss_mib() - base, 1)
    out["peak_mib"] = round(peak_rss_mib() - base, 1)
    out["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return out


def run_child(kind: str, targets: list[str]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.model_memory", "--child", kind, *targets],
        capture_output=True,
        text=True,
        env=env,
        timeout=CHILD_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} measurement failed: {done.stderr.strip().splitlines()[-3:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ the run


def measure() -> dict:
    from bench.report import machine

    rows = []
    for name, (family, _) in CATALOG.items():
        checkpoint, params = ensure_checkpoint(name)
        started = time.monotonic()
        ct2_dir = converted_model_dir(checkpoint)
        print(f"{name}: CTranslate2 int8 in {ct2_dir} ({time.monotonic() - started:.0f} s)", flush=True)
        measured = run_child("model", [str(ct2_dir), family])
        (model,) = measured["models"]
        rows.append(
            {
                "model": name,
                "family": family,
                "parameters": params,
                "int8_dir": str(ct2_dir),
                "int8_mib": round(dir_mib(ct2_dir), 1),
                "load_s": model["load_s"],
                "rss_mib": model["rss_mib"],
                "after_batch_mib": measured["rss_mib"],
                "peak_mib": measured["peak_mib"],
                "batch_s": model["batch_s"],
                "base_rss_mib": measured["base_rss_mib"],
            }
        )
    nllb = next(row for row in rows if row["family"] == "nllb")
    vmap = run_child("vmap", [str(vmap_dir(Path(nllb["int8_dir"]))), "nllb"])["vmap"]
    detector = run_child("detector", [])
    translation = [row for row in rows if row["model"] != SUMMARIZER]
    catalog = run_child("all", [value for row in translation for value in (row["int8_dir"], row["family"])])
    return {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "workload": {
            "batch": BATCH,
            "input_tokens": INPUT_TOKENS,
            "output_tokens": OUTPUT_TOKENS,
            "greedy": True,
        },
        "threads": {"inter_threads": 1, "intra_threads": 1, "compute_type": "int8"},
        "models": rows,
        "detector": {
            "languages": list(DETECTOR_LANGUAGES),
            "build_and_detect_s": detector["detector"]["build_and_detect_s"],
            "rss_mib": detector["rss_mib"],
            "peak_mib": detector["peak_mib"],
        },
        "catalog": catalog,
        "nllb_vmap": {"tokens": VMAP_TOKENS, **vmap},
    }


def table(results: dict) -> str:
    lines = [
        f"{'model':34} {'family':7} {'params M':>8} {'int8 MiB':>8} {'load s':>7} "
        f"{'RSS MiB':>8} {'peak MiB':>8}"
    ]
    for r in results["models"]:
        lines.append(
            f"{r['model']:34} {r['family']:7} {r['parameters'] / 1e6:8.1f} {r['int8_mib']:8.1f} "
            f"{r['load_s']:7.2f} {r['rss_mib']:8.1f} {r['peak_mib']:8.1f}"
        )
    d, c = results["detector"], results["catalog"]
    lines.append(
        f"{'lingua detector (en,de,fr,es)':34} {'-':7} {'-':>8} {'-':>8} "
        f"{d['build_and_detect_s']:7.2f} {d['rss_mib']:8.1f} {d['peak_mib']:8.1f}"
    )
    lines.append(
        f"{'all four models + detector':34} {'-':7} {'-':>8} {'-':>8} "
        f"{sum(m['load_s'] for m in c['models']):7.2f} {c['rss_mib']:8.1f} {c['peak_mib']:8.1f}"
    )
    return "\n".join(lines)


def summary(results: dict) -> str:
    from bench.report import machine_cpu

    largest = max(results["models"], key=lambda r: r["peak_mib"])
    c, vmap = results["catalog"], results["nllb_vmap"]
    return (
        f"catalog_rss_mib={c['rss_mib']:.0f} catalog_peak_mib={c['peak_mib']:.0f} "
        f"detector_mib={results['detector']['rss_mib']:.0f} "
        f"largest={largest['model']}:{largest['peak_mib']:.0f} "
        f"nllb_batch_s={vmap['without_vmap_s']} nllb_vmap_batch_s={vmap['with_vmap_s']} "
        f"cpu={machine_cpu(results['machine'])!r}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--child", nargs="+", metavar=("KIND", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1:])))
        return 0
    results = measure()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"model-memory-{results['date']}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(
        f"(RSS: added by loading (the last row: all it added, at the end); peak: above the "
        f"process's base after one batch of {BATCH} x "
        f"{INPUT_TOKENS} -> {OUTPUT_TOKENS} tokens; base {results['catalog']['base_rss_mib']} MiB)"
    )
    print(f"wrote {path}")
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
