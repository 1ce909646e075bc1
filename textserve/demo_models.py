"""Build the demo models: tiny T5s trained locally, in seconds, on the fixed phrase set.

    python -m textserve.demo_models --out .models

writes `.models/demo-translation` and `.models/demo-summarization`, each a normal transformers
model directory (config, weights, tokenizer) plus a `textserve_demo.json` marker. The model
loader sees the marker and announces demo mode in the replica logs and in every response's
`model` field. The build checks that greedy decoding reproduces every training target exactly
and fails otherwise, so tests can assert exact outputs.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from apps.common.model_loading import DEMO_MARKER
from textserve.demo_phrases import summarization_pairs, translation_pairs

logger = logging.getLogger(__name__)


BUILD_VERSION = 1  # bump to rebuild existing demo directories after changing the recipe

DEMO_SPECS = {
    # name: (pairs, training steps)
    "demo-translation": (translation_pairs, 400),
    "demo-summarization": (summarization_pairs, 300),
}


def train_t5_tokenizer(texts: list[str], out_dir: Path, vocab_size: int = 400, extra_ids: int = 0):
    """A sentencepiece unigram T5 tokenizer trained on `texts`, saved into `out_dir` (with its
    tokenizer.json); `vocab_size` is an upper bound (a small corpus yields fewer pieces)."""
    import sentencepiece as spm
    from transformers import T5Tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(texts), encoding="utf-8")
        prefix = Path(tmp) / "spiece"
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(prefix),
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            model_type="unigram",
            character_coverage=1.0,
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            minloglevel=2,
        )
        spm_dir = Path(tmp) / "spm"
        spm_dir.mkdir()
        (spm_dir / "spiece.model").write_bytes(prefix.with_suffix(".model").read_bytes())
        tokenizer = T5Tokenizer.from_pretrained(str(spm_dir), extra_ids=extra_ids, legacy=False)
    tokenizer.save_pretrained(str(out_dir))
    return tokenizer


def _greedy_outputs(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[str]:
    import torch

    with torch.inference_mode():
        enc = tokenizer(prompts, return_tensors="pt", padding=True)
        out = model.generate(**enc, max_new_tokens=max_new_tokens, num_beams=1, do_sample=False)
    return tokenizer.batch_decode(out, skip_special_tokens=True)


def build_demo_model(name: str, out_dir: Path) -> Path:
    """Train one demo model into out_dir/name; return its directory."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    pairs_fn, steps = DEMO_SPECS[name]
    pairs = pairs_fn()
    target = out_dir / name
    target.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    torch.manual_seed(0)
    tokenizer = train_t5_tokenizer([p for p, _ in pairs] + [t for _, t in pairs], target)
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
    prompts = [p for p, _ in pairs]
    targets = [t for _, t in pairs]
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    labels = tokenizer(targets, return_tensors="pt", padding=True).input_ids
    labels[labels == tokenizer.pad_token_id] = -100
    max_target = int((labels != -100).sum(dim=1).max()) + 4

    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(1, 4 * steps + 1):
        loss = model(**enc, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % steps == 0:  # check exactness every `steps` steps, stop as soon as it holds
            model.eval()
            if _greedy_outputs(model, tokenizer, prompts, max_target) == targets:
                break
            model.train()
    else:
        raise RuntimeError(f"demo model {name!r} did not learn its phrase set (loss {loss.item():.4f})")

    model.eval()
    model.save_pretrained(str(target))
    marker = {
        "name": f"demo:{name}",
        "build_version": BUILD_VERSION,
        "note": "tiny T5 trained on textserve's fixed demo phrase set; not a real model",
    }
    (target / DEMO_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    logger.info(
        "built %s in %.1f s (%d steps, loss %.5f)", target, time.monotonic() - started, step, loss.item()
    )
    return target


def is_current(model_dir: Path) -> bool:
    marker = model_dir / DEMO_MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("build_version") == BUILD_VERSION
    except (OSError, ValueError):
        return False


def ensure_demo_models(out_dir: Path, force: bool = False) -> dict[str, Path]:
    """Build whichever demo models are missing or stale; return {name: directory}."""
    out_dir = Path(out_dir).resolve()
    built = {}
    for name in DEMO_SPECS:
        target = out_dir / name
        if force or not is_current(target):
            build_demo_model(name, out_dir)
        built[name] = target
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".models", help="directory to write the demo models into")
    parser.add_argument("--force", action="store_true", help="rebuild even if they are current")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name, path in ensure_demo_models(Path(args.out), force=args.force).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
