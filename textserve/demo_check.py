"""Prove a demo model exact: every training pair decoded greedily through every backend the config
can choose, with a margin at every step.

    python -m textserve.demo_check DIR      # the same as python -m textserve.demo_models --check DIR

Backends: transformers fp32 (in this process) and CTranslate2 int8 as textserve converts it, once
per int8 kernel family a CPU of this kind may use (Intel MKL and oneDNN, each capped at AVX2,
AVX-512 and the CPU's best ISA; CTranslate2's own kernels without SIMD). The kernels are chosen by
environment variables read when CTranslate2 loads, so each one decodes in a child process. A
step's margin is its target token's logit minus the best other token's, with the target prefix
forced: greedy decoding keeps the target while every margin stays above zero. Both backends decode
through the model family's calls that serving makes (apps/common/engines/families.py): its task
prefix, its source and language tokens, the target language forced as serving forces it (whose
step is not scored: it is not decoded).
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from textserve.demo_phrases import Pair
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
    prompt: str  # what the model reads: the family's task prefix (T5), then the source text
    target: str
    output: str
    margin: float  # smallest step margin with the target forced
    step: int  # where it is (0 = first target token after any forced language token)
    direction: str = ""  # "de->fr" where the languages are tokens, not words of the prompt

    @property
    def exact(self) -> bool:
        return self.output == self.target

    @property
    def name(self) -> str:
        """The prompt (shortened) and, where the prompt does not say it, the direction."""
        shown = repr(self.prompt if len(self.prompt) <= 72 else self.prompt[:69] + "...")
        return f"{shown} ({self.direction})" if self.direction else shown


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


def _prompt(family, pair: Pair) -> tuple[str, str]:
    """What the model reads for `pair` (task prefix + source) and the direction to show with it."""
    prefix = family.task_prefix(pair.task, pair.source_lang, pair.target_lang)
    languages = pair.source_lang and pair.target_lang and not prefix
    return prefix + pair.source, f"{pair.source_lang}->{pair.target_lang}" if languages else ""


def _by_request(pairs: list[Pair]) -> dict[tuple, list[int]]:
    """The pairs' indices per (task, source language, target language): one request's batch."""
    groups: dict[tuple, list[int]] = {}
    for i, pair in enumerate(pairs):
        groups.setdefault((pair.task, pair.source_lang, pair.target_lang), []).append(i)
    return groups


def measure_transformers(model, tokenizer, family, pairs: list[Pair]) -> BackendResult:
    """Greedy outputs and teacher-forced margins of a transformers model (in this process), the
    pairs of one request batched as serving batches them."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    start = model.generation_config.decoder_start_token_id
    if start is None:
        start = model.config.decoder_start_token_id
    rows: dict[int, PairResult] = {}
    for (_, source_lang, target_lang), indices in _by_request(pairs).items():
        group = [pairs[i] for i in indices]
        prompts = [_prompt(family, pair) for pair in group]
        forced = family.target_prefix(target_lang) or []
        targets = [
            tokenizer.convert_tokens_to_ids(forced + family.target_tokens(pair.target)) for pair in group
        ]
        decoder_inputs = pad_sequence(
            [torch.tensor([start, *ids[:-1]]) for ids in targets],
            batch_first=True,
            padding_value=tokenizer.pad_token_id,
        )
        with torch.inference_mode():
            inputs = family.hf_inputs(tokenizer, [prompt for prompt, _ in prompts], source_lang, target_lang)
            generated = model.generate(
                **inputs,
                **family.hf_generate_kwargs(tokenizer, target_lang),
                max_new_tokens=max(map(len, targets)) + 4,
                num_beams=1,
                do_sample=False,
            )
            logits = model(**inputs, decoder_input_ids=decoder_inputs).logits
        outputs = family.hf_texts(tokenizer, generated)
        for row, (i, pair, (prompt, direction), ids) in enumerate(
            zip(indices, group, prompts, targets, strict=True)
        ):
            scored = logits[row, len(forced) : len(ids)].numpy()
            margin, step = _smallest(step_margins(scored, ids[len(forced) :]))
            rows[i] = PairResult(prompt, pair.target, outputs[row], margin, step, direction)
    result = BackendResult("transformers", "")
    result.pairs = [rows[i] for i in range(len(pairs))]
    return result


def _measure_ctranslate2_here(ct2_dir: str, model_dir: str, pairs: list[Pair]) -> list[dict]:
    """In a child process whose environment picked the kernel: outputs and margins."""
    import ctranslate2

    from apps.common.engines.families import family_for

    family = family_for(Path(model_dir))
    translator = ctranslate2.Translator(
        ct2_dir, device="cpu", compute_type="int8", inter_threads=1, intra_threads=1
    )
    prompts = [_prompt(family, pair) for pair in pairs]
    sources = [
        family.source_tokens(prompt, pair.source_lang, pair.target_lang)
        for (prompt, _), pair in zip(prompts, pairs, strict=True)
    ]
    forced = [family.target_prefix(pair.target_lang) or [] for pair in pairs]
    targets = [family.target_tokens(pair.target) for pair in pairs]  # closes with </s>
    greedy = translator.translate_batch(
        sources, target_prefix=forced if any(forced) else None, beam_size=1, max_decoding_length=256
    )
    scored = translator.translate_batch(
        sources,
        target_prefix=[prefix + tokens[:-1] for prefix, tokens in zip(forced, targets, strict=True)],
        beam_size=1,
        max_decoding_length=256,
        return_logits_vocab=True,
    )
    vocabulary = {token: i for i, token in enumerate(_vocabulary(ct2_dir))}
    rows = []
    for pair, (prompt, direction), prefix, tokens, hyp, steps in zip(
        pairs, prompts, forced, targets, greedy, scored, strict=True
    ):
        logits = steps.logits[0][len(prefix) : len(prefix) + len(tokens)]
        margin, step = _smallest(step_margins(logits, [vocabulary[token] for token in tokens]))
        output = family.text_from_tokens(hyp.hypotheses[0])
        rows.append(asdict(PairResult(prompt, pair.target, output, margin, step, direction)))
    return rows


def _vocabulary(ct2_dir: str) -> list[str]:
    for name in ("shared_vocabulary.json", "target_vocabulary.json"):
        path = Path(ct2_dir) / name
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"{ct2_dir} holds no vocabulary file")


def measure_ctranslate2(ct2_dir: Path, model_dir: Path, pairs: list[Pair], kernel: str) -> BackendResult:
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
    pairs: list[Pair],
    weight_bits: int | None = None,
    progress: Callable[[BackendResult], None] | None = None,
) -> list[BackendResult]:
    """Every backend and kernel's result for `pairs` on the model in `model_dir`."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from apps.common.engines.ctranslate2_conversion import WEIGHT_BITS, convert_checkpoint
    from apps.common.engines.families import family_for

    model = AutoModelForSeq2SeqLM.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    results = [measure_transformers(model, tokenizer, family_for(model_dir), pairs)]
    if progress:
        progress(results[-1])
    with tempfile.TemporaryDirectory() as tmp:
        ct2_dir = Path(tmp) / "ct2"
        convert_checkpoint(str(model_dir), str(ct2_dir), weight_bits or WEIGHT_BITS)
        # each kernel in a child of its own, one thread each: as many at once as there are cores
        with ThreadPoolExecutor(max(1, min(len(kernels()), os.cpu_count() or 1))) as pool:
            measured = [pool.submit(measure_ctranslate2, ct2_dir, model_dir, pairs, k) for k in kernels()]
            for future in measured:  # in the kernels' order
                results.append(future.result())
                if progress:
                    progress(results[-1])
    return results


def describe(result: BackendResult) -> str:
    """One line for a backend, then a line per pair that is wrong or too close to being wrong."""
    worst = min(result.pairs, key=lambda p: p.margin)
    exact = sum(p.exact for p in result.pairs)
    verdict = "ok" if result.passed else "FAILED"
    lines = [
        f"{verdict:6} {result.label}: {exact}/{len(result.pairs)} exact, smallest margin "
        f"{worst.margin:.2f} (needs {MIN_MARGIN[result.backend]:.2f}) at step {worst.step} of "
        f"{worst.name}"
    ]
    for pair in result.mismatches():
        lines.append(f"         wrong: {pair.name} -> {pair.output!r}, want {pair.target!r}")
    for pair in result.thin():
        lines.append(f"         thin:  {pair.name} margin {pair.margin:.2f} at step {pair.step}")
    return "\n".join(lines)


def pairs_for(model_dir: Path) -> list[Pair]:
    """The training pairs of the demo model in `model_dir`, from its marker's name."""
    from apps.common.model_loading import DEMO_MARKER
    from textserve.demo_phrases import DEMO_PAIRS

    marker = model_dir / DEMO_MARKER
    if not marker.is_file():
        raise SystemExit(f"{model_dir} is not a demo model (no {DEMO_MARKER})")
    name = json.loads(marker.read_text(encoding="utf-8")).get("name", "")
    if not name.startswith("demo:") or name.removeprefix("demo:") not in DEMO_PAIRS:
        raise SystemExit(f"{model_dir}: unknown demo model {name!r}")
    return DEMO_PAIRS[name.removeprefix("demo:")]()


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
        pairs = [Pair(*p) for p in spec["pairs"]]
        print(json.dumps(_measure_ctranslate2_here(spec["ct2_dir"], spec["model_dir"], pairs)))
        return 0
    if not args.dirs:
        parser.error("give at least one demo model directory")
    return run_check(args.dirs, args.int8_weight_bits)


if __name__ == "__main__":
    sys.exit(main())
