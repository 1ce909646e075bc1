"""Prove a demo model exact: every training pair decoded greedily through every backend the config
can choose, with a margin at every step.

    python -m textserve.demo_check DIR      # the same as python -m textserve.demo_models --check DIR

Backends: transformers fp32 (in this process) and CTranslate2 int8 as textserve converts it, once
per int8 kernel family a CPU of this kind may use (Intel MKL and oneDNN, each capped at AVX2,
AVX-512 and the CPU's best ISA; CTranslate2's own kernels without SIMD). The kernels are chosen by
environment variables read when CTranslate2 loads, so each one decodes in a child process. A
step's margin is its target token's logit minus the best other token's, with the target prefix
forced: greedy decoding keeps the target while every margin stays above zero.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textserve.machine import cpu_line, describe_cpu

# Smallest margin a step may have, per backend, for a model to count as exact on every machine.
# What moves a margin between machines, measured on demo models (docs/decisions.md): across the
# seven int8 kernels below a pair's smallest margin moved by up to 0.26 (7-bit weights: the same
# integer products, but activations quantized from floats rounded differently); across torch's
# CPU kernels (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS) fp32 margins moved by < 1e-4.
MIN_MARGIN = {"transformers": 1.0, "ctranslate2": 1.5}

# name -> (environment, what it stands for). ONEDNN_MAX_CPU_ISA / MKL_ENABLE_INSTRUCTIONS cap the
# GEMM libraries' ISA, so a VNNI CPU also runs what an AVX2-only one does.
X86_KERNELS: dict[str, tuple[dict[str, str], str]] = {
    "default": ({}, "CTranslate2's own choice on this CPU"),
    "mkl-avx2": ({"CT2_USE_MKL": "1", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}, "Intel without AVX-512"),
    "mkl-avx512": ({"CT2_USE_MKL": "1", "MKL_ENABLE_INSTRUCTIONS": "AVX512"}, "Intel AVX-512, no VNNI"),
    "onednn-avx2": ({"CT2_USE_MKL": "0", "ONEDNN_MAX_CPU_ISA": "AVX2"}, "AMD Zen 2/3 (AVX2)"),
    "onednn-avx512": (
        {"CT2_USE_MKL": "0", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
        "AVX-512 without VNNI, oneDNN",
    ),
    "onednn-best": ({"CT2_USE_MKL": "0"}, "AMD Zen 4/5 (AVX-512 VNNI) and the CPU's best, oneDNN"),
    "generic": ({"CT2_FORCE_CPU_ISA": "GENERIC"}, "CTranslate2's kernels without SIMD"),
}


@dataclass
class PairResult:
    prompt: str
    target: str
    output: str
    margin: float  # smallest step margin with the target forced
    step: int  # where it is (0 = first target token)

    @property
    def exact(self) -> bool:
        return self.output == self.target


@dataclass
class BackendResult:
    backend: str  # transformers | ctranslate2
    kernel: str  # "" for transformers
    pairs: list[PairResult] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.backend} ({self.kernel})" if self.kernel else f"{self.backend} (fp32)"

    @property
    def min_margin(self) -> float:
        return min(p.margin for p in self.pairs)

    def mismatches(self) -> list[PairResult]:
        return [p for p in self.pairs if not p.exact]

    def thin(self) -> list[PairResult]:
        return [p for p in self.pairs if p.exact and p.margin < MIN_MARGIN[self.backend]]

    @property
    def passed(self) -> bool:
        return not self.mismatches() and not self.thin()


def kernels() -> dict[str, tuple[dict[str, str], str]]:
    if platform.machine() in ("x86_64", "AMD64"):
        return X86_KERNELS
    return {"default": ({}, "CTranslate2's own choice on this CPU")}


def step_margins(logits, targets) -> list[float]:
    """Per step: logit of the target token minus the best finite other logit."""
    import numpy as np

    margins = []
    for row, target in zip(logits, targets, strict=True):
        row = np.asarray(row, dtype=np.float64)
        finite = np.isfinite(row) & (np.abs(row) < 1e30)  # padded vocabulary entries are -inf/-max
        others = np.where(finite, row, -np.inf)
        others[target] = -np.inf
        margins.append(float(row[target] - others.max()))
    return margins


def _smallest(margins: list[float]) -> tuple[float, int]:
    step = min(range(len(margins)), key=margins.__getitem__)
    return margins[step], step


def measure_transformers(model, tokenizer, pairs: list[tuple[str, str]]) -> BackendResult:
    """Greedy outputs and teacher-forced margins of a transformers model (in this process)."""
    import torch

    prompts = [p for p, _ in pairs]
    targets = [t for _, t in pairs]
    with torch.inference_mode():
        enc = tokenizer(prompts, return_tensors="pt", padding=True)
        labels = tokenizer(targets, return_tensors="pt", padding=True).input_ids
        longest = int((labels != tokenizer.pad_token_id).sum(dim=1).max()) + 4
        generated = model.generate(**enc, max_new_tokens=longest, num_beams=1, do_sample=False)
        logits = model(**enc, labels=labels).logits
    outputs = tokenizer.batch_decode(generated, skip_special_tokens=True)
    result = BackendResult("transformers", "")
    for i, (prompt, target) in enumerate(pairs):
        length = int((labels[i] != tokenizer.pad_token_id).sum())
        ids = labels[i, :length].tolist()
        margin, step = _smallest(step_margins(logits[i, :length].numpy(), ids))
        result.pairs.append(PairResult(prompt, target, outputs[i].strip(), margin, step))
    return result


def _measure_ctranslate2_here(ct2_dir: str, model_dir: str, pairs: list[tuple[str, str]]) -> list[dict]:
    """In a child process whose environment picked the kernel: outputs and margins."""
    import ctranslate2

    from apps.common.engines.tokenizer_files import TokenizerJson

    tokenizer = TokenizerJson(Path(model_dir))
    translator = ctranslate2.Translator(
        ct2_dir, device="cpu", compute_type="int8", inter_threads=1, intra_threads=1
    )
    sources = [tokenizer.tokens(prompt) for prompt, _ in pairs]
    targets = [tokenizer.tokens(target) for _, target in pairs]  # closes with </s>
    greedy = translator.translate_batch(sources, beam_size=1, max_decoding_length=256)
    forced = translator.translate_batch(
        sources,
        target_prefix=[t[:-1] for t in targets],
        beam_size=1,
        max_decoding_length=256,
        return_logits_vocab=True,
    )
    vocabulary = {token: i for i, token in enumerate(_vocabulary(ct2_dir))}
    rows = []
    for (prompt, target), tokens, hyp, scored in zip(pairs, targets, greedy, forced, strict=True):
        steps = scored.logits[0][: len(tokens)]
        ids = [vocabulary[token] for token in tokens]
        margin, step = _smallest(step_margins(steps, ids))
        output = tokenizer.text_from_tokens(hyp.hypotheses[0]).strip()
        rows.append({"prompt": prompt, "target": target, "output": output, "margin": margin, "step": step})
    return rows


def _vocabulary(ct2_dir: str) -> list[str]:
    for name in ("shared_vocabulary.json", "target_vocabulary.json"):
        path = Path(ct2_dir) / name
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"{ct2_dir} holds no vocabulary file")


def measure_ctranslate2(
    ct2_dir: Path, model_dir: Path, pairs: list[tuple[str, str]], kernel: str
) -> BackendResult:
    """Decode in a child process with `kernel`'s environment."""
    env_vars, _ = kernels()[kernel]
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as spec:
        json.dump({"ct2_dir": str(ct2_dir), "model_dir": str(model_dir), "pairs": pairs}, spec)
        spec.flush()
        done = subprocess.run(
            [sys.executable, "-m", "textserve.demo_check", "--child", spec.name],
            env={**os.environ, **env_vars},
            capture_output=True,
            text=True,
            timeout=600,
        )
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise RuntimeError(f"CTranslate2 with kernel {kernel} failed: {tail}")
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    return BackendResult("ctranslate2", kernel, [PairResult(**row) for row in rows])


def check_model(
    model_dir: Path,
    pairs: list[tuple[str, str]],
    weight_bits: int | None = None,
    progress: Callable[[BackendResult], None] | None = None,
) -> list[BackendResult]:
    """Every backend and kernel's result for `pairs` on the model in `model_dir`."""
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    from apps.common.engines.ctranslate2_conversion import WEIGHT_BITS, convert_checkpoint

    model = T5ForConditionalGeneration.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    results = [measure_transformers(model, tokenizer, pairs)]
    if progress:
        progress(results[-1])
    with tempfile.TemporaryDirectory() as tmp:
        ct2_dir = Path(tmp) / "ct2"
        convert_checkpoint(str(model_dir), str(ct2_dir), weight_bits or WEIGHT_BITS)
        for kernel in kernels():
            results.append(measure_ctranslate2(ct2_dir, model_dir, pairs, kernel))
            if progress:
                progress(results[-1])
    return results


def describe(result: BackendResult) -> str:
    """One line for a backend, then a line per pair that is wrong or too close to being wrong."""
    worst = min(result.pairs, key=lambda p: p.margin)

    def short(text: str) -> str:
        return repr(text if len(text) <= 72 else text[:69] + "...")

    exact = sum(p.exact for p in result.pairs)
    verdict = "ok" if result.passed else "FAILED"
    lines = [
        f"{verdict:6} {result.label}: {exact}/{len(result.pairs)} exact, smallest margin "
        f"{worst.margin:.2f} (needs {MIN_MARGIN[result.backend]:.2f}) at step {worst.step} of "
        f"{short(worst.prompt)}"
    ]
    for pair in result.mismatches():
        lines.append(f"         wrong: {short(pair.prompt)} -> {pair.output!r}, want {pair.target!r}")
    for pair in result.thin():
        lines.append(f"         thin:  {short(pair.prompt)} margin {pair.margin:.2f} at step {pair.step}")
    return "\n".join(lines)


def pairs_for(model_dir: Path) -> list[tuple[str, str]]:
    """The training pairs of the demo model in `model_dir`, from its marker's name."""
    from apps.common.model_loading import DEMO_MARKER
    from textserve.demo_phrases import summarization_pairs, translation_pairs

    marker = model_dir / DEMO_MARKER
    if not marker.is_file():
        raise SystemExit(f"{model_dir} is not a demo model (no {DEMO_MARKER})")
    name = json.loads(marker.read_text(encoding="utf-8")).get("name", "")
    known = {"demo:demo-translation": translation_pairs, "demo:demo-summarization": summarization_pairs}
    if name not in known:
        raise SystemExit(f"{model_dir}: unknown demo model {name!r}")
    return known[name]()


def run_check(model_dirs: list[Path], weight_bits: int | None = None) -> int:
    """Print each backend's verdict for each directory; 0 when all pass, else 1."""
    print(f"CPU: {cpu_line(describe_cpu())}")
    failed = False
    for model_dir in model_dirs:
        print(f"{model_dir}:")
        for result in check_model(model_dir, pairs_for(model_dir), weight_bits):
            print("  " + describe(result).replace("\n", "\n  "), flush=True)
            failed |= not result.passed
    return 1 if failed else 0


def add_weight_bits_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--int8-weight-bits",
        type=int,
        choices=[7, 8],
        default=None,
        help="with the check: quantize int8 weights to this many bits (default: textserve's 7; "
        "8: CTranslate2's own converter, which saturates on CPUs without VNNI)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path, help="demo model directories")
    add_weight_bits_option(parser)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(Path(args.child).read_text(encoding="utf-8"))
        pairs = [tuple(p) for p in spec["pairs"]]
        print(json.dumps(_measure_ctranslate2_here(spec["ct2_dir"], spec["model_dir"], pairs)))
        return 0
    if not args.dirs:
        parser.error("give at least one demo model directory")
    return run_check(args.dirs, args.int8_weight_bits)


if __name__ == "__main__":
    sys.exit(main())
