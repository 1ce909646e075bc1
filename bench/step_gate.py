"""A decoding loop we own against CTranslate2 int8: the gate of a step-loop backend (bench/README.md,
"Step-loop gate"). T5 encoded, then decoded one step at a time over a batch whose caches we hold.

    python -m bench.step_gate [--batches 16,32] [--candidates ort-int8,torch-int8]
    python -m bench.step_gate --check .models/demo-translation   # outputs equal CTranslate2's

Candidates: ONNX Runtime (the `bench` extra: the encoder and one decoder step exported, int8
dynamic quantization) and PyTorch eager (int8 dynamic quantization of the Linear layers). The
step takes every layer's self-attention cache at a fixed length, a sequence's later positions
masked in its bias row, so sequences at different steps can share a step: what joining at step
boundaries needs. T5 only (relative position bias, no biases in its Linear layers).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def bias_table(attention, length: int, bidirectional: bool) -> torch.Tensor:
    """[H, length, length]: the relative position bias of query i over key j."""
    q = torch.arange(length)[:, None]
    k = torch.arange(length)[None, :]
    buckets = attention._relative_position_bucket(
        k - q,
        bidirectional=bidirectional,
        num_buckets=attention.relative_attention_num_buckets,
        max_distance=attention.relative_attention_max_distance,
    )
    return attention.relative_attention_bias(buckets).permute(2, 0, 1).contiguous()


def heads(x: torch.Tensor, n: int) -> torch.Tensor:  # [B, T, H*D] -> [B, H, T, D]
    b, t, _ = x.shape
    return x.view(b, t, n, -1).transpose(1, 2)


def feed_forward(ff, x):
    return x + ff.DenseReluDense(ff.layer_norm(x))


class Encoder(nn.Module):
    """ids [B,S], bias [B,H,S,S] (relative bias + padding mask) -> every layer's cross k and v."""

    def __init__(self, model):
        super().__init__()
        self.model, self.n = model, model.config.num_heads

    def forward(self, ids, bias):
        enc, x = self.model.encoder, self.model.shared(ids)
        for block in enc.block:
            sa = block.layer[0]
            h = sa.layer_norm(x)
            att = sa.SelfAttention
            q, k, v = heads(att.q(h), self.n), heads(att.k(h), self.n), heads(att.v(h), self.n)
            w = torch.softmax(q @ k.transpose(-1, -2) + bias, dim=-1)
            x = x + att.o((w @ v).transpose(1, 2).reshape(x.shape[0], x.shape[1], -1))
            x = feed_forward(block.layer[1], x)
        x = enc.final_layer_norm(x)
        out = []
        for block in self.model.decoder.block:
            att = block.layer[1].EncDecAttention
            out += [heads(att.k(x), self.n), heads(att.v(x), self.n)]
        return tuple(out)


class Step(nn.Module):
    """ids [B], self_bias [B,H,1,T], cross_bias [B,1,1,S], per layer: self k, v [B,H,T,D] (the
    new token's at its position is added inside via `at` one-hot [B,1,T,1]), cross k, v
    [B,H,S,D] -> next ids [B], per layer the new k, v [B,H,1,D]."""

    def __init__(self, model):
        super().__init__()
        self.model, self.n = model, model.config.num_heads
        self.tied = getattr(model.config, "scale_decoder_outputs", model.config.tie_word_embeddings)
        self.layers = len(model.decoder.block)

    def forward(self, ids, cur_bias, self_bias, cross_bias, *caches):
        dec, x = self.model.decoder, self.model.shared(ids)[:, None, :]
        new = []
        for i, block in enumerate(dec.block):
            sk, sv, ck, cv = caches[4 * i : 4 * i + 4]
            sa = block.layer[0]
            h = sa.layer_norm(x)
            att = sa.SelfAttention
            q, k, v = heads(att.q(h), self.n), heads(att.k(h), self.n), heads(att.v(h), self.n)
            # the cache's positions (the new token's not yet in it) and the new token apart: no
            # copy of the whole cache per step
            own = (q * k).sum(-1, keepdim=True) + cur_bias
            scores = torch.cat([q @ sk.transpose(-1, -2) + self_bias, own], -1)
            w = torch.softmax(scores, dim=-1)
            t = sk.shape[2]
            o = w[..., :t] @ sv + w[..., t:] * v
            x = x + att.o(o.transpose(1, 2).reshape(x.shape[0], 1, -1))
            ca = block.layer[1]
            h = ca.layer_norm(x)
            att = ca.EncDecAttention
            q = heads(att.q(h), self.n)
            w = torch.softmax(q @ ck.transpose(-1, -2) + cross_bias, dim=-1)
            x = x + att.o((w @ cv).transpose(1, 2).reshape(x.shape[0], 1, -1))
            x = feed_forward(block.layer[2], x)
            new += [k, v]
        x = dec.final_layer_norm(x)
        if self.tied:
            x = x * (self.model.config.d_model**-0.5)
        logits = self.model.lm_head(x)[:, 0]
        return (logits.argmax(-1), *new)


class Loop:
    """Greedy decoding of a batch with our own step loop, on `run_encoder` / `run_step`."""

    def __init__(self, model, run_encoder, run_step, max_len: int, max_src: int):
        cfg = model.config
        self.cfg, self.run_encoder, self.run_step = cfg, run_encoder, run_step
        self.T, self.S = max_len, max_src
        with torch.no_grad():
            self.enc_table = bias_table(model.encoder.block[0].layer[0].SelfAttention, max_src, True).numpy()
            self.dec_table = bias_table(model.decoder.block[0].layer[0].SelfAttention, max_len, False).numpy()
        self.start = cfg.decoder_start_token_id
        self.eos = cfg.eos_token_id

    def generate(self, batch: list[list[int]], min_len: int, max_len: int) -> list[list[int]]:
        B, H, D = len(batch), self.cfg.num_heads, self.cfg.d_kv
        S = max(len(ids) for ids in batch)
        ids = np.zeros((B, S), dtype=np.int64)
        pad = np.full((B, 1, 1, S), -1e9, dtype=np.float32)
        for b, src in enumerate(batch):
            ids[b, : len(src)] = src
            pad[b, 0, 0, : len(src)] = 0
        enc_bias = (self.enc_table[None, :, :S, :S] + pad).astype(np.float32)
        cross = self.run_encoder(ids, enc_bias)
        T = max_len
        caches = []
        for layer in range(len(cross) // 2):
            caches += [
                np.zeros((B, H, T, D), np.float32),
                np.zeros((B, H, T, D), np.float32),
                cross[2 * layer],
                cross[2 * layer + 1],
            ]
        tokens = np.full(B, self.start, dtype=np.int64)
        out = [[] for _ in range(B)]
        done = np.zeros(B, bool)
        for t in range(max_len):
            row = self.dec_table[None, :, t : t + 1, :T]
            cur = np.ascontiguousarray(np.broadcast_to(row[..., t : t + 1], (B, H, 1, 1)))
            earlier = np.arange(T)[None, None, None, :] < t  # the cache's positions so far
            self_bias = np.broadcast_to(np.where(earlier, row, -1e9), (B, H, 1, T)).astype(np.float32)
            result = self.run_step(tokens, cur, self_bias, pad, caches)
            nxt, new = result[0], result[1:]
            for layer in range(len(new) // 2):
                caches[4 * layer][:, :, t : t + 1] = new[2 * layer]
                caches[4 * layer + 1][:, :, t : t + 1] = new[2 * layer + 1]
            for b in range(B):
                if not done[b]:
                    out[b].append(int(nxt[b]))
                    if nxt[b] == self.eos and t + 1 >= min_len:
                        done[b] = True
            if done.all():
                break
            tokens = nxt.astype(np.int64)
        return [o[:-1] if o and o[-1] == self.eos else o for o in out]


def export(model, workdir: Path, quantize: bool) -> tuple:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    cfg = model.config
    B, S, T, H, D = 2, 5, 7, cfg.num_heads, cfg.d_kv
    enc, step = Encoder(model).eval(), Step(model).eval()
    L = len(model.decoder.block)
    with torch.no_grad():
        torch.onnx.export(
            enc,
            (torch.zeros(B, S, dtype=torch.long), torch.zeros(B, H, S, S)),
            workdir / "enc.onnx",
            input_names=["ids", "bias"],
            output_names=[f"c{i}" for i in range(2 * L)],
            dynamic_axes={
                "ids": {0: "b", 1: "s"},
                "bias": {0: "b", 2: "s", 3: "s"},
                **{f"c{i}": {0: "b", 2: "s"} for i in range(2 * L)},
            },
            opset_version=17,
            dynamo=False,
        )
        caches = []
        for _ in range(L):
            caches += [torch.zeros(B, H, T, D), torch.zeros(B, H, T, D)]
            caches += [torch.zeros(B, H, S, D), torch.zeros(B, H, S, D)]
        names = [f"{kind}{i}" for i in range(L) for kind in ("sk", "sv", "ck", "cv")]
        axes = {n: ({0: "b", 2: "t"} if n[0] == "s" else {0: "b", 2: "s"}) for n in names}
        torch.onnx.export(
            step,
            (
                torch.zeros(B, dtype=torch.long),
                torch.zeros(B, H, 1, 1),
                torch.zeros(B, H, 1, T),
                torch.zeros(B, 1, 1, S),
                *caches,
            ),
            workdir / "step.onnx",
            input_names=["ids", "cur_bias", "self_bias", "cross_bias", *names],
            output_names=["next", *[f"n{i}" for i in range(2 * L)]],
            dynamic_axes={
                "ids": {0: "b"},
                "cur_bias": {0: "b"},
                "self_bias": {0: "b", 3: "t"},
                "cross_bias": {0: "b", 3: "s"},
                "next": {0: "b"},
                **axes,
                **{f"n{i}": {0: "b"} for i in range(2 * L)},
            },
            opset_version=17,
            dynamo=False,
        )
    paths = [workdir / "enc.onnx", workdir / "step.onnx"]
    if quantize:
        q = []
        for p in paths:
            out = p.with_suffix(".int8.onnx")
            quantize_dynamic(str(p), str(out), weight_type=QuantType.QInt8, per_channel=True)
            q.append(out)
        paths = q
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    enc_s = ort.InferenceSession(str(paths[0]), opts, providers=["CPUExecutionProvider"])
    step_s = ort.InferenceSession(str(paths[1]), opts, providers=["CPUExecutionProvider"])
    names = [f"{kind}{i}" for i in range(L) for kind in ("sk", "sv", "ck", "cv")]

    def run_encoder(ids, bias):
        return enc_s.run(None, {"ids": ids, "bias": bias})

    def run_step(tokens, cur_bias, self_bias, cross_bias, caches):
        feeds = {"ids": tokens, "cur_bias": cur_bias, "self_bias": self_bias, "cross_bias": cross_bias}
        feeds.update(zip(names, caches, strict=True))
        return step_s.run(None, feeds)

    return run_encoder, run_step


def torch_runners(model, quantized: bool = True):
    qmodel = model
    if quantized:
        qmodel = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    enc, step = Encoder(qmodel).eval(), Step(qmodel).eval()

    def run_encoder(ids, bias):
        with torch.inference_mode():
            return [t.numpy() for t in enc(torch.from_numpy(ids), torch.from_numpy(bias))]

    def run_step(tokens, cur_bias, self_bias, cross_bias, caches):
        with torch.inference_mode():
            out = step(
                torch.from_numpy(tokens),
                torch.from_numpy(cur_bias),
                torch.from_numpy(self_bias),
                torch.from_numpy(cross_bias),
                *[torch.from_numpy(c) for c in caches],
            )
            return [t.numpy() for t in out]

    return run_encoder, run_step


def runners(model, name: str, workdir: Path) -> tuple:
    """(run_encoder, run_step) of candidate `name`: ort-int8, ort-fp32, torch-int8, torch-fp32."""
    if name.startswith("ort-"):
        return export(model, workdir, quantize=name == "ort-int8")
    return torch_runners(model, quantized=name == "torch-int8")


def timed(fn, reps: int) -> float:
    fn()  # warm
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check(model_dir: str, candidates: list[str]) -> None:
    """Whether each candidate's greedy outputs equal CTranslate2 int8's and the demo answers on a
    demo T5's phrases (textserve.demo_phrases), counted."""
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    from apps.common.engines import GenerationParams, load_engine
    from textserve.demo_phrases import TRANSLATION_PREFIXES, TRANSLATIONS

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = T5ForConditionalGeneration.from_pretrained(model_dir).eval()
    engine = load_engine(model_dir, "ctranslate2", "cpu")
    prompts, expected = [], []
    for english, by_lang in TRANSLATIONS.items():
        for lang, name in TRANSLATION_PREFIXES.items():
            prompts.append(f"translate English to {name}: {english}")
            expected.append(by_lang[lang])
    params = GenerationParams(max_new_tokens=64)
    ct2 = engine.generate(prompts, params)
    batch = tokenizer(prompts).input_ids
    with tempfile.TemporaryDirectory() as tmp:
        for name in candidates:
            enc, step = runners(model, name, Path(tmp))
            loop = Loop(model, enc, step, 64, max(len(x) for x in batch))
            ours = tokenizer.batch_decode(loop.generate(batch, 0, 64), skip_special_tokens=True)
            same_ct2 = sum(a == b for a, b in zip(ours, ct2, strict=True))
            same_expected = sum(a == b for a, b in zip(ours, expected, strict=True))
            total = len(prompts)
            print(
                f"{name}: equal to ct2 int8 {same_ct2}/{total}, to the demo answers {same_expected}/{total}"
            )


def main():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)  # as a replica runs: one thread, as CTranslate2's engine here
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    from apps.common.engines import GenerationParams, load_engine
    from bench.models import ensure_model, workloads
    from bench.raw import PREFIX

    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", default="16,32")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--candidates", default="ort-int8,torch-int8")
    parser.add_argument("--check", metavar="DEMO_MODEL_DIR")
    args = parser.parse_args()
    if args.check:
        check(args.check, args.candidates.split(","))
        return
    path = ensure_model()
    load = workloads(path)["translate"]
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = T5ForConditionalGeneration.from_pretrained(str(path)).eval()
    engine = load_engine(str(path), "ctranslate2", "cpu")
    n_out = load.output_tokens
    params = GenerationParams(max_new_tokens=n_out, min_new_tokens=n_out)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        made = {name: runners(model, name, work) for name in args.candidates.split(",")}
        for B in [int(b) for b in args.batches.split(",")]:
            texts = [PREFIX["translate"] + load.texts[i % len(load.texts)] for i in range(B)]
            batch = tokenizer(texts).input_ids
            row = {"ct2-int8": B / timed(lambda texts=texts: engine.generate(texts, params), args.reps)}
            for name, (enc, step) in made.items():
                loop = Loop(model, enc, step, n_out, max(len(x) for x in batch))
                row[name] = B / timed(
                    lambda loop=loop, batch=batch: loop.generate(batch, n_out, n_out), args.reps
                )
            print(
                B,
                {k: round(v, 1) for k, v in row.items()},
                {k: round(v / row["ct2-int8"], 2) for k, v in row.items()},
                flush=True,
            )


if __name__ == "__main__":
    main()
